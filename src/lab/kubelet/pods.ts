// The lab's kubelet for one pod: sandbox (network namespace + cgroup), CNI
// ADD through the node's own plugin and config, then each container's process;
// and the way back: processes, CNI DEL, namespace, cgroup, record.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { errorMessage, FairwayError } from "../../base/errors.ts";
import {
  createNetns,
  deleteNetns,
  netnsExists,
  netnsPath,
  setLinkUp,
} from "../../datapath/net/index.ts";
import { ensureCgroup, pidInCgroup, removeCgroupTree, stopCgroup } from "../cgroups.ts";
import type { Pod } from "../objects/types.ts";
import { type LabPlan, type NodePlan, podNetnsName } from "../plan.ts";
import { type CniCall, type CniRuntime, cniAdd, cniCheck, cniDel } from "./cni.ts";
import { containerCommand } from "./images.ts";
import { containerExits, listeningPorts, startContainer } from "./process.ts";
import { type PodRecord, podDir, removeRecord, writeRecord } from "./records.ts";

export interface KubeletContext {
  plan: LabPlan;
  cgroupMount: string;
  /** argv that runs the pod server (see podserver/runner.ts) */
  podServer: string[];
  /** the supervisor script (process.ts) */
  supervisor: string;
}

export interface PodStarted {
  record: PodRecord;
  /** ms: sandbox, CNI ADD, process start */
  timings: { sandboxMs: number; cniMs: number; startMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function nodeOf(plan: LabPlan, name: string): NodePlan {
  const node = plan.nodes.find((n) => n.name === name);
  if (!node) throw new FairwayError("E_LAB_POD", `node ${name} is not a node of this lab`);
  return node;
}

const runtimeOf = (node: NodePlan): CniRuntime => ({
  confDir: node.cniConfDir,
  binDir: node.cniBinDir,
});

function cniCall(rec: PodRecord): CniCall {
  return {
    containerId: rec.containerId,
    netns: netnsPath(rec.netns),
    ifName: "eth0",
    args: {
      K8S_POD_NAMESPACE: rec.namespace,
      K8S_POD_NAME: rec.name,
      K8S_POD_INFRA_CONTAINER_ID: rec.containerId,
      K8S_POD_UID: rec.uid,
    },
    ...(rec.cniResult ? { prevResult: rec.cniResult } : {}),
  };
}

export function podEnv(
  rec: PodRecord,
  extra: { name: string; value?: string }[] = [],
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: process.env.HOME ?? "/root",
    HOSTNAME: rec.name,
    POD_NAME: rec.name,
    POD_NAMESPACE: rec.namespace,
    POD_UID: rec.uid,
    POD_IP: rec.ip ?? "",
    NODE_NAME: rec.node,
  };
  for (const e of extra) env[e.name] = e.value ?? "";
  return env;
}

/** Sandbox, CNI ADD, containers. On failure everything made so far is undone and the error thrown. */
export async function runPod(ctx: KubeletContext, pod: Pod): Promise<PodStarted> {
  const { plan } = ctx;
  const ns = pod.metadata.namespace!;
  const name = pod.metadata.name;
  const node = nodeOf(plan, pod.spec.nodeName!);
  const dir = podDir(plan.podsDir, ns, name);
  const rec: PodRecord = {
    namespace: ns,
    name,
    uid: pod.metadata.uid ?? "",
    node: node.name,
    containerId: `lab-${randomBytes(12).toString("hex")}`,
    netns: podNetnsName(plan.prefix, ns, name),
    cgroup: `${node.cgroup}/${ns}_${name}`,
    createdAt: new Date().toISOString(),
    containers: pod.spec.containers.map((c) => ({
      name: c.name,
      argv: [],
      logFile: join(dir, `${c.name}.log`),
      statusFile: join(dir, `${c.name}.exits`),
    })),
  };
  writeRecord(plan.podsDir, rec);
  const t0 = performance.now();
  let added = false;
  try {
    ensureCgroup(join(ctx.cgroupMount, rec.cgroup));
    if (netnsExists(rec.netns)) await deleteNetns(rec.netns, { ifExists: true });
    await createNetns(rec.netns);
    await setLinkUp("lo", { netns: netnsPath(rec.netns) });
    const t1 = performance.now();
    const add = await cniAdd(runtimeOf(node), cniCall(rec));
    added = true;
    rec.cniResult = add.result;
    rec.ip = add.ip;
    writeRecord(plan.podsDir, rec);
    const t2 = performance.now();
    pod.spec.containers.forEach((c, i) => {
      const cmd = containerCommand(c);
      const cr = rec.containers[i]!;
      cr.argv = cmd.kind === "pod-server" ? [...ctx.podServer, ...cmd.argv] : cmd.argv;
      cr.pid = startContainer({
        supervisor: ctx.supervisor,
        netnsPath: netnsPath(rec.netns),
        cgroupPath: join(ctx.cgroupMount, rec.cgroup),
        argv: cr.argv,
        env: podEnv(rec, c.env),
        cwd: dir,
        logFile: cr.logFile,
        statusFile: cr.statusFile,
        restartPolicy: pod.spec.restartPolicy ?? "Always",
      });
    });
    writeRecord(plan.podsDir, rec);
    return {
      record: rec,
      timings: { sandboxMs: t1 - t0, cniMs: t2 - t1, startMs: performance.now() - t2 },
    };
  } catch (err) {
    await stopPod(ctx, rec, 0, added).catch(() => {});
    throw err;
  }
}

/** Waits until every declared port listens; false (with why) when timeoutMs passes or a container exits. */
export async function waitPodReady(
  pod: Pod,
  rec: PodRecord,
  timeoutMs: number,
): Promise<{ ready: boolean; reason?: string }> {
  const want = pod.spec.containers.flatMap((c) =>
    (c.ports ?? [])
      .filter((p) => (p.protocol ?? "TCP") !== "SCTP")
      .map((p) => `${p.containerPort}/${p.protocol ?? "TCP"}`),
  );
  const pid = rec.containers[0]?.pid;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const c of rec.containers) {
      if (containerExits(c.statusFile).exits > 0)
        return {
          ready: false,
          reason: `container ${c.name} exited; see fairway lab logs ${rec.name} -n ${rec.namespace}`,
        };
    }
    if (pid === undefined) return { ready: false, reason: "no container started" };
    const listening = listeningPorts(pid);
    const missing = want.filter((p) => !listening.has(p));
    if (missing.length === 0) return { ready: true };
    if (performance.now() > deadline)
      return {
        ready: false,
        reason: `not listening on ${missing.join(", ")} after ${timeoutMs} ms`,
      };
    await sleep(5);
  }
}

/**
 * Stops the containers (SIGTERM, SIGKILL after graceMs), CNI DEL, removes the
 * namespace, the cgroup and the record. Returns problems that did not stop it
 * (a failed DEL: the agent's GC finds the endpoint later).
 */
export async function stopPod(
  ctx: KubeletContext,
  rec: PodRecord,
  graceMs: number,
  del = true,
): Promise<string[]> {
  const problems: string[] = [];
  const cgroup = join(ctx.cgroupMount, rec.cgroup);
  await stopCgroup(cgroup, graceMs);
  if (del) {
    try {
      await cniDel(runtimeOf(nodeOf(ctx.plan, rec.node)), cniCall(rec));
    } catch (err) {
      problems.push(`pod ${rec.namespace}/${rec.name}: ${errorMessage(err)}`);
    }
  }
  await deleteNetns(rec.netns, { ifExists: true });
  removeCgroupTree(cgroup);
  removeRecord(ctx.plan.podsDir, rec.namespace, rec.name);
  return problems;
}

/** CNI CHECK of a running pod, with its ADD result as prevResult (as a runtime does). */
export async function checkPodNetwork(ctx: KubeletContext, rec: PodRecord): Promise<void> {
  await cniCheck(runtimeOf(nodeOf(ctx.plan, rec.node)), cniCall(rec));
}

export interface LiveState {
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  /** kubectl's STATUS column */
  status: string;
  ready: number;
  restarts: number;
}

/** What the pod's processes say now (kubelet's status sync, done when asked). */
export function liveState(pod: Pod, rec: PodRecord | undefined): LiveState {
  const total = pod.spec.containers.length;
  const stored = pod.status?.phase ?? "Pending";
  if (!rec || rec.containers.some((c) => c.pid === undefined)) {
    const status = stored === "Failed" ? (pod.status?.reason ?? "Failed") : "ContainerCreating";
    return { phase: stored === "Failed" ? "Failed" : "Pending", status, ready: 0, restarts: 0 };
  }
  let running = 0;
  let restarts = 0;
  let failed = false;
  let backoff = false;
  for (const c of rec.containers) {
    const exits = containerExits(c.statusFile);
    const supervised = pidInCgroup(c.pid!, rec.cgroup);
    // Exits the supervisor restarted from; a final exit is not a restart.
    restarts += supervised ? exits.exits : Math.max(0, exits.exits - 1);
    if (supervised && exits.running) running++;
    else if (supervised) backoff = true;
    else if (exits.lastExit !== 0) failed = true;
  }
  const readyCond = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  if (running === total)
    return { phase: "Running", status: "Running", ready: readyCond ? total : 0, restarts };
  if (backoff) return { phase: "Running", status: "CrashLoopBackOff", ready: 0, restarts };
  if (running > 0) return { phase: "Running", status: "NotReady", ready: 0, restarts };
  return failed
    ? { phase: "Failed", status: "Error", ready: 0, restarts }
    : { phase: "Succeeded", status: "Completed", ready: 0, restarts };
}
