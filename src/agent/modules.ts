// The agent's module list: static, so the whole graph is known at build time
// and a unit test can build it without starting it. Dependencies are resolved
// by each module's `deps`, not by list order.
//
//   ipam      (src/ipam)      address pools, state database
//   cluster   (src/cluster)   Kubernetes API or manifest directory -> typed store
//   endpoint  (src/endpoint)  CniBackend + EndpointReader: the API's CNI routes
//                             call the instance with id "endpoint" (deps: ipam)
//   service   (src/service)   Services + EndpointSlices -> LB maps, socket LB
//                             (deps: cluster, endpoint)
//   cni-install (here)        always last: the conflist tells kubelet the node's
//                             network is ready
//
// Stop hooks release what a module holds in this process (fds, timers,
// watches) and must NOT tear down pod networking: pinned maps, attached
// programs, links and routes stay, so pods keep working across restarts.

import type { AnyModuleDecl } from "../base/module.ts";
import { clusterModule } from "../cluster/index.ts";
import { endpointModule } from "../endpoint/index.ts";
import { ipamModule } from "../ipam/index.ts";
import { serviceModule } from "../service/index.ts";
import { cniInstallModule } from "./cni-install.ts";
import type { AgentConfig } from "./config.ts";

/**
 * Hands a module a config shaped the way its config() reads it, for modules
 * whose slice draws on settings outside their own key.
 */
function withSlice(decl: AnyModuleDecl, shape: (c: AgentConfig) => unknown): AnyModuleDecl {
  return {
    ...decl,
    config: (agentConfig: unknown) => decl.config(shape(agentConfig as AgentConfig)),
  };
}

export const SUBSYSTEMS: readonly AnyModuleDecl[] = [
  // IPAM keeps its database in the agent's stateDir, which its slice calls ipam.stateDir.
  withSlice(ipamModule, (c) => ({
    ipam: { ...c.ipam, stateDir: c.stateDir, nodeName: c.nodeName },
  })),
  clusterModule,
  endpointModule,
  serviceModule,
];

/** The full list: the subsystems, then the CNI installer, which waits for all of them. */
export function agentModules(subsystems: readonly AnyModuleDecl[] = SUBSYSTEMS): AnyModuleDecl[] {
  return [...subsystems, cniInstallModule(subsystems.map((m) => m.id))];
}
