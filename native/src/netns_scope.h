// WithNetns: run a piece of code with the calling thread inside another network
// namespace. setns(2) changes only the calling thread, so the switch is undone
// before returning (also when fn throws). Netlink and tc sockets opened inside fn
// stay bound to the target namespace after the switch back.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace fw {

class NetnsScope {
 public:
  // Enters nsPath (no-op when empty). On failure: ok() is false and err() the errno,
  // and the thread stays where it was.
  explicit NetnsScope(const std::string& nsPath) {
    if (nsPath.empty()) return;
    self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self_ < 0) { err_ = errno; return; }
    int target = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) { err_ = errno; close(self_); self_ = -1; return; }
    if (setns(target, CLONE_NEWNET) != 0) { err_ = errno; close(target); close(self_); self_ = -1; return; }
    close(target);
  }
  ~NetnsScope() {
    if (self_ >= 0) {
      // Returning to our own namespace cannot fail unless the fd is broken; if it
      // does, the thread would be stranded, which is a bug worth crashing on.
      if (setns(self_, CLONE_NEWNET) != 0) abort();
      close(self_);
    }
  }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;
  bool ok() const { return err_ == 0; }
  int err() const { return err_; }

 private:
  int self_ = -1;
  int err_ = 0;
};

template <typename Fn>
auto WithNetns(Napi::Env env, const std::string& nsPath, Fn&& fn) -> decltype(fn()) {
  NetnsScope scope(nsPath);
  if (!scope.ok()) {
    ThrowErrno(env, "ENETNS", "cannot enter network namespace " + nsPath, scope.err(), "setns");
  }
  return fn();
}

}  // namespace fw
