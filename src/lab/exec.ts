// `lab exec POD -- CMD` (a command in the pod's network namespace and cgroup,
// as kubectl exec), `lab logs POD`, and `lab restart-agent NODE`.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FairwayError } from "../base/errors.ts";
import { netnsPath } from "../datapath/net/index.ts";
import { findLabAgents, startAgent, stopProcesses, waitReady } from "./agents.ts";
import { ProbeClient } from "./check/probe.ts";
import type { LabContext } from "./context.ts";
import { podEnv } from "./kubelet/pods.ts";
import { execInPod } from "./kubelet/process.ts";
import type { PodRecord } from "./kubelet/records.ts";
import type { Pod } from "./objects/types.ts";
import { writeState } from "./state.ts";

export function podRecord(
  lab: LabContext,
  namespace: string,
  name: string,
): { pod: Pod; rec: PodRecord } {
  const pod = lab.store.get("Pod", namespace, name) as Pod | undefined;
  if (!pod)
    throw new FairwayError("E_LAB_NOT_FOUND", `pods "${name}" not found in namespace ${namespace}`);
  const rec = lab.records().get(`${namespace}/${name}`);
  if (!rec?.ip)
    throw new FairwayError(
      "E_LAB_POD",
      `pod ${namespace}/${name} is not running (${pod.status?.phase ?? "Pending"}${pod.status?.message ? `: ${pod.status.message}` : ""})`,
    );
  return { pod, rec };
}

export function execPod(
  lab: LabContext,
  namespace: string,
  name: string,
  argv: string[],
  stdio: "inherit" | "pipe" = "inherit",
): ChildProcess {
  if (argv.length === 0)
    throw new FairwayError(
      "E_LAB_USAGE",
      "no command given: fairway lab exec POD -- COMMAND [ARGS...]",
    );
  const { pod, rec } = podRecord(lab, namespace, name);
  return execInPod(
    netnsPath(rec.netns),
    join(lab.cgroupMount, rec.cgroup),
    argv,
    podEnv(rec, pod.spec.containers[0]?.env),
    stdio,
  );
}

/** A probe client (the pod server's probe mode) running inside a pod, as lab check uses. */
export async function probeFromPod(
  lab: LabContext,
  namespace: string,
  name: string,
): Promise<ProbeClient> {
  const { pod, rec } = podRecord(lab, namespace, name);
  const { podServer } = await lab.kubelet();
  return ProbeClient.start(
    `${namespace}/${name}`,
    netnsPath(rec.netns),
    join(lab.cgroupMount, rec.cgroup),
    podServer,
    podEnv(rec, pod.spec.containers[0]?.env),
  );
}

export function podLogs(
  lab: LabContext,
  namespace: string,
  name: string,
  container?: string,
): string {
  const { rec } = podRecord(lab, namespace, name);
  const c = container ? rec.containers.find((x) => x.name === container) : rec.containers[0];
  if (!c)
    throw new FairwayError(
      "E_LAB_NOT_FOUND",
      `pod ${namespace}/${name} has no container "${container}"`,
    );
  return existsSync(c.logFile) ? readFileSync(c.logFile, "utf8") : "";
}

/** Stops a node's agent (if it runs) and starts it again; pods are left as they are. */
export async function restartAgent(
  lab: LabContext,
  nodeName: string,
  timeoutMs = 60_000,
): Promise<{ pid: number; ms: number }> {
  const node = lab.plan.nodes.find((n) => n.name === nodeName);
  const i = lab.state.nodes.findIndex((n) => n.name === nodeName);
  if (!node || i < 0)
    throw new FairwayError(
      "E_LAB_NOT_FOUND",
      `node ${nodeName} is not a node of this lab (${lab.plan.nodes.map((n) => n.name).join(", ")})`,
    );
  const t0 = performance.now();
  await stopProcesses(findLabAgents(lab.plan.stateDir, nodeName), 10_000);
  const pid = startAgent(node);
  lab.state.nodes[i]!.pid = pid;
  writeState(lab.state);
  await waitReady(node, pid, timeoutMs);
  return { pid, ms: performance.now() - t0 };
}
