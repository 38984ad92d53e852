// Shared helpers of the Fairway native binding: error translation and argument
// checking. Every function the binding exports throws a JS Error built here, so
// errors look the same to TypeScript whichever file raised them.
#pragma once

#include <napi.h>

#include <string>

namespace fw {

// Throws a JS Error carrying:
//   code    stable Fairway code, e.g. "EBPF_LOAD", "ENETNS", "ENETLINK"
//   errno   the positive errno value (0 when there is none)
//   syscall the operation that failed, e.g. "bpf_object__load"
//   libbpf  the libbpf log lines captured during the failing call (may be empty)
// The message is "<what>: <strerror(errno)>" plus the libbpf lines, if any.
[[noreturn]] void ThrowErrno(Napi::Env env, const char* code, const std::string& what, int err,
                             const char* syscall);

// Same, with extra string properties set on the error (e.g. verifierLog, netlinkMessage).
[[noreturn]] void ThrowErrnoWith(Napi::Env env, const char* code, const std::string& what, int err,
                                 const char* syscall,
                                 std::initializer_list<std::pair<const char*, std::string>> extra);

// Same as ThrowErrnoWith, with `detail` (e.g. the tail of a verifier log) appended to
// the message after the libbpf lines, so that err.message and err.stack show it.
[[noreturn]] void ThrowErrnoDetail(Napi::Env env, const char* code, const std::string& what, int err,
                                   const char* syscall, const std::string& detail,
                                   std::initializer_list<std::pair<const char*, std::string>> extra);

// Throws a TypeError-like error with code "EINVAL_ARG" naming the bad argument.
[[noreturn]] void ThrowArg(Napi::Env env, const std::string& message);

// Argument readers (defined in errors.cc): each checks one argument or option and
// throws EINVAL_ARG "<what> must be ..." when it has the wrong type or range.
// `what` names it for the message, e.g. "mapUpdate: key". No allocation unless
// they throw, so they are fine on the map fast path.
int64_t IntArg(Napi::Env env, const Napi::Value& v, const char* what, int64_t min, int64_t max);
std::string StringArg(Napi::Env env, const Napi::Value& v, const char* what);
Napi::Uint8Array BytesArg(Napi::Env env, const Napi::Value& v, const char* what);
// Property `key` of an options object; undefined when opts or the key is absent.
Napi::Value OptionArg(const Napi::Value& opts, const char* key);

// libbpf print capture: every libbpf message is appended to a thread-local buffer.
// Call ResetLibbpfLog() before a libbpf call and TakeLibbpfLog() after a failure.
void InstallLibbpfPrint();
void ResetLibbpfLog();
std::string TakeLibbpfLog();

// Runs fn with the calling thread switched into the network namespace at nsPath
// (empty: the current one), switching back afterwards, also on exceptions.
// Throws code "ENETNS" naming the path when it cannot be entered.
template <typename Fn>
auto WithNetns(Napi::Env env, const std::string& nsPath, Fn&& fn) -> decltype(fn());

// Per-file initialisers called from addon.cc.
void InitErrors(Napi::Env env, Napi::Object exports);
void InitObject(Napi::Env env, Napi::Object exports);
void InitMap(Napi::Env env, Napi::Object exports);
void InitTc(Napi::Env env, Napi::Object exports);
void InitCgroup(Napi::Env env, Napi::Object exports);
void InitRingbuf(Napi::Env env, Napi::Object exports);
void InitTestRun(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);

}  // namespace fw

#include "netns_scope.h"
