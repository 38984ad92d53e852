// Public face of lab/: `fairway lab` builds a multi-node cluster out of network
// namespaces on one machine. See README.md.
export { type DownOptions, type DownResult, isLabNetns, labDown } from "./down.ts";
export {
  DEFAULT_PREFIX,
  DEFAULT_STATE_DIR,
  type LabOptions,
  type LabPlan,
  OUTSIDE_ADDRESS,
  pinRootFor,
  planLab,
} from "./plan.ts";
export { type LabState, readState } from "./state.ts";
export { type LabStatus, labStatus, type NodeStatus } from "./status.ts";
export { labUp, type UpResult } from "./up.ts";
