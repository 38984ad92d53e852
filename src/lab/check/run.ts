// `lab check`: deploys its own pods and services (fixtures.ts), runs every
// scenario (scenarios.ts, then policy.ts) reporting each as it finishes, then
// removes what it deployed (unless keep). Holds the lab lock throughout.
import { join } from "node:path";
import { errorMessage } from "../../base/errors.ts";
import { netnsPath } from "../../datapath/net/index.ts";
import { applyDocs } from "../apply.ts";
import { ensureCgroup, removeCgroupTree, stopCgroup } from "../cgroups.ts";
import type { LabContext } from "../context.ts";
import { deleteObjects } from "../delete.ts";
import { checkPodNetwork, type KubeletContext } from "../kubelet/pods.ts";
import { withLabLock } from "../lock.ts";
import { parseText } from "../objects/parse.ts";
import type { Pod, Service } from "../objects/types.ts";
import { CHECK_NAMESPACE, checkManifest } from "./fixtures.ts";
import { POLICY_SCENARIOS } from "./policy.ts";
import { ProbeClient } from "./probe.ts";
import { type CheckEnv, SCENARIOS, type Scenario } from "./scenarios.ts";

export interface ScenarioResult {
  name: string;
  what: string;
  status: "pass" | "fail" | "skip";
  ms?: number;
  detail: string;
}

export interface CheckReport {
  results: ScenarioResult[];
  passed: number;
  failed: number;
  skipped: number;
  setupMs: number;
  totalMs: number;
}

export interface CheckHooks {
  keep?: boolean;
  onStart?(index: number, total: number, s: Scenario): void;
  onResult?(index: number, total: number, r: ScenarioResult): void;
}

export function checkScenarios(): readonly Scenario[] {
  return [...SCENARIOS, ...POLICY_SCENARIOS];
}

export function runCheck(lab: LabContext, hooks: CheckHooks = {}): Promise<CheckReport> {
  return withLabLock(lab.plan.stateDir, "check", () => check(lab, hooks));
}

async function check(lab: LabContext, hooks: CheckHooks): Promise<CheckReport> {
  const t0 = performance.now();
  const { docs } = parseText("lab check", checkManifest(lab.plan.nodes));
  const applied = await applyDocs(lab, docs);
  const setupMs = performance.now() - t0;
  const kubelet = await lab.kubelet();
  const hostCgroup = join(lab.cgroupMount, lab.plan.cgroup, "check");
  ensureCgroup(hostCgroup);
  const clients = new Map<string, ProbeClient>();
  const env = environment(lab, kubelet, (source) => {
    let c = clients.get(source);
    if (c) return c;
    const pod = lab.records().get(`${CHECK_NAMESPACE}/${source}`);
    const netns = pod ? pod.netns : source === "router" ? lab.plan.routerNetns : source;
    c = ProbeClient.start(
      source,
      netnsPath(netns),
      pod ? join(lab.cgroupMount, pod.cgroup) : hostCgroup,
      kubelet.podServer,
      {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
      },
    );
    clients.set(source, c);
    return c;
  });
  const all = checkScenarios();
  const results: ScenarioResult[] = [];
  try {
    for (const [i, s] of all.entries()) {
      hooks.onStart?.(i, all.length, s);
      const r = await runOne(s, env, lab.plan.nodes.length, applied.errors);
      results.push(r);
      hooks.onResult?.(i, all.length, r);
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await stopCgroup(hostCgroup, 500);
    removeCgroupTree(hostCgroup);
    if (!hooks.keep) await deleteObjects(lab, [{ kind: "Namespace", name: CHECK_NAMESPACE }], 500);
  }
  const count = (s: ScenarioResult["status"]) => results.filter((r) => r.status === s).length;
  return {
    results,
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
    setupMs,
    totalMs: performance.now() - t0,
  };
}

async function runOne(
  s: Scenario,
  env: CheckEnv,
  nodes: number,
  setupErrors: string[],
): Promise<ScenarioResult> {
  const base = { name: s.name, what: s.what };
  if (nodes < s.minNodes)
    return { ...base, status: "skip", detail: `needs ${s.minNodes} nodes (this lab has ${nodes})` };
  if (setupErrors.length > 0 && s.name !== "agents/ready")
    return {
      ...base,
      status: "fail",
      detail: `the check's pods did not start: ${setupErrors.join("; ")}`,
    };
  try {
    const o = await s.run(env);
    return { ...base, status: o.ok ? "pass" : "fail", ms: o.ms, detail: o.detail };
  } catch (err) {
    return { ...base, status: "fail", detail: errorMessage(err) };
  }
}

function environment(
  lab: LabContext,
  kubelet: KubeletContext,
  from: (source: string) => ProbeClient,
): CheckEnv {
  const pods = new Map<string, { ip: string; node: string }>();
  for (const p of lab.store.pods(CHECK_NAMESPACE) as Pod[]) {
    if (p.status?.podIP)
      pods.set(p.metadata.name, { ip: p.status.podIP, node: p.spec.nodeName ?? "" });
  }
  const svc = (name: string) =>
    lab.store.get("Service", CHECK_NAMESPACE, name) as Service | undefined;
  const np = svc("echo-nodeport")?.spec.ports ?? [];
  return {
    nodes: lab.plan.nodes.map((n) => ({ name: n.name, vpcIp: n.vpcIp, socket: n.socket })),
    pods,
    clusterIP: svc("echo")?.spec.clusterIP ?? "",
    nodePort: {
      tcp: np.find((p) => p.protocol === "TCP")?.nodePort ?? 0,
      udp: np.find((p) => p.protocol === "UDP")?.nodePort ?? 0,
    },
    from,
    async cniCheckAll() {
      const records = [...lab.records().values()].filter((r) => r.ip);
      const failures: string[] = [];
      await Promise.all(
        records.map((r) =>
          checkPodNetwork(kubelet, r).catch((err: unknown) =>
            failures.push(`${r.namespace}/${r.name}: ${errorMessage(err)}`),
          ),
        ),
      );
      return { pods: records.length, failures };
    },
  };
}
