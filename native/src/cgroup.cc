// cgroup attachment through BPF links: the program stays attached while the link
// fd (or its pin) lives, and bpf_link_detach removes it without needing the
// program fd, which is what the agent has after a restart (objGet of the pin).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "common.h"

namespace fw {

namespace {

struct AttachTypeName {
  const char* name;
  bpf_attach_type type;
};

// The CgroupAttachType strings of binding.ts.
constexpr AttachTypeName kAttachTypes[] = {
    {"connect4", BPF_CGROUP_INET4_CONNECT},         {"connect6", BPF_CGROUP_INET6_CONNECT},
    {"sendmsg4", BPF_CGROUP_UDP4_SENDMSG},          {"sendmsg6", BPF_CGROUP_UDP6_SENDMSG},
    {"recvmsg4", BPF_CGROUP_UDP4_RECVMSG},          {"recvmsg6", BPF_CGROUP_UDP6_RECVMSG},
    {"getpeername4", BPF_CGROUP_INET4_GETPEERNAME}, {"getpeername6", BPF_CGROUP_INET6_GETPEERNAME},
    {"getsockname4", BPF_CGROUP_INET4_GETSOCKNAME}, {"getsockname6", BPF_CGROUP_INET6_GETSOCKNAME},
    {"sock_create", BPF_CGROUP_INET_SOCK_CREATE},   {"sock_release", BPF_CGROUP_INET_SOCK_RELEASE},
    {"ingress", BPF_CGROUP_INET_INGRESS},           {"egress", BPF_CGROUP_INET_EGRESS},
};

bpf_attach_type ParseAttachType(Napi::Env env, const std::string& name) {
  for (const auto& t : kAttachTypes) {
    if (name == t.name) return t.type;
  }
  ThrowArg(env, "cgroupAttach: unknown attach type \"" + name + "\"");
}

// Owns an fd for the span of one call.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
  int release() {
    int out = fd;
    fd = -1;
    return out;
  }
};

Napi::Value CgroupAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(env, info[0], "cgroupAttach: cgroupPath");
  int progFd = IntArg(env, info[1], "cgroupAttach: progFd", 0, INT_MAX);
  std::string typeName = StringArg(env, info[2], "cgroupAttach: type");
  bpf_attach_type type = ParseAttachType(env, typeName);
  bool noPin = info[3].IsUndefined() || info[3].IsNull();
  std::string pinPath = noPin ? "" : StringArg(env, info[3], "cgroupAttach: pinPath");
  ResetLibbpfLog();

  FdGuard cg{open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (cg.fd < 0) {
    int err = errno;
    ThrowErrno(env, "ECGROUP", "cannot open cgroup " + path, err, "open");
  }
  // libbpf 1.x returns -errno from the bpf.h helpers.
  FdGuard link{bpf_link_create(progFd, cg.fd, type, nullptr)};
  if (link.fd < 0) {
    ThrowErrno(env, "ECGROUP",
               "cannot attach program fd " + std::to_string(progFd) + " as " + typeName + " to cgroup " + path,
               -link.fd, "bpf_link_create");
  }
  int err = pinPath.empty() ? 0 : bpf_obj_pin(link.fd, pinPath.c_str());
  if (err) {
    // Closing the unpinned link fd (FdGuard) detaches the program again.
    ThrowErrno(env, "ECGROUP", "cannot pin " + typeName + " link of cgroup " + path + " at " + pinPath, -err,
               "bpf_obj_pin");
  }
  return Napi::Number::New(env, link.release());
}

// Detaches but does not close: the caller owns the fd (closeFd), and a pinned
// link stays in bpffs, defunct, until the caller unlinks the pin.
void LinkDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(env, info[0], "linkDetach: linkFd", 0, INT_MAX);
  ResetLibbpfLog();
  int err = bpf_link_detach(fd);
  if (err) ThrowErrno(env, "ECGROUP", "cannot detach BPF link fd " + std::to_string(fd), -err, "bpf_link_detach");
}

// Swaps the program behind a link in one step (BPF_LINK_UPDATE): the hook is
// never without a program, which is how a restarted agent replaces its
// socket LB without a moment of untranslated connect()s.
void LinkUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(env, info[0], "linkUpdate: linkFd", 0, INT_MAX);
  int progFd = IntArg(env, info[1], "linkUpdate: progFd", 0, INT_MAX);
  ResetLibbpfLog();
  int err = bpf_link_update(fd, progFd, nullptr);
  if (err) ThrowErrno(env, "ECGROUP", "cannot update BPF link fd " + std::to_string(fd), -err, "bpf_link_update");
}

}  // namespace

void InitCgroup(Napi::Env env, Napi::Object exports) {
  exports.Set("cgroupAttach", Napi::Function::New(env, CgroupAttach, "cgroupAttach"));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach, "linkDetach"));
  exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate, "linkUpdate"));
}

}  // namespace fw
