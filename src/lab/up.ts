// `lab up`: the VPC and router, each node's namespace, cgroup and agent, the
// cluster objects, the outside server, then the demo app (or -f manifests)
// through the same path as `lab apply`. Every step is recorded in the state
// file before it is taken, so `down` can undo an interrupted `up`.
import { join } from "node:path";
import { FairwayError } from "../base/errors.ts";
import { startAgent, waitReady, writeAgentConfig } from "./agents.ts";
import { type ApplyReport, applyDocs } from "./apply.ts";
import { cgroup2Mount, ensureCgroup } from "./cgroups.ts";
import { startOutside, writeClusterObjects } from "./cluster-objects.ts";
import { openLab } from "./context.ts";
import { DEMO_MANIFEST } from "./demo.ts";
import { withLabLock } from "./lock.ts";
import { buildNode, buildVpc, routePodCIDRs } from "./network.ts";
import { type InputDoc, parseText, readInputs } from "./objects/parse.ts";
import { checkDocument } from "./objects/validate.ts";
import { type LabOptions, type LabPlan, planLab } from "./plan.ts";
import { type LabState, readState, writeState } from "./state.ts";

export interface UpOptions extends LabOptions {
  /** manifests to apply instead of the demo app */
  manifests?: string[];
  /** false: no demo app (ignored with manifests) */
  demo?: boolean;
}

export interface UpResult {
  plan: LabPlan;
  state: LabState;
  networkMs: number;
  agentsMs: number;
  podsMs: number;
  totalMs: number;
  apply?: ApplyReport;
}

export interface UpHooks {
  /** progress lines for people */
  say?(line: string): void;
  readyTimeoutMs?: number;
}

/** The documents to apply after the nodes, checked before anything is built. */
function workload(o: UpOptions): InputDoc[] {
  const { docs, problems } = o.manifests?.length
    ? readInputs(o.manifests)
    : o.demo === false
      ? { docs: [], problems: [] }
      : parseText("demo app", DEMO_MANIFEST);
  const all = problems.map((p) => `${p.where}: ${p.message}`);
  for (const doc of docs)
    all.push(...checkDocument(doc.value).problems.map((p) => `${doc.where}: ${p}`));
  if (all.length > 0) {
    throw new FairwayError(
      "E_LAB_INVALID",
      `the manifests have problems; nothing was built:\n  ${all.join("\n  ")}`,
    );
  }
  return docs;
}

export async function labUp(options: UpOptions, hooks: UpHooks = {}): Promise<UpResult> {
  const plan = planLab(options);
  const existing = readState(plan.stateDir);
  if (existing) {
    throw new FairwayError(
      "E_LAB_EXISTS",
      `a lab is already recorded in ${plan.stateFile} (phase ${existing.phase}); remove it first with fairway lab down`,
    );
  }
  const docs = workload(options);
  const cgroupMount = cgroup2Mount();
  return withLabLock(plan.stateDir, "up", () => build(plan, docs, cgroupMount, hooks));
}

async function build(
  plan: LabPlan,
  docs: InputDoc[],
  cgroupMount: string,
  hooks: UpHooks,
): Promise<UpResult> {
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
    cgroupMount,
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
      ensureCgroup(join(cgroupMount, node.cgroup));
      writeAgentConfig(plan, node, cgroupMount);
      const pid = startAgent(node);
      state.nodes[i]!.pid = pid;
      writeState(state);
      return pid;
    });
    const lab = openLab(plan.stateDir, state);
    writeClusterObjects(lab.store, plan);
    // The pod server is built (source tree) while the agents start.
    const kubelet = lab.kubelet();
    kubelet.catch(() => {}); // awaited below; a failure there is reported there
    await Promise.all(
      plan.nodes.map((node, i) => waitReady(node, pids[i]!, hooks.readyTimeoutMs ?? 60_000)),
    );
    const agentsMs = performance.now() - t1;
    say(`agents: ${plan.nodes.length} ready in ${Math.round(agentsMs)} ms`);
    state.outsidePid = startOutside(plan, cgroupMount, await kubelet);
    writeState(state);
    const t2 = performance.now();
    const apply = docs.length > 0 ? await applyDocs(lab, docs) : undefined;
    const podsMs = performance.now() - t2;
    if (apply) {
      const pods = apply.lines.filter((l) => l.ref.startsWith("pod/")).length;
      say(
        `workload: ${apply.lines.length} objects, ${pods} pods running in ${Math.round(podsMs)} ms`,
      );
    }
    state.phase = "up";
    writeState(state);
    return {
      plan,
      state,
      networkMs,
      agentsMs,
      podsMs,
      totalMs: performance.now() - t0,
      ...(apply ? { apply } : {}),
    };
  } catch (err) {
    state.phase = "failed";
    writeState(state);
    throw err;
  }
}
