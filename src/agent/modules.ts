// The agent's module list: static, so the whole graph is known at build time
// and a unit test can build it without starting it.
//
// To add a subsystem, import its ModuleDecl from its folder's index.ts and put
// it in SUBSYSTEMS (dependencies are resolved by `deps`, not by list order):
//   ipam      (src/ipam)      address pools, ENI warm pool
//   cluster   (src/cluster)   Kubernetes API or manifest directory -> typed store
//   endpoint  (src/endpoint)  implements CniBackend + EndpointReader; the API's
//                             CNI routes call the instance with id "endpoint"
//
// Stop hooks release what a module holds in this process (fds, timers,
// watches) and must NOT tear down pod networking: pinned maps, attached
// programs, links and routes stay, so pods keep working across restarts.

import type { AnyModuleDecl } from "../base/module.ts";
import { cniInstallModule } from "./cni-install.ts";

export const SUBSYSTEMS: readonly AnyModuleDecl[] = [
  // ipamModule,
  // clusterModule,
  // endpointModule,
];

/** The full list: the subsystems, then the CNI installer, which waits for all of them. */
export function agentModules(subsystems: readonly AnyModuleDecl[] = SUBSYSTEMS): AnyModuleDecl[] {
  return [...subsystems, cniInstallModule(subsystems.map((m) => m.id))];
}
