// Map operations by fd, pins, and fd housekeeping: thin wrappers over libbpf's
// bpf.h syscall helpers. Single-element operations are the agent's hot path
// (reconcilers write endpoints and services one at a time), so they use the
// TypedArray memory directly and allocate nothing.
//
// Buffer sizes: the kernel copies key_size bytes from the key and value_size
// bytes (rounded up to 8 and multiplied by the possible CPUs for per-CPU maps)
// to or from the value. Single-element calls do not look the sizes up (that would
// double the syscalls; the typed wrappers size buffers from mapInfo once). Batch
// calls do, once per call, and refuse buffers that are too short.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "common.h"

namespace fw {

namespace {

int FdArg(Napi::Env env, const Napi::Value& v, const char* what) {
  return static_cast<int>(IntArg(env, v, what, 0, INT_MAX));
}

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

bpf_map_info MapInfoOf(Napi::Env env, int fd, const char* op) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  int err = bpf_obj_get_info_by_fd(fd, &info, &len);
  if (err) {
    ResetLibbpfLog();
    ThrowErrno(env, "EBPF_MAP", std::string(op) + ": cannot read info of map fd " + std::to_string(fd), -err,
               "bpf_obj_get_info_by_fd");
  }
  return info;
}

// Bytes one value occupies in user memory: per-CPU maps hand out one 8-aligned
// slot per possible CPU.
size_t ValueBytes(const bpf_map_info& info) {
  if (!IsPerCpu(info.type)) return info.value_size;
  return ((info.value_size + 7) & ~size_t{7}) * libbpf_num_possible_cpus();
}

void CheckLength(Napi::Env env, const char* op, const char* what, size_t have, size_t need) {
  if (have < need) {
    ThrowArg(env, std::string(op) + ": " + what + " has " + std::to_string(have) + " bytes, needs at least " +
                      std::to_string(need));
  }
}

// The bpf.h helpers are plain syscalls that never print, so any captured libbpf
// text would be stale: drop it.
[[noreturn]] void ThrowMap(Napi::Env env, const char* op, int fd, int err, const char* syscall) {
  ResetLibbpfLog();
  ThrowErrno(env, "EBPF_MAP", std::string(op) + " on map fd " + std::to_string(fd) + " failed", err, syscall);
}

Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "mapLookup: fd");
  Napi::Uint8Array key = BytesArg(env, info[1], "mapLookup: key");
  Napi::Uint8Array value = BytesArg(env, info[2], "mapLookup: valueOut");
  if (bpf_map_lookup_elem(fd, key.Data(), value.Data()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  ThrowMap(env, "mapLookup", fd, errno, "bpf_map_lookup_elem");
}

void MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "mapUpdate: fd");
  Napi::Uint8Array key = BytesArg(env, info[1], "mapUpdate: key");
  Napi::Uint8Array value = BytesArg(env, info[2], "mapUpdate: value");
  uint64_t flags = IntArg(env, info[3], "mapUpdate: flags", 0, UINT32_MAX);
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) != 0) {
    ThrowMap(env, "mapUpdate", fd, errno, "bpf_map_update_elem");
  }
}

Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "mapDelete: fd");
  Napi::Uint8Array key = BytesArg(env, info[1], "mapDelete: key");
  if (bpf_map_delete_elem(fd, key.Data()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  ThrowMap(env, "mapDelete", fd, errno, "bpf_map_delete_elem");
}

Napi::Value MapNextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "mapNextKey: fd");
  bool first = info[1].IsNull() || info[1].IsUndefined();
  const void* key = first ? nullptr : BytesArg(env, info[1], "mapNextKey: key").Data();
  Napi::Uint8Array next = BytesArg(env, info[2], "mapNextKey: nextOut");
  if (bpf_map_get_next_key(fd, key, next.Data()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ENOENT) return Napi::Boolean::New(env, false);
  ThrowMap(env, "mapNextKey", fd, errno, "bpf_map_get_next_key");
}

Napi::Object BatchResult(Napi::Env env, uint32_t count, bool done) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", count);
  o.Set("done", done);
  return o;
}

bpf_map_batch_opts BatchOpts(uint64_t flags) {
  bpf_map_batch_opts opts{};
  opts.sz = sizeof(opts);
  opts.flags = flags;
  return opts;
}

Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapLookupBatch";
  int fd = FdArg(env, info[0], "mapLookupBatch: fd");
  Napi::Uint8Array inBatch;
  if (!info[1].IsNull()) inBatch = BytesArg(env, info[1], "mapLookupBatch: inBatch");
  Napi::Uint8Array outBatch = BytesArg(env, info[2], "mapLookupBatch: outBatch");
  Napi::Uint8Array keys = BytesArg(env, info[3], "mapLookupBatch: keys");
  Napi::Uint8Array values = BytesArg(env, info[4], "mapLookupBatch: values");
  uint32_t count = IntArg(env, info[5], "mapLookupBatch: count", 1, UINT32_MAX);
  bpf_map_info mi = MapInfoOf(env, fd, op);
  // The batch token is a key for hash maps and a u32 index for arrays, never more
  // than key_size bytes.
  if (!inBatch.IsEmpty()) CheckLength(env, op, "inBatch", inBatch.ByteLength(), mi.key_size);
  CheckLength(env, op, "outBatch", outBatch.ByteLength(), mi.key_size);
  CheckLength(env, op, "keys", keys.ByteLength(), size_t{count} * mi.key_size);
  CheckLength(env, op, "values", values.ByteLength(), size_t{count} * ValueBytes(mi));
  bpf_map_batch_opts opts = BatchOpts(0);
  uint32_t n = count;
  int err = bpf_map_lookup_batch(fd, inBatch.IsEmpty() ? nullptr : inBatch.Data(), outBatch.Data(), keys.Data(),
                                 values.Data(), &n, &opts);
  // ENOENT marks the end of the map; n still counts the entries copied.
  if (err && errno != ENOENT) ThrowMap(env, op, fd, errno, "bpf_map_lookup_batch");
  return BatchResult(env, n, err != 0);
}

Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapUpdateBatch";
  int fd = FdArg(env, info[0], "mapUpdateBatch: fd");
  Napi::Uint8Array keys = BytesArg(env, info[1], "mapUpdateBatch: keys");
  Napi::Uint8Array values = BytesArg(env, info[2], "mapUpdateBatch: values");
  uint32_t count = IntArg(env, info[3], "mapUpdateBatch: count", 0, UINT32_MAX);
  uint64_t flags = IntArg(env, info[4], "mapUpdateBatch: flags", 0, UINT32_MAX);
  if (count == 0) return Napi::Number::New(env, 0);
  bpf_map_info mi = MapInfoOf(env, fd, op);
  CheckLength(env, op, "keys", keys.ByteLength(), size_t{count} * mi.key_size);
  CheckLength(env, op, "values", values.ByteLength(), size_t{count} * ValueBytes(mi));
  bpf_map_batch_opts opts = BatchOpts(flags);
  uint32_t n = count;
  if (bpf_map_update_batch(fd, keys.Data(), values.Data(), &n, &opts) != 0) {
    int err = errno;
    ResetLibbpfLog();
    ThrowErrno(env, "EBPF_MAP", std::string(op) + " on map fd " + std::to_string(fd) + " failed after " +
                                    std::to_string(n) + " of " + std::to_string(count) + " entries",
               err, "bpf_map_update_batch");
  }
  return Napi::Number::New(env, n);
}

Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapDeleteBatch";
  int fd = FdArg(env, info[0], "mapDeleteBatch: fd");
  Napi::Uint8Array keys = BytesArg(env, info[1], "mapDeleteBatch: keys");
  uint32_t count = IntArg(env, info[2], "mapDeleteBatch: count", 0, UINT32_MAX);
  if (count == 0) return Napi::Number::New(env, 0);
  bpf_map_info mi = MapInfoOf(env, fd, op);
  CheckLength(env, op, "keys", keys.ByteLength(), size_t{count} * mi.key_size);
  bpf_map_batch_opts opts = BatchOpts(0);
  uint32_t n = count;
  if (bpf_map_delete_batch(fd, keys.Data(), &n, &opts) != 0) {
    int err = errno;
    ResetLibbpfLog();
    ThrowErrno(env, "EBPF_MAP", std::string(op) + " on map fd " + std::to_string(fd) + " failed after " +
                                    std::to_string(n) + " of " + std::to_string(count) + " entries",
               err, "bpf_map_delete_batch");
  }
  return Napi::Number::New(env, n);
}

Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "mapInfo: fd");
  bpf_map_info mi = MapInfoOf(env, fd, "mapInfo");
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", mi.id);
  o.Set("name", mi.name);
  o.Set("type", mi.type);
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  return o;
}

Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(env, info[0], "objGet: path");
  ResetLibbpfLog();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(env, "EIO_FD", "cannot open pinned BPF object " + path, -fd, "bpf_obj_get");
  return Napi::Number::New(env, fd);
}

void ObjPin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "objPin: fd");
  std::string path = StringArg(env, info[1], "objPin: path");
  ResetLibbpfLog();
  int err = bpf_obj_pin(fd, path.c_str());
  if (err) ThrowErrno(env, "EIO_FD", "cannot pin fd " + std::to_string(fd) + " at " + path, -err, "bpf_obj_pin");
}

void CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0], "closeFd: fd");
  // Linux releases the fd even when close() reports EINTR/EIO, so never retry.
  ResetLibbpfLog();
  if (close(fd) != 0 && errno == EBADF) {
    ThrowErrno(env, "EIO_FD", "cannot close fd " + std::to_string(fd), EBADF, "close");
  }
}

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(env, "EIO_FD", "cannot read the possible CPUs", -n, "libbpf_num_possible_cpus");
  return Napi::Number::New(env, n);
}

}  // namespace

void InitMap(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup, "mapLookup"));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate, "mapUpdate"));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete, "mapDelete"));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey, "mapNextKey"));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch, "mapLookupBatch"));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch, "mapUpdateBatch"));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch, "mapDeleteBatch"));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo, "mapInfo"));
  exports.Set("objGet", Napi::Function::New(env, ObjGet, "objGet"));
  exports.Set("objPin", Napi::Function::New(env, ObjPin, "objPin"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus, "possibleCpus"));
}

}  // namespace fw
