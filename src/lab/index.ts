// Public face of lab/: `fairway lab` builds a multi-node cluster out of network
// namespaces on one machine, runs pods in it through Fairway's CNI, and checks
// its connectivity. See README.md.
export { type ApplyLine, type ApplyReport, applyFiles } from "./apply.ts";
export { ProbeClient, type ProbeRequest, type ProbeResult } from "./check/probe.ts";
export {
  type CheckHooks,
  type CheckReport,
  checkScenarios,
  runCheck,
  type ScenarioResult,
} from "./check/run.ts";
export type { Scenario } from "./check/scenarios.ts";
export { type LabContext, openLab } from "./context.ts";
export { waitForServices } from "./converge.ts";
export {
  type DeleteReport,
  type DeleteTarget,
  deleteObjects,
  kindOf,
  targetsOfFiles,
} from "./delete.ts";
export { DEMO_MANIFEST } from "./demo.ts";
export { type DownOptions, type DownResult, isLabNetns, labDown } from "./down.ts";
export { execPod, podLogs, podRecord, probeFromPod, restartAgent } from "./exec.ts";
export { listRecords, type PodRecord } from "./kubelet/records.ts";
export { withLabLock } from "./lock.ts";
export {
  cgroupFor,
  DEFAULT_PREFIX,
  DEFAULT_STATE_DIR,
  type LabOptions,
  type LabPlan,
  OUTSIDE_ADDRESS,
  pinRootFor,
  planLab,
  SERVICE_CIDR,
} from "./plan.ts";
export { main as podServerMain } from "./podserver/server.ts";
export { type LabState, readState } from "./state.ts";
export { type LabStatus, labStatus, type NodeStatus, type PodSummary } from "./status.ts";
export {
  applyText,
  checkResultLine,
  checkSummaryText,
  downText,
  type NextSteps,
  nextStepsText,
  progressBar,
  statusText,
  type TableRenderer,
} from "./text.ts";
export { labUp, type UpOptions, type UpResult } from "./up.ts";
export { age, type GetOptions, type GetResult, getObjects } from "./views.ts";
