// `lab status`: what the state file records, checked against the live system:
// each node's namespace and agent (pid alive, /readyz), its pods, and the
// outside server.
import { existsSync } from "node:fs";
import { netnsExists } from "../datapath/net/index.ts";
import { alive, isReady } from "./agents.ts";
import { pidInCgroup } from "./cgroups.ts";
import { openLab } from "./context.ts";
import { liveState } from "./kubelet/pods.ts";
import { routerCgroupFor } from "./plan.ts";
import { readState } from "./state.ts";

export interface NodeStatus {
  name: string;
  vpcIp: string;
  podCIDR: string;
  pid: number | null;
  running: boolean;
  ready: boolean;
  netns: boolean;
  pods: number;
  podsRunning: number;
}

export interface PodSummary {
  namespace: string;
  name: string;
  node: string;
  ip: string;
  status: string;
  ready: string;
}

export interface LabStatus {
  exists: boolean;
  stateDir: string;
  phase?: string;
  prefix?: string;
  startedAt?: string;
  nodes: NodeStatus[];
  pods: PodSummary[];
  outside?: { address: string; running: boolean };
}

export async function labStatus(stateDir: string): Promise<LabStatus> {
  const state = readState(stateDir);
  if (!state) return { exists: false, stateDir, nodes: [], pods: [] };
  const lab = openLab(stateDir, state);
  const records = lab.records();
  const pods: PodSummary[] = lab.store.pods().map((p) => {
    const live = liveState(p, records.get(`${p.metadata.namespace}/${p.metadata.name}`));
    return {
      namespace: p.metadata.namespace ?? "",
      name: p.metadata.name,
      node: p.spec.nodeName ?? "",
      ip: p.status?.podIP ?? "",
      status: live.status,
      ready: `${live.ready}/${p.spec.containers.length}`,
    };
  });
  const nodes = await Promise.all(
    state.nodes.map(async (n) => {
      const running = n.pid !== undefined && alive(n.pid) && existsSync(`/proc/${n.pid}`);
      const mine = pods.filter((p) => p.node === n.name);
      return {
        name: n.name,
        vpcIp: n.vpcIp,
        podCIDR: n.podCIDR,
        pid: n.pid ?? null,
        running,
        ready: running && (await isReady(n.socket)),
        netns: netnsExists(n.netns),
        pods: mine.length,
        podsRunning: mine.filter((p) => p.status === "Running").length,
      };
    }),
  );
  const outside =
    state.outsidePid === undefined
      ? undefined
      : {
          address: "198.51.100.1:80",
          running: pidInCgroup(state.outsidePid, routerCgroupFor(state.prefix)),
        };
  return {
    exists: true,
    stateDir,
    phase: state.phase,
    prefix: state.prefix,
    startedAt: state.startedAt,
    nodes,
    pods,
    ...(outside ? { outside } : {}),
  };
}
