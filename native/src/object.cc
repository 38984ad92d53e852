// openObject: a BPF ELF object (struct bpf_object) from open to load to close.
// Between open and load the caller adjusts it (globals, pin paths, sizes,
// autoload); load creates or reuses pinned maps and runs the verifier, and a
// failure comes back as EBPF_LOAD carrying the failing program's verifier log.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "common.h"

namespace fw {

namespace {

constexpr size_t kDefaultLogSize = 16 << 20;
// The verifier's limit on log_size (kernel/bpf/log.c: UINT_MAX >> 2).
constexpr size_t kMaxLogSize = UINT_MAX >> 2;
// Verifier log lines quoted in err.message; the whole log is in err.verifierLog.
constexpr int kVerifierTailLines = 30;

struct GlobalVar {
  std::string section;
  std::string name;
  uint32_t offset;
  uint32_t size;
};

// The last `count` lines of a verifier log, indented, for err.message.
std::string LogTail(const std::string& log, int count) {
  size_t start = log.size();
  while (start > 0 && (log[start - 1] == '\n' || log[start - 1] == '\0')) start--;
  size_t end = start;
  for (int i = 0; i < count && start > 0; i++) {
    size_t nl = log.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
  }
  std::string out = "verifier log (last lines):";
  for (size_t pos = start; pos < end;) {
    if (log[pos] == '\n') pos++;
    size_t nl = log.find('\n', pos);
    if (nl == std::string::npos || nl > end) nl = end;
    out += "\n  | " + log.substr(pos, nl - pos);
    pos = nl;
  }
  return out;
}

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceAccessor<&BpfObject::Path>("path"),
                           InstanceMethod<&BpfObject::Maps>("maps"),
                           InstanceMethod<&BpfObject::Programs>("programs"),
                           InstanceMethod<&BpfObject::Globals>("globals"),
                           InstanceMethod<&BpfObject::SetGlobal>("setGlobal"),
                           InstanceMethod<&BpfObject::SetPinPath>("setPinPath"),
                           InstanceMethod<&BpfObject::SetMaxEntries>("setMaxEntries"),
                           InstanceMethod<&BpfObject::SetValueSize>("setValueSize"),
                           InstanceMethod<&BpfObject::SetAutoload>("setAutoload"),
                           InstanceMethod<&BpfObject::Load>("load"),
                           InstanceMethod<&BpfObject::MapFd>("mapFd"),
                           InstanceMethod<&BpfObject::ProgFd>("progFd"),
                           InstanceMethod<&BpfObject::Close>("close"),
                       });
  }

  // Only openObject constructs it, passing the opened bpf_object as an External.
  explicit BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    if (info.Length() < 2 || !info[0].IsExternal()) {
      ThrowArg(info.Env(), "BpfObject cannot be constructed directly; use openObject()");
    }
    obj_ = info[0].As<Napi::External<bpf_object>>().Data();
    path_ = info[1].As<Napi::String>().Utf8Value();
  }

  ~BpfObject() override { Release(); }

 private:
  enum class State { Opened, Loaded, Failed, Closed };

  void Release() {
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  // Throws unless the object is in a state where `op` makes sense.
  void Require(Napi::Env env, const char* op, bool beforeLoad) {
    const char* problem = nullptr;
    if (state_ == State::Closed) problem = "is closed";
    else if (state_ == State::Failed) problem = "failed to load and was closed";
    else if (beforeLoad && state_ == State::Loaded) problem = "is already loaded (only allowed between open and load)";
    else if (!beforeLoad && state_ == State::Opened) problem = "is not loaded yet";
    if (problem) ThrowArg(env, std::string(op) + ": BPF object " + path_ + " " + problem);
  }

  void RequireUsable(Napi::Env env, const char* op) {
    if (state_ == State::Closed || state_ == State::Failed) Require(env, op, false);
  }

  bpf_map* FindMap(Napi::Env env, const char* op, const std::string& name) {
    // find_map_by_name also accepts the ELF section name of internal maps (".rodata").
    bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!map) ThrowArg(env, std::string(op) + ": no map named \"" + name + "\" in BPF object " + path_);
    return map;
  }

  bpf_program* FindProg(Napi::Env env, const char* op, const std::string& name) {
    bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
    if (!prog) ThrowArg(env, std::string(op) + ": no program named \"" + name + "\" in BPF object " + path_);
    return prog;
  }

  Napi::Value Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireUsable(env, "maps()");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (bpf_map* m = bpf_object__next_map(obj_, nullptr); m; m = bpf_object__next_map(obj_, m)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      o.Set("type", static_cast<uint32_t>(bpf_map__type(m)));
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("flags", bpf_map__map_flags(m));
      int fd = bpf_map__fd(m);
      o.Set("fd", fd < 0 ? -1 : fd);
      const char* pin = bpf_map__pin_path(m);
      o.Set("pinPath", pin ? pin : "");
      o.Set("reused", reused_.count(bpf_map__name(m)) > 0);
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireUsable(env, "programs()");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (bpf_program* p = bpf_object__next_program(obj_, nullptr); p; p = bpf_object__next_program(obj_, p)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("type", static_cast<uint32_t>(bpf_program__type(p)));
      int fd = bpf_program__fd(p);
      o.Set("fd", fd < 0 ? -1 : fd);
      out.Set(i++, o);
    }
    return out;
  }

  // Variables of the object's data sections, read from its BTF DATASEC types.
  // .kconfig and .ksyms are left out: libbpf fills them from the running kernel.
  std::vector<GlobalVar> ListGlobals() {
    std::vector<GlobalVar> vars;
    const btf* b = bpf_object__btf(obj_);
    if (!b) return vars;
    for (uint32_t id = 1; id < btf__type_cnt(b); id++) {
      const btf_type* t = btf__type_by_id(b, id);
      if (!btf_is_datasec(t)) continue;
      std::string section = btf__name_by_offset(b, t->name_off);
      if (section == ".kconfig" || section == ".ksyms") continue;
      if (!bpf_object__find_map_by_name(obj_, section.c_str())) continue;
      const btf_var_secinfo* vsi = btf_var_secinfos(t);
      for (uint16_t i = 0; i < btf_vlen(t); i++, vsi++) {
        const btf_type* v = btf__type_by_id(b, vsi->type);
        if (!btf_is_var(v) || btf_var(v)->linkage == BTF_VAR_GLOBAL_EXTERN) continue;
        vars.push_back({section, btf__name_by_offset(b, v->name_off), vsi->offset, vsi->size});
      }
    }
    return vars;
  }

  Napi::Value Globals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireUsable(env, "globals()");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const GlobalVar& g : ListGlobals()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("section", g.section);
      o.Set("name", g.name);
      o.Set("offset", g.offset);
      o.Set("size", g.size);
      out.Set(i++, o);
    }
    return out;
  }

  // Patches the initial image of the variable's section map. libbpf copies that
  // image into the map at load (and freezes .rodata), which is why this only
  // works before load.
  void SetGlobal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "setGlobal: name");
    Napi::Uint8Array value = BytesArg(env, info[1], "setGlobal: value");
    Require(env, "setGlobal", true);
    for (const GlobalVar& g : ListGlobals()) {
      if (g.name != name) continue;
      if (value.ByteLength() != g.size) {
        ThrowArg(env, "setGlobal: global \"" + name + "\" in " + g.section + " is " + std::to_string(g.size) +
                          " bytes, value has " + std::to_string(value.ByteLength()));
      }
      bpf_map* map = FindMap(env, "setGlobal", g.section);
      size_t size = 0;
      const void* cur = bpf_map__initial_value(map, &size);
      if (!cur || g.offset + g.size > size) {
        ThrowArg(env, "setGlobal: global \"" + name + "\" lies outside the initial image of " + g.section);
      }
      std::vector<uint8_t> image(static_cast<const uint8_t*>(cur), static_cast<const uint8_t*>(cur) + size);
      memcpy(image.data() + g.offset, value.Data(), g.size);
      ResetLibbpfLog();
      int err = bpf_map__set_initial_value(map, image.data(), image.size());
      if (err) {
        ThrowErrno(env, "EBPF_OPEN", "cannot set global \"" + name + "\" of " + path_, -err,
                   "bpf_map__set_initial_value");
      }
      return;
    }
    ThrowArg(env, "setGlobal: no global named \"" + name + "\" in BPF object " + path_);
  }

  void SetPinPath(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "setPinPath: mapName");
    std::string pin = StringArg(env, info[1], "setPinPath: path");
    Require(env, "setPinPath", true);
    ResetLibbpfLog();
    int err = bpf_map__set_pin_path(FindMap(env, "setPinPath", name), pin.c_str());
    if (err) {
      ThrowErrno(env, "EBPF_MAP", "cannot set pin path " + pin + " for map \"" + name + "\"", -err,
                 "bpf_map__set_pin_path");
    }
  }

  void SetMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "setMaxEntries: mapName");
    uint32_t n = IntArg(env, info[1], "setMaxEntries: maxEntries", 1, UINT32_MAX);
    Require(env, "setMaxEntries", true);
    ResetLibbpfLog();
    int err = bpf_map__set_max_entries(FindMap(env, "setMaxEntries", name), n);
    if (err) {
      ThrowErrno(env, "EBPF_MAP", "cannot set max_entries of map \"" + name + "\"", -err, "bpf_map__set_max_entries");
    }
  }

  // A map whose value is an array sized at load (the Maglev tables). libbpf
  // creates it with the new size; the BTF value type no longer matches, so
  // the map is created without BTF value info (libbpf retries that itself).
  void SetValueSize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "setValueSize: mapName");
    uint32_t n = IntArg(env, info[1], "setValueSize: valueSize", 1, UINT32_MAX);
    Require(env, "setValueSize", true);
    ResetLibbpfLog();
    int err = bpf_map__set_value_size(FindMap(env, "setValueSize", name), n);
    if (err) {
      ThrowErrno(env, "EBPF_MAP", "cannot set value size of map \"" + name + "\"", -err, "bpf_map__set_value_size");
    }
  }

  void SetAutoload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "setAutoload: progName");
    if (!info[1].IsBoolean()) ThrowArg(env, "setAutoload: autoload must be a boolean");
    Require(env, "setAutoload", true);
    ResetLibbpfLog();
    int err = bpf_program__set_autoload(FindProg(env, "setAutoload", name), info[1].As<Napi::Boolean>());
    if (err) {
      ThrowErrno(env, "EBPF_PROG", "cannot set autoload of program \"" + name + "\"", -err,
                 "bpf_program__set_autoload");
    }
  }

  void Load(const Napi::CallbackInfo& info);
  [[noreturn]] void ThrowLoadFailure(Napi::Env env, int err, const std::vector<std::unique_ptr<char[]>>& logs,
                                     size_t logSize);

  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "mapFd: name");
    Require(env, "mapFd", false);
    return Napi::Number::New(env, bpf_map__fd(FindMap(env, "mapFd", name)));
  }

  Napi::Value ProgFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = StringArg(env, info[0], "progFd: name");
    Require(env, "progFd", false);
    int fd = bpf_program__fd(FindProg(env, "progFd", name));
    // A program with autoload off has no fd even after load.
    if (fd < 0) ThrowArg(env, "progFd: program \"" + name + "\" of " + path_ + " was not loaded (autoload off)");
    return Napi::Number::New(env, fd);
  }

  void Close(const Napi::CallbackInfo& info) {
    Release();
    if (state_ != State::Failed) state_ = State::Closed;
  }

  bpf_object* obj_ = nullptr;
  std::string path_;
  State state_ = State::Opened;
  // Maps whose pin existed before load and which libbpf therefore reused; libbpf
  // tracks this (map->reused) but has no public getter.
  std::set<std::string> reused_;
};

void BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value level = OptionArg(info[0], "logLevel");
  Napi::Value sizeOpt = OptionArg(info[0], "logSize");
  uint32_t logLevel = level.IsUndefined() ? 1 : IntArg(env, level, "load: logLevel", 1, 2);
  size_t logSize = sizeOpt.IsUndefined() ? kDefaultLogSize : IntArg(env, sizeOpt, "load: logSize", 1024, kMaxLogSize);
  Require(env, "load", true);

  // One log buffer per program, so the failing program is the one whose buffer
  // holds text. new char[] leaves the pages untouched: only logs actually
  // written cost memory. With log_level 0 libbpf loads without a log and, only
  // when a program fails, retries it at level 1 into our buffer. libbpf 1.1
  // cannot raise that retry to level 2, so level 2 applies from the first attempt.
  std::vector<std::unique_ptr<char[]>> logs;
  for (bpf_program* p = bpf_object__next_program(obj_, nullptr); p; p = bpf_object__next_program(obj_, p)) {
    logs.emplace_back(new char[logSize]);
    logs.back()[0] = '\0';
    bpf_program__set_log_buf(p, logs.back().get(), logSize);
    bpf_program__set_log_level(p, logLevel == 1 ? 0 : logLevel);
  }

  std::set<std::string> pinnedBefore;
  std::set<std::string> newDirs;
  for (bpf_map* m = bpf_object__next_map(obj_, nullptr); m; m = bpf_object__next_map(obj_, m)) {
    const char* pin = bpf_map__pin_path(m);
    if (!pin) continue;
    if (access(pin, F_OK) == 0) pinnedBefore.insert(bpf_map__name(m));
    std::string dir = ParentDir(pin);
    if (access(dir.c_str(), F_OK) != 0) newDirs.insert(dir);
  }

  ResetLibbpfLog();
  int err = bpf_object__load(obj_);
  if (err) {
    // libbpf creates a missing pin directory (one level) before pinning; after a
    // failure it is empty again and ours to remove. rmdir keeps it if not empty.
    for (const std::string& dir : newDirs) rmdir(dir.c_str());
    ThrowLoadFailure(env, -err, logs, logSize);
  }
  state_ = State::Loaded;
  for (bpf_map* m = bpf_object__next_map(obj_, nullptr); m; m = bpf_object__next_map(obj_, m)) {
    if (bpf_map__is_pinned(m) && pinnedBefore.count(bpf_map__name(m))) reused_.insert(bpf_map__name(m));
  }
  // The programs still point at `logs`, freed on return: libbpf reads a program's
  // log buffer only while loading it, and an object loads once.
}

// libbpf has already unpinned the maps this load pinned (it keeps reused pins)
// and unloaded the object; closing frees the rest so no fd outlives the failure.
void BpfObject::ThrowLoadFailure(Napi::Env env, int err, const std::vector<std::unique_ptr<char[]>>& logs,
                                 size_t logSize) {
  std::string progName;
  std::string verifierLog;
  size_t i = 0;
  // Programs load in order and the first failure stops the load, so the failing
  // program is the last with a non-empty log (at level 2 earlier ones have logs too).
  for (bpf_program* p = bpf_object__next_program(obj_, nullptr); p; p = bpf_object__next_program(obj_, p), i++) {
    if (logs[i][0] != '\0') {
      progName = bpf_program__name(p);
      verifierLog = logs[i].get();
    }
  }
  Release();
  state_ = State::Failed;
  if (progName.empty()) {
    ThrowErrnoWith(env, "EBPF_LOAD", "cannot load BPF object " + path_, err, "bpf_object__load",
                   {{"verifierLog", ""}});
  }
  std::string what = "program \"" + progName + "\" of BPF object " + path_ + " was rejected by the verifier";
  // The verifier fails a load whose log did not fit, even a program it accepted.
  if (err == ENOSPC) what += " (its log did not fit in logSize " + std::to_string(logSize) + ")";
  ThrowErrnoDetail(env, "EBPF_LOAD", what, err,
                   "bpf_object__load", LogTail(verifierLog, kVerifierTailLines),
                   {{"verifierLog", verifierLog}, {"program", progName}});
}

static Napi::Value OpenObject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(env, info[0], "openObject: path");
  Napi::Value pinRoot = OptionArg(info[1], "pinRoot");
  Napi::Value objectName = OptionArg(info[1], "objectName");
  std::string pinRootStr = pinRoot.IsUndefined() ? "" : StringArg(env, pinRoot, "openObject: pinRoot");
  std::string nameStr = objectName.IsUndefined() ? "" : StringArg(env, objectName, "openObject: objectName");

  bpf_object_open_opts opts{};
  opts.sz = sizeof(opts);
  if (!pinRootStr.empty()) opts.pin_root_path = pinRootStr.c_str();
  if (!nameStr.empty()) opts.object_name = nameStr.c_str();
  ResetLibbpfLog();
  bpf_object* obj = bpf_object__open_file(path.c_str(), &opts);
  if (!obj) {
    int err = errno;
    ThrowErrno(env, "EBPF_OPEN", "cannot open BPF object " + path, err, "bpf_object__open_file");
  }

  auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
  try {
    return ctor->New({Napi::External<bpf_object>::New(env, obj), Napi::String::New(env, path)});
  } catch (...) {
    bpf_object__close(obj);
    throw;
  }
}

void InitObject(Napi::Env env, Napi::Object exports) {
  // The class stays private: openObject is the only way in. Its constructor
  // reference lives as long as the env (one per worker thread).
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(BpfObject::Define(env)));
  env.AddCleanupHook([ctor]() { delete ctor; });
  exports.Set("openObject", Napi::Function::New(env, OpenObject, "openObject", ctor));
}

}  // namespace fw
