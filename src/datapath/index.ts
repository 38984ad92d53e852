// Public face of the datapath layer: BPF objects, typed maps, attachments,
// ring buffers, test runs, codecs. Network namespaces and links are in ./net/.

export { attachCgroup, CgroupLink } from "./bpf/cgroup.ts";
export { encodeGlobals, type GlobalValues } from "./bpf/globals.ts";
export { BpfMap, UpdateFlags } from "./bpf/map.ts";
export { type BpfMapRef, BpfObject, type BpfObjectOptions, type BpfProgram } from "./bpf/object.ts";
export { bpfObjectPath } from "./bpf/paths.ts";
export { RingBatch, RingBuffer, type RingBufferOptions } from "./bpf/ringbuf.ts";
export { attachTc, queryTc, TcAttachment, type TcAttachOptions } from "./bpf/tc.ts";
export { type TestRunOptions, type TestRunResult, testRun, testRunAsync } from "./bpf/testrun.ts";
export type { Codec, EventLayout, GlobalLayout, MapLayout } from "./codec.ts";
export { errnoOf, fromNative } from "./errors.ts";
