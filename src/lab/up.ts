// `lab up`: the VPC and router, then each node's namespace and agent, recording
// every step in the state file before taking it.
import { FairwayError } from "../base/errors.ts";
import { startAgent, waitReady, writeAgentConfig } from "./agents.ts";
import { buildNode, buildVpc, routePodCIDRs } from "./network.ts";
import { type LabOptions, type LabPlan, planLab } from "./plan.ts";
import { type LabState, readState, writeState } from "./state.ts";

export interface UpResult {
  plan: LabPlan;
  state: LabState;
  networkMs: number;
  agentsMs: number;
  totalMs: number;
}

export interface UpHooks {
  /** progress lines for people */
  say?(line: string): void;
  readyTimeoutMs?: number;
}

export async function labUp(options: LabOptions, hooks: UpHooks = {}): Promise<UpResult> {
  const plan = planLab(options);
  const existing = readState(plan.stateDir);
  if (existing) {
    throw new FairwayError(
      "E_LAB_EXISTS",
      `a lab is already recorded in ${plan.stateFile} (phase ${existing.phase}); remove it first with fairway lab down`,
    );
  }
  const say = hooks.say ?? (() => {});
  const t0 = performance.now();
  const state: LabState = {
    version: 1,
    prefix: plan.prefix,
    stateDir: plan.stateDir,
    pinRoot: plan.pinRoot,
    phase: "creating",
    startedAt: new Date().toISOString(),
    namespaces: [],
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      vpcIp: n.vpcIp,
      podCIDR: n.podCIDR,
      socket: n.socket,
      configFile: n.configFile,
      logFile: n.logFile,
    })),
  };
  writeState(state);
  const record = (ns: string) => {
    if (!state.namespaces.includes(ns)) state.namespaces.push(ns);
    writeState(state);
  };
  try {
    await buildVpc(plan, record);
    for (const node of plan.nodes) await buildNode(plan, node, record);
    await routePodCIDRs(plan);
    const networkMs = performance.now() - t0;
    say(`network: vpc, router and ${plan.nodes.length} nodes in ${Math.round(networkMs)} ms`);
    const t1 = performance.now();
    const pids = plan.nodes.map((node, i) => {
      writeAgentConfig(plan, node);
      const pid = startAgent(node);
      state.nodes[i]!.pid = pid;
      writeState(state);
      return pid;
    });
    await Promise.all(
      plan.nodes.map((node, i) => waitReady(node, pids[i]!, hooks.readyTimeoutMs ?? 60_000)),
    );
    const agentsMs = performance.now() - t1;
    say(`agents: ${plan.nodes.length} ready in ${Math.round(agentsMs)} ms`);
    state.phase = "up";
    writeState(state);
    return { plan, state, networkMs, agentsMs, totalMs: performance.now() - t0 };
  } catch (err) {
    state.phase = "failed";
    writeState(state);
    throw err;
  }
}
