// Ring-buffer consumer on the Node event loop. libbpf's ring_buffer exposes an
// epoll fd that turns readable when the kernel commits records; a uv_poll_t
// watches it, and each wake-up drains the ring with ring_buffer__consume (no
// extra thread, no blocking). The sample callback only memcpys a record into one
// reusable batch area; JavaScript gets one call per batch with a copy of it.
//
// Batch format (see RingBatch in src/datapath/bpf/ringbuf.ts): per record a u32
// length in native byte order, then the bytes; each record padded to 8 bytes.
#include <bpf/libbpf.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "common.h"

namespace fw {

namespace {

// Returned by the sample callback when the batch is full: libbpf then stores the
// consumer position (the record is consumed, we hold a copy) and returns it from
// ring_buffer__consume, which otherwise only returns counts.
constexpr int kBatchFull = -EFBIG;
constexpr uint32_t kDefaultMaxBatch = 8192;

}  // namespace

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {
                           InstanceMethod<&RingBuffer::Consume>("consume"),
                           InstanceMethod<&RingBuffer::Close>("close"),
                           InstanceAccessor<&RingBuffer::Delivered>("delivered"),
                       });
  }

  // Constructed by openRingBuffer only: (External token, mapFd, onBatch, maxBatch).
  explicit RingBuffer(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<RingBuffer>(info), async_(info.Env(), "fairway:ringbuf") {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsExternal()) {
      ThrowArg(env, "RingBuffer cannot be constructed directly; use openRingBuffer()");
    }
    int mapFd = info[1].As<Napi::Number>().Int32Value();
    maxBatch_ = info[3].As<Napi::Number>().Uint32Value();
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    area_.resize(64 * 1024);

    ResetLibbpfLog();
    rb_ = ring_buffer__new(mapFd, OnSample, this, nullptr);
    if (!rb_) {
      int err = errno;
      ThrowErrno(env, "ERINGBUF", "cannot open ring buffer on map fd " + std::to_string(mapFd), err,
                 "ring_buffer__new");
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int err = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    if (err == 0) err = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (err != 0) {
      // uv_poll_init may have registered the handle: close it through the loop.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);
      poll_ = nullptr;
      ring_buffer__free(rb_);
      rb_ = nullptr;
      ThrowErrno(env, "ERINGBUF", "cannot watch ring buffer of map fd " + std::to_string(mapFd), -err,
                 "uv_poll_start");
    }
    poll_->data = this;
    // While open, the JS object must not be collected (the loop still calls us);
    // close() drops this reference again.
    Ref();
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  }

  ~RingBuffer() override { Stop(false); }

 private:
  static void FreePoll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  // Copies one record; per event this is all the work there is.
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    size_t need = (4 + size + 7) & ~size_t{7};
    if (self->used_ + need > self->area_.size()) {
      self->area_.resize(std::max(self->area_.size() * 2, self->used_ + need));
    }
    uint8_t* at = self->area_.data() + self->used_;
    uint32_t len = static_cast<uint32_t>(size);
    memcpy(at, &len, 4);
    memcpy(at + 4, data, size);
    // Zero the padding so that batches never carry stale bytes of older records.
    memset(at + 4 + size, 0, need - 4 - size);
    self->used_ += need;
    return ++self->count_ >= self->maxBatch_ ? kBatchFull : 0;
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<RingBuffer*>(h->data);
    if (!self || !self->rb_) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      self->Drain(env);
    } catch (const Napi::Error& e) {
      // No JS frame to return to: report like any exception thrown by a callback.
      napi_fatal_exception(env, e.Value());
    }
  }

  static void OnEnvCleanup(void* arg) { static_cast<RingBuffer*>(arg)->Stop(true); }

  // Drains until the ring is empty, one JS call per batch. Returns records delivered.
  // Safe against onBatch calling close() or consume(): JS only runs between two
  // ring_buffer__consume calls, never inside one.
  double Drain(Napi::Env env) {
    double delivered = 0;
    while (rb_) {
      int ret = ring_buffer__consume(rb_);
      if (ret < 0 && ret != kBatchFull) {
        ResetLibbpfLog();
        ThrowErrno(env, "ERINGBUF", "cannot consume ring buffer", -ret, "ring_buffer__consume");
      }
      if (count_ == 0) break;
      delivered += count_;
      Flush(env);
      if (ret != kBatchFull) break;
    }
    return delivered;
  }

  // Hands the batch to JS as a fresh Buffer: JS may keep it, and the area is
  // reused by the next drain (possibly a nested one started from onBatch).
  void Flush(Napi::Env env) {
    Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::Copy(env, area_.data(), used_);
    uint32_t count = count_;
    used_ = 0;
    count_ = 0;
    delivered_ += count;
    // napi_make_callback needs an object as receiver; `this` is the ring buffer.
    callback_.MakeCallback(Value(), {batch, Napi::Number::New(env, count)}, async_);
  }

  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!rb_) return Napi::Number::New(env, 0);
    return Napi::Number::New(env, Drain(env));
  }

  void Close(const Napi::CallbackInfo& info) { Stop(false); }

  // Idempotent. From the env cleanup hook the hook must not remove itself and the
  // loop may not run again, so the uv_poll_t memory is then left to process exit.
  void Stop(bool fromCleanupHook) {
    if (!rb_) return;
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);
    poll_ = nullptr;
    ring_buffer__free(rb_);
    rb_ = nullptr;
    if (!fromCleanupHook) {
      napi_remove_env_cleanup_hook(Env(), OnEnvCleanup, this);
      Unref();
    }
  }

  Napi::Value Delivered(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), delivered_); }

  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::AsyncContext async_;
  std::vector<uint8_t> area_;
  size_t used_ = 0;
  uint32_t count_ = 0;
  uint32_t maxBatch_ = kDefaultMaxBatch;
  double delivered_ = 0;
};

static Napi::Value OpenRingBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int mapFd = IntArg(env, info[0], "openRingBuffer: mapFd", 0, INT_MAX);
  if (!info[1].IsFunction()) ThrowArg(env, "openRingBuffer: onBatch must be a function");
  Napi::Value maxOpt = OptionArg(info[2], "maxBatch");
  uint32_t maxBatch =
      maxOpt.IsUndefined() ? kDefaultMaxBatch : IntArg(env, maxOpt, "openRingBuffer: maxBatch", 1, 1 << 24);
  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  return ctor->New({Napi::External<void>::New(env, nullptr), Napi::Number::New(env, mapFd), info[1],
                    Napi::Number::New(env, maxBatch)});
}

void InitRingbuf(Napi::Env env, Napi::Object exports) {
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(RingBuffer::Define(env)));
  env.AddCleanupHook([ctor]() { delete ctor; });
  exports.Set("openRingBuffer", Napi::Function::New(env, OpenRingBuffer, "openRingBuffer", ctor));
}

}  // namespace fw
