// `lab status`: what the state file records, checked against the live system.
import { existsSync } from "node:fs";
import { netnsExists } from "../datapath/net/index.ts";
import { alive, isReady } from "./agents.ts";
import { readState } from "./state.ts";

export interface NodeStatus {
  name: string;
  vpcIp: string;
  podCIDR: string;
  pid: number | null;
  running: boolean;
  ready: boolean;
  netns: boolean;
}

export interface LabStatus {
  exists: boolean;
  stateDir: string;
  phase?: string;
  prefix?: string;
  startedAt?: string;
  nodes: NodeStatus[];
}

export async function labStatus(stateDir: string): Promise<LabStatus> {
  const state = readState(stateDir);
  if (!state) return { exists: false, stateDir, nodes: [] };
  const nodes = await Promise.all(
    state.nodes.map(async (n) => {
      const running = n.pid !== undefined && alive(n.pid) && existsSync(`/proc/${n.pid}`);
      return {
        name: n.name,
        vpcIp: n.vpcIp,
        podCIDR: n.podCIDR,
        pid: n.pid ?? null,
        running,
        ready: running && (await isReady(n.socket)),
        netns: netnsExists(n.netns),
      };
    }),
  );
  return {
    exists: true,
    stateDir,
    phase: state.phase,
    prefix: state.prefix,
    startedAt: state.startedAt,
    nodes,
  };
}
