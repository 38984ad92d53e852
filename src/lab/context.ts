// What every lab command after `up` works with: the recorded state, the plan
// recomputed from it, the objects, and what the kubelet needs.
import { join } from "node:path";
import { cgroup2Mount } from "./cgroups.ts";
import type { KubeletContext } from "./kubelet/pods.ts";
import { installSupervisor } from "./kubelet/process.ts";
import { listRecords, type PodRecord } from "./kubelet/records.ts";
import { ObjectStore } from "./objects/store.ts";
import { type LabPlan, planLab } from "./plan.ts";
import { podServerArgv } from "./podserver/runner.ts";
import { type LabState, requireState } from "./state.ts";

export interface LabContext {
  state: LabState;
  plan: LabPlan;
  store: ObjectStore;
  cgroupMount: string;
  /** the kubelet's context; builds the pod server on first use in a source tree */
  kubelet(): Promise<KubeletContext>;
  records(): Map<string, PodRecord>;
}

export function planOf(state: LabState): LabPlan {
  return planLab({ nodes: state.nodes.length, prefix: state.prefix, stateDir: state.stateDir });
}

export function openLab(stateDir: string, state: LabState = requireState(stateDir)): LabContext {
  const plan = planOf(state);
  const cgroupMount = state.cgroupMount ?? cgroup2Mount();
  let kubelet: KubeletContext | undefined;
  return {
    state,
    plan,
    store: ObjectStore.load(plan.manifests),
    cgroupMount,
    async kubelet() {
      kubelet ??= {
        plan,
        cgroupMount,
        podServer: await podServerArgv(plan.stateDir),
        supervisor: installSupervisor(join(plan.stateDir, "bin")),
      };
      return kubelet;
    },
    records() {
      return new Map(listRecords(plan.podsDir).map((r) => [`${r.namespace}/${r.name}`, r]));
    },
  };
}
