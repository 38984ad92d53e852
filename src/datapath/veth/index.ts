// Public face of the veth datapath (modes `veth` and `veth-legacy`): the
// per-node program set with its endpoint map, and the per-pod plumbing.
// See README.md for the packet paths and how to inspect them.
export {
  EndpointFlags,
  type EndpointRecord,
  type EndpointSpec,
  type RestoreResult,
  VETH_TC_PRIORITY,
  VethDatapath,
} from "./datapath.ts";
export { VethErrorCode } from "./errors.ts";
export { randomMac } from "./keys.ts";
export { VETH_MODES, type VethLoadOptions, type VethMode } from "./objects.ts";
export {
  type PlumbedPod,
  type PlumbOptions,
  type PlumbSpec,
  POD_GATEWAY_V4,
  POD_GATEWAY_V6,
  plumbPod,
  unplumbPod,
} from "./plumb.ts";
export type { Counter, EndpointCounters } from "./stats.ts";
