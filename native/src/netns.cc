// Network namespaces: create/delete persistent namespaces the way iproute2 does
// (`ip netns add|del`, so `ip netns list|exec` see ours), open them, resolve
// interface names inside them, and read/write their net.* sysctls.
//
// The main (JS) thread never changes namespace: creation unshares on a fresh
// std::thread that exits afterwards, everything else uses NetnsScope, which
// switches the calling thread and switches it back.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common.h"

namespace fw {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string NsLabel(const std::string& netns) { return netns.empty() ? "(current)" : netns; }

// Directories already turned into shared mount points by this process. Making a
// directory shared walks its whole mount subtree (MS_REC), so it is done once.
std::mutex gSharedMu;
std::set<std::string> gSharedDirs;

// A failure of the namespace creation, built off the JS thread.
struct Failure {
  int err = 0;
  const char* syscall = "";
  std::string what;
};

// What iproute2's netns_add does for NETNS_RUN_DIR: the directory must be a mount
// point with shared propagation, so that unmounting a namespace file in one mount
// namespace unmounts it everywhere and the namespace can be freed. If it is not a
// mount point yet (EINVAL), bind-mount it onto itself first.
Failure EnsureSharedDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(gSharedMu);
  if (gSharedDirs.count(dir)) return {};
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return {errno, "mkdir", "cannot create netns directory " + dir};
  }
  bool madeMount = false;
  while (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || madeMount) return {errno, "mount", "cannot make " + dir + " a shared mount"};
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
      return {errno, "mount", "cannot bind-mount " + dir + " onto itself"};
    }
    madeMount = true;
  }
  gSharedDirs.insert(dir);
  return {};
}

// The namespace is made on a thread of its own, which exits right after: the
// namespace then lives exactly as long as the bind mount.
Failure CreateNetns(const std::string& path) {
  Failure f = EnsureSharedDir(DirName(path));
  if (f.err) return f;
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return {errno, "open", "cannot create netns file " + path};
  close(fd);
  std::thread t([&f, &path]() {
    if (unshare(CLONE_NEWNET) != 0) {
      f = {errno, "unshare", ""};
    } else if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      f = {errno, "mount", ""};
    }
  });
  t.join();
  if (f.err) {
    unlink(path.c_str());
    f.what = "cannot create network namespace " + path;
  }
  return f;
}

class CreateWorker : public Napi::AsyncWorker {
 public:
  CreateWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "fairway:netnsCreate"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { failure_ = CreateNetns(path_); }
  void OnOK() override {
    if (!failure_.err) {
      deferred_.Resolve(Env().Undefined());
      return;
    }
    try {
      ThrowErrno(Env(), "ENETNS", failure_.what, failure_.err, failure_.syscall);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  Failure failure_;
};

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString()) {
    ThrowArg(info.Env(), std::string(name) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

std::string OptNetns(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return "";
  if (!info[i].IsString()) ThrowArg(info.Env(), "netns must be a path string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::string RequirePath(const Napi::CallbackInfo& info, size_t i) {
  std::string path = ArgString(info, i, "path");
  if (path.empty() || path[0] != '/') ThrowArg(info.Env(), "netns path must be absolute: " + path);
  return path;
}

Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  Failure f = CreateNetns(RequirePath(info, 0));
  if (f.err) ThrowErrno(info.Env(), "ENETNS", f.what, f.err, f.syscall);
  return info.Env().Undefined();
}

// The same on the libuv pool: namespace setup in the kernel takes ~0.5 ms, and
// several can run at once.
Napi::Value NetnsCreateAsync(const Napi::CallbackInfo& info) {
  auto* worker = new CreateWorker(info.Env(), RequirePath(info, 0));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value NetnsDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = RequirePath(info, 0);
  // EINVAL: the file is there but not mounted (a half-created namespace); still remove it.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    ThrowErrno(env, "ENETNS", "cannot unmount network namespace " + path, errno, "umount2");
  }
  if (unlink(path.c_str()) != 0) {
    ThrowErrno(env, "ENETNS", "cannot remove network namespace file " + path, errno, "unlink");
  }
  return env.Undefined();
}

Napi::Value NetnsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = RequirePath(info, 0);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, "ENETNS", "cannot open network namespace " + path, errno, "open");
  return Napi::Number::New(env, fd);
}

// if_nametoindex(3) hides the errno; the ioctl keeps ENODEV apart from real failures.
Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
  std::string netns = OptNetns(info, 1);
  if (name.empty() || name.size() >= IFNAMSIZ) {
    ThrowArg(env, "interface name must be 1-15 characters: \"" + name + "\"");
  }
  int index = WithNetns(env, netns, [&]() {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) ThrowErrno(env, "ENETNS", "socket in netns " + NsLabel(netns), errno, "socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name.data(), name.size());
    int rc = ioctl(s, SIOCGIFINDEX, &ifr);
    int err = errno;
    close(s);
    if (rc == 0) return ifr.ifr_ifindex;
    if (err == ENODEV) return 0;
    ThrowErrno(env, "ENETNS", "cannot resolve interface " + name + " in netns " + NsLabel(netns),
               err, "ioctl(SIOCGIFINDEX)");
  });
  return Napi::Number::New(env, index);
}

// Only per-namespace sysctls (net.*) make sense here; refuse anything else.
std::string SysctlPath(Napi::Env env, const std::string& key) {
  std::string path = key[0] == '/' ? key : "/proc/sys/" + key;
  if (path.rfind("/proc/sys/net/", 0) != 0 || path.find("/..") != std::string::npos) {
    ThrowArg(env, "sysctl path must be under /proc/sys/net/: " + key);
  }
  return path;
}

// /proc/sys/net resolves against the namespace of the task that opens the file,
// so opening inside NetnsScope is enough (no /proc or /sys remount needed).
Napi::Value SysctlWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns = OptNetns(info, 0);
  std::string path = SysctlPath(env, ArgString(info, 1, "path"));
  std::string value = ArgString(info, 2, "value");
  WithNetns(env, netns, [&]() {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      ThrowErrno(env, "ESYSCTL", "cannot open " + path + " in netns " + NsLabel(netns), errno, "open");
    }
    ssize_t n = write(fd, value.data(), value.size());
    int err = errno;
    close(fd);
    if (n < 0 || static_cast<size_t>(n) != value.size()) {
      ThrowErrno(env, "ESYSCTL",
                 "cannot write \"" + value + "\" to " + path + " in netns " + NsLabel(netns),
                 n < 0 ? err : EIO, "write");
    }
  });
  return env.Undefined();
}

Napi::Value SysctlRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string netns = OptNetns(info, 0);
  std::string path = SysctlPath(env, ArgString(info, 1, "path"));
  std::string out = WithNetns(env, netns, [&]() {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      ThrowErrno(env, "ESYSCTL", "cannot open " + path + " in netns " + NsLabel(netns), errno, "open");
    }
    std::string data;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        close(fd);
        ThrowErrno(env, "ESYSCTL", "cannot read " + path + " in netns " + NsLabel(netns), err, "read");
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return data;
  });
  return Napi::String::New(env, out);
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate, "netnsCreate"));
  exports.Set("netnsCreateAsync", Napi::Function::New(env, NetnsCreateAsync, "netnsCreateAsync"));
  exports.Set("netnsDelete", Napi::Function::New(env, NetnsDelete, "netnsDelete"));
  exports.Set("netnsOpen", Napi::Function::New(env, NetnsOpen, "netnsOpen"));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex, "ifNameToIndex"));
  exports.Set("sysctlWrite", Napi::Function::New(env, SysctlWrite, "sysctlWrite"));
  exports.Set("sysctlRead", Napi::Function::New(env, SysctlRead, "sysctlRead"));
}

}  // namespace fw
