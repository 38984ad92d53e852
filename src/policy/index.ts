// Policy, the public face: Kubernetes NetworkPolicy, FairwayNetworkPolicy and
// FairwayClusterwideNetworkPolicy -> checked policies (accepted, or rejected
// with the reason) -> one policy map per endpoint, in the form the datapath
// will hold (EndpointPolicy), and evaluate() over that form, shared by the
// offline what-if tools and the datapath's tests. Pure: no datapath yet.
// Other folders import this file only. See README.md.

export {
  compareKeys,
  compileEndpoint,
  type EndpointSubject,
  ruleKind,
} from "./compile.ts";
export {
  formatDecision,
  formatEndpointPolicy,
  formatMatrix,
  formatPolicyStatuses,
  formatPortProto,
  identityText,
} from "./debug.ts";
export {
  buildPolicyState,
  type PolicyInput,
  type PolicyState,
  parsePolicies,
  policyInputFromStore,
} from "./engine.ts";
export { PolicyCode, type PolicyCodeValue } from "./errors.ts";
export { evaluate, lookupEntry, protocolNumber } from "./evaluate.ts";
export { parseFairwayPolicy } from "./fairway.ts";
export {
  decideFlow,
  type FlowDecision,
  type FlowEnd,
  type MatrixFlow,
  type MatrixOptions,
  policyMatrix,
  resolveEnd,
  type SideDecision,
} from "./flows.ts";
export { parseNetworkPolicy } from "./k8s.ts";
export { encodePolicyKey, FIXED_PREFIX_BITS, KeyIndex, l4Key, lpmPrefixLen } from "./lookup.ts";
export {
  type CompiledPolicy,
  ENTITIES,
  type Entity,
  isRejected,
  type ParsedPolicy,
  type Peer,
  policyRef,
  type RejectedPolicy,
  type Rule,
} from "./model.ts";
export { type PodInfo, podInfo } from "./peers.ts";
export {
  blockEnd,
  maskPort,
  type PortBlock,
  type PortMatch,
  portBlocks,
  svcNameProblem,
} from "./ports.ts";
export type * from "./types.ts";
export { PROTOCOL_NUMBERS, PROTOCOLS } from "./types.ts";
