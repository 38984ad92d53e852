// tc (clsact) attach/detach/query with libbpf's netlink helpers, run inside the
// target network namespace: libbpf opens a fresh netlink socket per call, so the
// socket, and the interface-name lookup, belong to the namespace we switched to.
#include <bpf/libbpf.h>
#include <net/if.h>

#include <cerrno>
#include <cstdint>

#include "common.h"

namespace fw {

namespace {

struct TcTarget {
  std::string ifname;
  int ifindex = 0;
  std::string netns;
  bpf_tc_attach_point point = BPF_TC_INGRESS;

  // `interface "eth0" in network namespace /run/netns/x`, for messages.
  std::string Describe(int resolved) const {
    std::string dev = ifname.empty() ? "ifindex " + std::to_string(resolved)
                                     : "interface \"" + ifname + "\" (ifindex " + std::to_string(resolved) + ")";
    return dev + " in network namespace " + NetnsName();
  }
  std::string NetnsName() const { return netns.empty() ? "current" : netns; }
};

TcTarget ParseTarget(Napi::Env env, const Napi::Value& opts, const char* op, bool needDirection) {
  if (!opts.IsObject()) ThrowArg(env, std::string(op) + ": options object required");
  TcTarget t;
  Napi::Value ifname = OptionArg(opts, "ifname");
  Napi::Value ifindex = OptionArg(opts, "ifindex");
  Napi::Value netns = OptionArg(opts, "netns");
  if (!ifname.IsUndefined()) t.ifname = StringArg(env, ifname, "tc: ifname");
  if (!ifindex.IsUndefined()) t.ifindex = IntArg(env, ifindex, "tc: ifindex", 1, INT32_MAX);
  if (t.ifname.empty() && t.ifindex == 0) ThrowArg(env, std::string(op) + ": ifname or ifindex required");
  if (!netns.IsUndefined()) t.netns = StringArg(env, netns, "tc: netns");
  if (needDirection) {
    std::string dir = StringArg(env, OptionArg(opts, "direction"), "tc: direction");
    if (dir == "ingress") t.point = BPF_TC_INGRESS;
    else if (dir == "egress") t.point = BPF_TC_EGRESS;
    else ThrowArg(env, std::string(op) + ": direction must be \"ingress\" or \"egress\", got \"" + dir + "\"");
  }
  return t;
}

// Must run inside the target namespace: ifindexes are per namespace.
int ResolveIfindex(Napi::Env env, const TcTarget& t) {
  if (t.ifname.empty()) return t.ifindex;
  unsigned idx = if_nametoindex(t.ifname.c_str());
  if (idx == 0) {
    int err = errno;
    ThrowErrno(env, "ETC", "interface \"" + t.ifname + "\" not found in network namespace " + t.NetnsName(), err,
               "if_nametoindex");
  }
  return static_cast<int>(idx);
}

bpf_tc_hook Hook(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

bpf_tc_opts FilterOpts(uint32_t priority, uint32_t handle) {
  bpf_tc_opts o{};
  o.sz = sizeof(o);
  o.priority = priority;
  o.handle = handle;
  return o;
}

uint32_t PriorityArg(Napi::Env env, const Napi::Value& opts, bool optional) {
  Napi::Value v = OptionArg(opts, "priority");
  if (optional && v.IsUndefined()) return 1;
  return IntArg(env, v, "tc: priority", 1, UINT16_MAX);
}

uint32_t HandleArg(Napi::Env env, const Napi::Value& opts, bool optional) {
  Napi::Value v = OptionArg(opts, "handle");
  if (optional && v.IsUndefined()) return 1;
  return IntArg(env, v, "tc: handle", 1, UINT32_MAX);
}

const char* DirectionName(bpf_tc_attach_point point) { return point == BPF_TC_INGRESS ? "ingress" : "egress"; }

Napi::Value TcAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(env, info[0], "tcAttach", true);
  int progFd = IntArg(env, OptionArg(info[0], "progFd"), "tcAttach: progFd", 0, INT32_MAX);
  bpf_tc_opts o = FilterOpts(PriorityArg(env, info[0], true), HandleArg(env, info[0], true));
  o.prog_fd = progFd;
  o.flags = OptionArg(info[0], "replace").ToBoolean() ? BPF_TC_F_REPLACE : 0;

  ResetLibbpfLog();
  return WithNetns(env, t.netns, [&]() -> Napi::Value {
    int ifindex = ResolveIfindex(env, t);
    bpf_tc_hook hook = Hook(ifindex, t.point);
    // -EEXIST: the clsact qdisc is already there and belongs to someone else.
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST) {
      ThrowErrno(env, "ETC", "cannot create clsact qdisc on " + t.Describe(ifindex), -err, "bpf_tc_hook_create");
    }
    bool hookCreated = err == 0;
    err = bpf_tc_attach(&hook, &o);
    if (err) {
      if (hookCreated) {
        // Release only what we created: the qdisc we just added would otherwise stay.
        bpf_tc_hook all = Hook(ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
        bpf_tc_hook_destroy(&all);
      }
      ThrowErrno(env, "ETC",
                 std::string("cannot attach tc program to ") + DirectionName(t.point) + " of " + t.Describe(ifindex),
                 -err, "bpf_tc_attach");
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("ifindex", ifindex);
    out.Set("priority", o.priority);
    out.Set("handle", o.handle);
    out.Set("progId", o.prog_id);
    out.Set("hookCreated", hookCreated);
    return out;
  });
}

void TcDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(env, info[0], "tcDetach", true);
  bpf_tc_opts o = FilterOpts(PriorityArg(env, info[0], false), HandleArg(env, info[0], false));
  ResetLibbpfLog();
  WithNetns(env, t.netns, [&]() {
    int ifindex = ResolveIfindex(env, t);
    bpf_tc_hook hook = Hook(ifindex, t.point);
    int err = bpf_tc_detach(&hook, &o);
    // Without the clsact qdisc the kernel says EINVAL ("Parent Qdisc doesn't
    // exists"); for the caller that is the same as a missing filter, and cleanup
    // code relies on ENOENT meaning "already gone". The kernel's words stay in the
    // message through the libbpf line.
    if (err == -EINVAL) err = -ENOENT;
    if (err) {
      std::string filter = "priority " + std::to_string(o.priority) + " handle " + std::to_string(o.handle);
      ThrowErrno(env, "ETC",
                 "cannot detach tc filter " + filter + " from " + DirectionName(t.point) + " of " + t.Describe(ifindex),
                 -err, "bpf_tc_detach");
    }
  });
}

Napi::Value TcQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(env, info[0], "tcQuery", true);
  bpf_tc_opts o = FilterOpts(PriorityArg(env, info[0], false), HandleArg(env, info[0], false));
  ResetLibbpfLog();
  return WithNetns(env, t.netns, [&]() -> Napi::Value {
    int ifindex = ResolveIfindex(env, t);
    bpf_tc_hook hook = Hook(ifindex, t.point);
    int err = bpf_tc_query(&hook, &o);
    // RTM_GETTFILTER says ENOENT for a missing handle, but EINVAL when the whole
    // priority (its "filter chain") or the clsact qdisc is gone. Our arguments are
    // checked and the interface resolved, so EINVAL here means "none" too.
    if (err == -ENOENT || err == -EINVAL) return env.Null();
    if (err) {
      ThrowErrno(env, "ETC",
                 std::string("cannot query tc filters on ") + DirectionName(t.point) + " of " + t.Describe(ifindex),
                 -err, "bpf_tc_query");
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("progId", o.prog_id);
    out.Set("priority", o.priority);
    out.Set("handle", o.handle);
    return out;
  });
}

void TcHookDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcTarget t = ParseTarget(env, info[0], "tcHookDestroy", false);
  ResetLibbpfLog();
  WithNetns(env, t.netns, [&]() {
    int ifindex = ResolveIfindex(env, t);
    // Both points together is libbpf's way to say "delete the clsact qdisc".
    bpf_tc_hook hook = Hook(ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    int err = bpf_tc_hook_destroy(&hook);
    if (err) {
      ThrowErrno(env, "ETC", "cannot remove clsact qdisc from " + t.Describe(ifindex), -err, "bpf_tc_hook_destroy");
    }
  });
}

}  // namespace

void InitTc(Napi::Env env, Napi::Object exports) {
  exports.Set("tcAttach", Napi::Function::New(env, TcAttach, "tcAttach"));
  exports.Set("tcDetach", Napi::Function::New(env, TcDetach, "tcDetach"));
  exports.Set("tcQuery", Napi::Function::New(env, TcQuery, "tcQuery"));
  exports.Set("tcHookDestroy", Napi::Function::New(env, TcHookDestroy, "tcHookDestroy"));
}

}  // namespace fw
