// Error translation for the whole binding: every failure becomes a JS Error with
// code/errno/syscall/libbpf properties (see NativeErrorProps in binding.ts), and
// libbpf's own messages are captured instead of going to stderr.
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common.h"

namespace fw {

namespace {

// libbpf prints from the thread that called it; every libbpf call the binding
// makes runs on the JS thread, so thread-local buffers collect exactly the lines
// of the call in progress (Reset before, Take after). tLog holds everything;
// tWarn only warnings and info, the lines that say what went wrong (debug lines
// about relocations and map creation would drown them in err.message).
thread_local std::string tLog;
thread_local std::string tWarn;

// A long-lived process resets before each call, but a call that succeeds with
// many debug lines must not grow the buffer without bound: keep the tail.
constexpr size_t kMaxLog = 1 << 20;

// How many libbpf lines go into err.message (all of them stay in err.libbpf).
constexpr int kMessageLines = 8;

void Append(std::string& buf, const char* text, size_t len) {
  buf.append(text, len);
  if (buf.size() > kMaxLog) buf.erase(0, buf.size() - kMaxLog / 2);
}

int CapturePrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  char line[1024];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(line, sizeof(line), fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string big;
  const char* text = line;
  if (static_cast<size_t>(n) >= sizeof(line)) {
    // Rare: libbpf dumps long text (e.g. a whole verifier log) in one message.
    big.resize(n + 1);
    vsnprintf(big.data(), big.size(), fmt, args);
    text = big.data();
  }
  Append(tLog, text, n);
  if (level != LIBBPF_DEBUG) Append(tWarn, text, n);
  return 0;
}

// The last `count` non-empty lines of text, each on its own indented line.
std::string LastLines(const std::string& text, int count) {
  std::string out;
  size_t end = text.size();
  while (count > 0 && end > 0) {
    size_t nl = text.rfind('\n', end - 1);
    size_t start = nl == std::string::npos ? 0 : nl + 1;
    if (end > start) {
      out.insert(0, "\n  " + text.substr(start, end - start));
      count--;
    }
    if (nl == std::string::npos) break;
    end = nl;
  }
  return out;
}

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& what, int err,
                      const char* syscall, const std::string& detail = "") {
  std::string warnings;
  warnings.swap(tWarn);
  std::string libbpfLog = TakeLibbpfLog();
  std::string message = what;
  if (err != 0) message += ": " + std::string(strerror(err));
  message += LastLines(warnings, kMessageLines);
  if (!detail.empty()) message += "\n" + detail;
  Napi::Error e = Napi::Error::New(env, message);
  Napi::Object o = e.Value();
  o.Set("code", code);
  o.Set("errno", err);
  o.Set("syscall", syscall ? syscall : "");
  o.Set("libbpf", libbpfLog);
  return e;
}

}  // namespace

void InstallLibbpfPrint() {
  // Debug lines are captured too (they explain relocation failures); none of them
  // reach stderr, which belongs to the agent's structured logger.
  libbpf_set_print(CapturePrint);
}

void ResetLibbpfLog() {
  tLog.clear();
  tWarn.clear();
}

std::string TakeLibbpfLog() {
  std::string out;
  out.swap(tLog);
  tWarn.clear();
  return out;
}

void ThrowErrno(Napi::Env env, const char* code, const std::string& what, int err,
                const char* syscall) {
  throw MakeError(env, code, what, err, syscall);
}

void ThrowErrnoWith(Napi::Env env, const char* code, const std::string& what, int err,
                    const char* syscall,
                    std::initializer_list<std::pair<const char*, std::string>> extra) {
  ThrowErrnoDetail(env, code, what, err, syscall, "", extra);
}

void ThrowErrnoDetail(Napi::Env env, const char* code, const std::string& what, int err,
                      const char* syscall, const std::string& detail,
                      std::initializer_list<std::pair<const char*, std::string>> extra) {
  Napi::Error e = MakeError(env, code, what, err, syscall, detail);
  for (const auto& [key, value] : extra) e.Value().Set(key, value);
  throw e;
}

void ThrowArg(Napi::Env env, const std::string& message) {
  Napi::Error e = Napi::TypeError::New(env, message);
  e.Value().Set("code", "EINVAL_ARG");
  e.Value().Set("errno", 0);
  e.Value().Set("syscall", "");
  e.Value().Set("libbpf", "");
  throw e;
}

int64_t IntArg(Napi::Env env, const Napi::Value& v, const char* what, int64_t min, int64_t max) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    // The double comparison also rejects NaN; the cast is exact for integers in range.
    if (d >= static_cast<double>(min) && d <= static_cast<double>(max) && d == static_cast<int64_t>(d)) {
      return static_cast<int64_t>(d);
    }
  }
  ThrowArg(env, std::string(what) + " must be an integer in [" + std::to_string(min) + ", " +
                    std::to_string(max) + "]");
}

std::string StringArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) ThrowArg(env, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Uint8Array BytesArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArg(env, std::string(what) + " must be a Uint8Array or Buffer");
  }
  return v.As<Napi::Uint8Array>();
}

Napi::Value OptionArg(const Napi::Value& opts, const char* key) {
  if (!opts.IsObject()) return opts.Env().Undefined();
  return opts.As<Napi::Object>().Get(key);
}

static Napi::Value StrError(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) ThrowArg(info.Env(), "strerror(errno): errno must be a number");
  return Napi::String::New(info.Env(), strerror(info[0].As<Napi::Number>().Int32Value()));
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("strerror", Napi::Function::New(env, StrError, "strerror"));
}

}  // namespace fw
