// Module entry of the Fairway native binding. Each concern lives in its own file
// and registers its exports here; see native/README.md for the map of files.
#include "common.h"

namespace fw {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  InitErrors(env, exports);
  InitObject(env, exports);
  InitMap(env, exports);
  InitTc(env, exports);
  InitCgroup(env, exports);
  InitRingbuf(env, exports);
  InitTestRun(env, exports);
  InitNetns(env, exports);
  InitNetlink(env, exports);
  return exports;
}

}  // namespace fw

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified one.
static Napi::Object InitFairway(Napi::Env env, Napi::Object exports) { return fw::Init(env, exports); }

NODE_API_MODULE(fairway_native, InitFairway)
