// Raw netlink sockets. The binding only moves bytes: TypeScript encodes every
// request and decodes every reply (src/datapath/net/netlink.ts). Here we fill
// nlmsg_seq/nlmsg_pid, send, and collect the replies that belong to the request
// until NLMSG_DONE (dumps) or the ACK, turning NLMSG_ERROR into a thrown ENETLINK
// that carries the kernel's extended-ack message.
//
// A socket is bound to the namespace it was opened in (NetnsScope), so one socket
// serves one namespace for its whole life. Requests on one socket are serialised
// by a mutex: requestAsync runs on the libuv pool and must not interleave replies.
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"

namespace fw {
namespace {

constexpr size_t kRecvBufSize = 64 * 1024;  // dump chunks are at most 32 KiB
constexpr int kSockRcvBuf = 1 << 20;
constexpr int kRecvTimeoutSec = 30;  // a kernel always answers; this only bounds a bug

struct SocketState {
  std::mutex mu;  // held for a whole request: replies must not interleave
  std::atomic<int> fd{-1};
  std::atomic<bool> closing{false};
  uint32_t portid = 0;
  uint32_t seq = 0;
  std::string netns;
  std::vector<uint8_t> buf;
  // The last owner closes: the JS object, or a request still on the pool after the
  // object was garbage collected (so a finalizer never waits for the pool).
  ~SocketState() {
    if (fd >= 0) close(fd);
  }
  // Caller holds mu.
  void CloseLocked() {
    int old = fd.exchange(-1);
    if (old >= 0) close(old);
    buf = std::vector<uint8_t>();
  }
};

// Outcome of one request, built off the JS thread and turned into JS values after.
struct Outcome {
  int err = 0;
  std::string syscall;
  std::string what;
  std::string extack;
  std::vector<uint8_t> data;                        // reply messages back to back
  std::vector<std::pair<size_t, size_t>> messages;  // (offset, length) in data
};

std::string NsLabel(const std::string& netns) { return netns.empty() ? "(current)" : netns; }

void Fail(Outcome& out, int err, const char* syscall, std::string what) {
  out.err = err;
  out.syscall = syscall;
  out.what = std::move(what);
}

// The NLMSGERR_ATTR_MSG string among the TLVs that follow an error or DONE payload.
std::string ExtackMessage(const uint8_t* p, size_t len) {
  while (len >= NLA_HDRLEN) {
    nlattr a;
    memcpy(&a, p, sizeof(a));
    if (a.nla_len < NLA_HDRLEN || a.nla_len > len) break;
    if ((a.nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      std::string s(reinterpret_cast<const char*>(p + NLA_HDRLEN), a.nla_len - NLA_HDRLEN);
      while (!s.empty() && s.back() == '\0') s.pop_back();
      return s;
    }
    size_t step = NLA_ALIGN(a.nla_len);
    if (step >= len) break;
    p += step;
    len -= step;
  }
  return "";
}

// NLMSG_ERROR: struct nlmsgerr, then the request (only its header when capped),
// then the extended-ack TLVs when NLM_F_ACK_TLVS is set.
void ReadError(const nlmsghdr& h, const uint8_t* msg, Outcome& out, const std::string& req) {
  size_t payload = h.nlmsg_len - NLMSG_HDRLEN;
  if (payload < sizeof(nlmsgerr)) {
    Fail(out, EBADMSG, "recv", "truncated NLMSG_ERROR for " + req);
    return;
  }
  nlmsgerr e;
  memcpy(&e, msg + NLMSG_HDRLEN, sizeof(e));
  if (e.error == 0) return;
  std::string extack;
  if (h.nlmsg_flags & NLM_F_ACK_TLVS) {
    size_t off = NLMSG_HDRLEN + sizeof(int);
    off += (h.nlmsg_flags & NLM_F_CAPPED) ? NLMSG_HDRLEN : NLMSG_ALIGN(e.msg.nlmsg_len);
    if (off < h.nlmsg_len) extack = ExtackMessage(msg + off, h.nlmsg_len - off);
  }
  out.extack = extack;
  Fail(out, -e.error, "netlink", req + (extack.empty() ? "" : " (kernel: " + extack + ")"));
}

// NLMSG_DONE of a dump carries an int: negative when the dump itself failed.
void ReadDone(const nlmsghdr& h, const uint8_t* msg, Outcome& out, const std::string& req) {
  if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(int)) return;
  int status;
  memcpy(&status, msg + NLMSG_HDRLEN, sizeof(status));
  if (status >= 0) return;
  std::string extack;
  size_t off = NLMSG_HDRLEN + sizeof(int);
  if ((h.nlmsg_flags & NLM_F_ACK_TLVS) && off < h.nlmsg_len) {
    extack = ExtackMessage(msg + off, h.nlmsg_len - off);
  }
  out.extack = extack;
  Fail(out, -status, "netlink", req + " (dump)" + (extack.empty() ? "" : " (kernel: " + extack + ")"));
}

// Sends one request and collects its replies. Caller holds s.mu.
void DoRequest(SocketState& s, std::vector<uint8_t>& req, Outcome& out) {
  nlmsghdr h;
  memcpy(&h, req.data(), sizeof(h));
  std::string label = "netlink request type " + std::to_string(h.nlmsg_type) + " in netns " +
                      NsLabel(s.netns);
  if (s.fd < 0 || s.closing) return Fail(out, EBADF, "sendto", label + ": socket is closed");
  if (++s.seq == 0) s.seq = 1;
  h.nlmsg_seq = s.seq;
  h.nlmsg_pid = s.portid;
  memcpy(req.data(), &h, sizeof(h));
  const bool wantAck = h.nlmsg_flags & NLM_F_ACK;

  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(s.fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                  sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Fail(out, errno, "sendto", label);

  if (s.buf.size() < kRecvBufSize) s.buf.resize(kRecvBufSize);
  bool interrupted = false;
  for (bool done = false; !done;) {
    // MSG_TRUNC: netlink returns the full datagram length, so truncation is visible.
    ssize_t n = recv(s.fd, s.buf.data(), s.buf.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno == EAGAIN ? ETIMEDOUT : errno;
      return Fail(out, err, "recv", label + " (no complete answer)");
    }
    if (static_cast<size_t>(n) > s.buf.size()) {
      return Fail(out, EMSGSIZE, "recv", label + ": reply of " + std::to_string(n) + " bytes");
    }
    const uint8_t* p = s.buf.data();
    size_t left = static_cast<size_t>(n);
    bool sawReply = false;
    while (left >= NLMSG_HDRLEN) {
      nlmsghdr r;
      memcpy(&r, p, sizeof(r));
      if (r.nlmsg_len < NLMSG_HDRLEN || r.nlmsg_len > left) {
        return Fail(out, EBADMSG, "recv", label + ": malformed reply");
      }
      if (r.nlmsg_seq == h.nlmsg_seq) {  // anything else is a stale reply of an older request
        if (r.nlmsg_type == NLMSG_ERROR) {
          ReadError(r, p, out, label);
          done = true;
        } else if (r.nlmsg_type == NLMSG_DONE) {
          ReadDone(r, p, out, label);
          done = true;
        } else if (r.nlmsg_type == NLMSG_OVERRUN) {
          return Fail(out, ENOBUFS, "recv", label + ": overrun");
        } else if (r.nlmsg_type != NLMSG_NOOP) {
          if (r.nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
          out.messages.emplace_back(out.data.size(), r.nlmsg_len);
          out.data.insert(out.data.end(), p, p + r.nlmsg_len);
          if (!(r.nlmsg_flags & NLM_F_MULTI)) sawReply = true;
        }
      }
      size_t step = NLMSG_ALIGN(r.nlmsg_len);
      if (step >= left) break;
      p += step;
      left -= step;
    }
    // A single (non-multipart) reply ends the exchange unless an ACK was asked for.
    if (sawReply && !wantAck) done = true;
  }
  if (out.err == 0 && interrupted) {
    Fail(out, EINTR, "netlink", label + ": dump interrupted by a concurrent change, retry");
  }
}

Napi::Error MakeError(Napi::Env env, const Outcome& out) {
  try {
    if (out.err && !out.extack.empty()) {
      ThrowErrnoWith(env, "ENETLINK", out.what, out.err, out.syscall.c_str(),
                     {{"netlinkMessage", out.extack}});
    }
    ThrowErrno(env, "ENETLINK", out.what, out.err, out.syscall.c_str());
  } catch (const Napi::Error& e) {
    if (env.IsExceptionPending()) return env.GetAndClearPendingException();
    return e;
  }
}

Napi::Array RepliesToArray(Napi::Env env, const Outcome& out) {
  Napi::Array arr = Napi::Array::New(env, out.messages.size());
  for (size_t i = 0; i < out.messages.size(); i++) {
    const auto& m = out.messages[i];
    arr.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, out.data.data() + m.first, m.second));
  }
  return arr;
}

std::vector<uint8_t> RequestBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) ThrowArg(env, "message must be a Uint8Array");
  auto arr = info[0].As<Napi::TypedArray>();
  if (arr.TypedArrayType() != napi_uint8_array) ThrowArg(env, "message must be a Uint8Array");
  auto u8 = arr.As<Napi::Uint8Array>();
  size_t len = u8.ByteLength();
  if (len < NLMSG_HDRLEN) ThrowArg(env, "netlink message shorter than nlmsghdr");
  nlmsghdr h;
  memcpy(&h, u8.Data(), sizeof(h));
  if (h.nlmsg_len != len) {
    ThrowArg(env, "nlmsg_len " + std::to_string(h.nlmsg_len) + " != message length " + std::to_string(len));
  }
  return std::vector<uint8_t>(u8.Data(), u8.Data() + len);
}

class RequestWorker : public Napi::AsyncWorker {
 public:
  RequestWorker(Napi::Env env, std::shared_ptr<SocketState> state, std::vector<uint8_t> req)
      : Napi::AsyncWorker(env, "fairway:netlinkRequest"),
        deferred_(Napi::Promise::Deferred::New(env)),
        state_(std::move(state)),
        req_(std::move(req)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      DoRequest(*state_, req_, out_);
    }
    // close() found us busy: it left the fd to us (checked after unlocking, so a
    // close() between our request and our unlock is not missed).
    if (state_->closing) {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->CloseLocked();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (out_.err) {
      deferred_.Reject(MakeError(env, out_).Value());
    } else {
      deferred_.Resolve(RepliesToArray(env, out_));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<SocketState> state_;
  std::vector<uint8_t> req_;
  Outcome out_;
};

class NetlinkSocket : public Napi::ObjectWrap<NetlinkSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkSocket",
                       {
                           InstanceAccessor<&NetlinkSocket::Fd>("fd"),
                           InstanceMethod<&NetlinkSocket::Request>("request"),
                           InstanceMethod<&NetlinkSocket::RequestAsync>("requestAsync"),
                           InstanceMethod<&NetlinkSocket::Close>("close"),
                       });
  }

  // Constructed only by netlinkOpen: (fd, portid, netns).
  explicit NetlinkSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkSocket>(info) {
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString()) {
      ThrowArg(info.Env(), "NetlinkSocket is created by netlinkOpen()");
    }
    state_ = std::make_shared<SocketState>();
    state_->fd = info[0].As<Napi::Number>().Int32Value();
    state_->portid = info[1].As<Napi::Number>().Uint32Value();
    state_->netns = info[2].As<Napi::String>().Utf8Value();
  }

  // Garbage collected: dropping state_ closes the fd now, or when a request still
  // on the pool lets go of it.
  ~NetlinkSocket() override = default;

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_->closing ? -1 : state_->fd.load());
  }

  Napi::Value Request(const Napi::CallbackInfo& info) {
    std::vector<uint8_t> req = RequestBytes(info);
    Outcome out;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      DoRequest(*state_, req, out);
    }
    if (out.err) throw MakeError(info.Env(), out);
    return RepliesToArray(info.Env(), out);
  }

  Napi::Value RequestAsync(const Napi::CallbackInfo& info) {
    auto* worker = new RequestWorker(info.Env(), state_, RequestBytes(info));
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  // Never blocks the JS thread: closes now, or, when a request is on the pool,
  // lets that request close when it is done. Later requests fail with EBADF.
  // Idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    state_->closing = true;
    std::unique_lock<std::mutex> lock(state_->mu, std::try_to_lock);
    if (lock.owns_lock()) state_->CloseLocked();
    return info.Env().Undefined();
  }

  std::shared_ptr<SocketState> state_;
};

struct OpenedSocket {
  int fd;
  uint32_t portid;
};

OpenedSocket OpenSocket(Napi::Env env, int protocol, const std::string& netns) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  std::string where = "netlink socket in netns " + NsLabel(netns);
  if (fd < 0) ThrowErrno(env, "ENETLINK", "cannot open " + where, errno, "socket");
  auto fail = [&](const char* what, const char* syscall) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "ENETLINK", std::string(what) + " on " + where, err, syscall);
  };
  int one = 1;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) != 0) {
    fail("cannot enable NETLINK_EXT_ACK", "setsockopt");
  }
  if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) != 0) {
    fail("cannot enable NETLINK_GET_STRICT_CHK", "setsockopt");
  }
  // Errors then echo only the request header, not the whole request.
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  int rcvbuf = kSockRcvBuf;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  timeval tv{kRecvTimeoutSec, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_nl addr;
  memset(&addr, 0, sizeof(addr));
  addr.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) fail("cannot bind", "bind");
  socklen_t alen = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) {
    fail("cannot read port id", "getsockname");
  }
  return {fd, addr.nl_pid};
}

Napi::Value NetlinkOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowArg(env, "protocol must be a number");
  int protocol = info[0].As<Napi::Number>().Int32Value();
  std::string netns;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsString()) ThrowArg(env, "netns must be a path string");
    netns = info[1].As<Napi::String>().Utf8Value();
  }
  OpenedSocket s = WithNetns(env, netns, [&]() { return OpenSocket(env, protocol, netns); });
  try {
    return ctor->New({Napi::Number::New(env, s.fd), Napi::Number::New(env, s.portid),
                      Napi::String::New(env, netns)});
  } catch (...) {
    close(s.fd);
    throw;
  }
}

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) {
  // The constructor reference travels as the data of netlinkOpen, so the addon's
  // single instance-data slot stays free for the other files.
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(NetlinkSocket::Define(env)));
  env.AddCleanupHook([ctor]() { delete ctor; });
  exports.Set("netlinkOpen", Napi::Function::New(env, NetlinkOpen, "netlinkOpen", ctor));
}

}  // namespace fw
