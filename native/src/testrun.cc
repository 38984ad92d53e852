// BPF_PROG_TEST_RUN: runs a loaded program on a given packet/context in the
// kernel. progTestRunAsync does the same on the libuv thread pool so the loop
// keeps running (e.g. to drain a ring buffer the program writes to).
#include <bpf/bpf.h>

#include <cerrno>
#include <climits>
#include <vector>

#include "common.h"

namespace fw {

namespace {

// A test run with its own copies of the input and room for the output, so it can
// run on another thread while JS reuses or frees the buffers it passed.
struct TestRun {
  int progFd = -1;
  std::vector<uint8_t> dataIn, dataOut, ctxIn, ctxOut;
  bool hasData = false, hasCtx = false;
  uint32_t repeat = 0, flags = 0, cpu = 0;
  // Results.
  int err = 0;
  uint32_t retval = 0, duration = 0, dataSizeOut = 0, ctxSizeOut = 0;

  void Run() {
    bpf_test_run_opts o{};
    o.sz = sizeof(o);
    if (hasData) {
      o.data_in = dataIn.data();
      o.data_size_in = dataIn.size();
    }
    if (!dataOut.empty()) {
      o.data_out = dataOut.data();
      o.data_size_out = dataOut.size();
    }
    if (hasCtx) {
      o.ctx_in = ctxIn.data();
      o.ctx_size_in = ctxIn.size();
    }
    if (!ctxOut.empty()) {
      o.ctx_out = ctxOut.data();
      o.ctx_size_out = ctxOut.size();
    }
    o.repeat = repeat;
    o.flags = flags;
    o.cpu = cpu;
    err = bpf_prog_test_run_opts(progFd, &o) == 0 ? 0 : errno;
    retval = o.retval;
    duration = o.duration;
    // The kernel reports the full output size even when it did not fit (ENOSPC).
    dataSizeOut = o.data_size_out;
    ctxSizeOut = o.ctx_size_out;
  }
};

TestRun Parse(Napi::Env env, const Napi::CallbackInfo& info, const char* fn) {
  TestRun r;
  r.progFd = IntArg(env, info[0], fn, 0, INT_MAX);
  Napi::Value opts = info[1];
  Napi::Value data = OptionArg(opts, "data");
  Napi::Value ctx = OptionArg(opts, "ctx");
  Napi::Value v;
  if (!data.IsUndefined()) {
    Napi::Uint8Array bytes = BytesArg(env, data, "progTestRun: data");
    r.dataIn.assign(bytes.Data(), bytes.Data() + bytes.ByteLength());
    r.hasData = true;
  }
  v = OptionArg(opts, "dataOutSize");
  size_t defaultOut = r.hasData ? r.dataIn.size() + 256 : 0;
  r.dataOut.resize(v.IsUndefined() ? defaultOut : IntArg(env, v, "progTestRun: dataOutSize", 0, INT_MAX));
  if (!ctx.IsUndefined()) {
    Napi::Uint8Array bytes = BytesArg(env, ctx, "progTestRun: ctx");
    r.ctxIn.assign(bytes.Data(), bytes.Data() + bytes.ByteLength());
    r.hasCtx = true;
  }
  v = OptionArg(opts, "ctxOutSize");
  r.ctxOut.resize(v.IsUndefined() ? r.ctxIn.size() : IntArg(env, v, "progTestRun: ctxOutSize", 0, INT_MAX));
  v = OptionArg(opts, "repeat");
  if (!v.IsUndefined()) r.repeat = IntArg(env, v, "progTestRun: repeat", 0, UINT32_MAX);
  v = OptionArg(opts, "flags");
  if (!v.IsUndefined()) r.flags = IntArg(env, v, "progTestRun: flags", 0, UINT32_MAX);
  v = OptionArg(opts, "cpu");
  if (!v.IsUndefined()) r.cpu = IntArg(env, v, "progTestRun: cpu", 0, UINT32_MAX);
  return r;
}

// The JS result, or throws ETESTRUN.
Napi::Object Result(Napi::Env env, const TestRun& r) {
  if (r.err) {
    std::string what = "test run of program fd " + std::to_string(r.progFd) + " failed";
    if (r.err == ENOSPC) {
      what += " (output is " + std::to_string(r.dataSizeOut) + " bytes, dataOutSize was " +
              std::to_string(r.dataOut.size()) + ")";
    }
    ResetLibbpfLog();
    ThrowErrno(env, "ETESTRUN", what, r.err, "bpf_prog_test_run_opts");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("retval", r.retval);
  o.Set("duration", r.duration);
  size_t dataLen = std::min<size_t>(r.dataSizeOut, r.dataOut.size());
  o.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, r.dataOut.data(), dataLen));
  if (r.ctxOut.empty()) {
    o.Set("ctxOut", env.Null());
  } else {
    size_t ctxLen = std::min<size_t>(r.ctxSizeOut, r.ctxOut.size());
    o.Set("ctxOut", Napi::Buffer<uint8_t>::Copy(env, r.ctxOut.data(), ctxLen));
  }
  return o;
}

Napi::Value ProgTestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TestRun r = Parse(env, info, "progTestRun: progFd");
  r.Run();
  return Result(env, r);
}

class TestRunWorker : public Napi::AsyncWorker {
 public:
  TestRunWorker(Napi::Env env, TestRun run)
      : Napi::AsyncWorker(env, "fairway:testrun"), run_(std::move(run)), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { run_.Run(); }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env, run_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

 private:
  TestRun run_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value ProgTestRunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* worker = new TestRunWorker(env, Parse(env, info, "progTestRunAsync: progFd"));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return promise;
}

}  // namespace

void InitTestRun(Napi::Env env, Napi::Object exports) {
  exports.Set("progTestRun", Napi::Function::New(env, ProgTestRun, "progTestRun"));
  exports.Set("progTestRunAsync", Napi::Function::New(env, ProgTestRunAsync, "progTestRunAsync"));
}

}  // namespace fw
