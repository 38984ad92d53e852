// Endpoints, the public face: the agent's CNI backend (module "endpoint").
// Per CNI attachment: an IPAM allocation, a veth pair plumbed into the pod,
// an entry in the pinned endpoint map with the tc program on the host veth,
// and a record in the shared state database. Other folders import this file
// only. See README.md.

import type { ModuleDecl } from "../base/module.ts";
import { type EndpointConfig, parseEndpointConfig } from "./config.ts";
import type { IpamPort } from "./context.ts";
import { EndpointService } from "./service.ts";

export { checkEndpoint, kernelProblems, prevResultProblems } from "./check.ts";
export {
  ENDPOINT_MODES,
  type EndpointConfig,
  type EndpointMode,
  parseEndpointConfig,
} from "./config.ts";
export type { EndpointContext, IpamPort } from "./context.ts";
export { EndpointCode } from "./errors.ts";
export type { EndpointKernel, ObservedEndpoint, VethKernelOptions } from "./kernel.ts";
export { VethKernel } from "./kernel.ts";
export { hostIfnameFor, isHostIfname } from "./naming.ts";
export type { RestoreReport } from "./restore.ts";
export { cniResult, type EndpointView, endpointView, podCidr } from "./result.ts";
export { EndpointService, type EndpointServiceOptions } from "./service.ts";
export { ENDPOINT_MIGRATIONS, type EndpointRow, type EndpointState } from "./store.ts";

/**
 * The endpoint module. Reads nodeName, bpffsRoot, mtu and datapath.{mode,
 * uplink, hostIfPrefix} from the agent config; its addresses and its table
 * come from the "ipam" module (same fairway.db).
 */
export const endpointModule: ModuleDecl<EndpointConfig, EndpointService> = {
  id: "endpoint",
  deps: ["ipam"],
  config: parseEndpointConfig,
  create(ctx) {
    const ipam = ctx.deps.ipam as IpamPort | undefined;
    if (!ipam) throw new Error('the endpoint module needs the "ipam" module');
    return new EndpointService({ config: ctx.config, ipam, log: ctx.log });
  },
};
