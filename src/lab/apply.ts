// `lab apply -f`: the API server (validation, admission, allocation), the
// scheduler, the kubelet and the EndpointSlice controller in one pass. The
// whole input is checked first; if anything in it is wrong, nothing is
// written and every problem is listed. Pods are then started in parallel and
// the command returns once each listens on its declared ports (or failed).
import { errorMessage, FairwayError } from "../base/errors.ts";
import type { LabContext } from "./context.ts";
import { waitForServices } from "./converge.ts";
import { commandProblems, containerCommand } from "./kubelet/images.ts";
import { liveState, runPod, stopPod, waitPodReady } from "./kubelet/pods.ts";
import { admit } from "./objects/admit.ts";
import { selects } from "./objects/endpointslices.ts";
import { type InputDoc, readInputs } from "./objects/parse.ts";
import { type LabObject, type Pod, refOf, type Service } from "./objects/types.ts";
import { checkDocument } from "./objects/validate.ts";
import {
  failedStatus,
  pendingStatus,
  runningStatus,
  schedule,
  syncPodStatus,
} from "./podstatus.ts";

export interface ApplyLine {
  ref: string;
  namespace?: string;
  action: "created" | "configured" | "unchanged" | "restarted" | "failed";
  /** pods: ms from writing the pod object until it listened on its declared ports */
  readyMs?: number;
  ip?: string;
  node?: string;
}

export interface ApplyReport {
  lines: ApplyLine[];
  warnings: string[];
  /** pods that could not be started (their status says why) */
  errors: string[];
  /** ms until every running agent had programmed the services as written */
  servicesMs: number;
}

const ORDER = ["Namespace", "NetworkPolicy", "Service", "EndpointSlice", "Pod"];
/** How long a new pod may take to listen on its ports before apply calls it not ready. */
export const READY_TIMEOUT_MS = 10_000;
/** How long apply waits for the agents to program the services. */
export const CONVERGE_TIMEOUT_MS = 10_000;

/** Checks everything; throws E_LAB_INVALID listing every problem. Pure but for reading the lab. */
export function prepare(lab: LabContext, docs: InputDoc[], parseProblems: string[]) {
  const problems = [...parseProblems];
  const warnings: string[] = [];
  const batch: LabObject[] = [];
  for (const doc of docs) {
    const c = checkDocument(doc.value);
    problems.push(...c.problems.map((p) => `${doc.where}: ${p}`));
    warnings.push(...c.warnings);
    if (c.object) batch.push(c.object);
  }
  if (problems.length === 0) {
    problems.push(...admit(batch, { store: lab.store, nodes: lab.plan.nodes.map((n) => n.name) }));
    for (const pod of batch.filter((o): o is Pod => o.kind === "Pod")) {
      for (const c of pod.spec.containers) {
        problems.push(...commandProblems(c).map((p) => `${refOf(pod)}: ${p}`));
        const w = containerCommand(c).warning;
        if (w) warnings.push(`${refOf(pod)}: ${w}`);
      }
    }
  }
  if (problems.length > 0) {
    throw new FairwayError(
      "E_LAB_INVALID",
      `${problems.length === 1 ? "a problem" : `${problems.length} problems`} in the input; nothing was applied:\n  ${problems.join("\n  ")}`,
      { details: { problems } },
    );
  }
  batch.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  return { batch, warnings };
}

export async function applyFiles(lab: LabContext, paths: readonly string[]): Promise<ApplyReport> {
  const { docs, problems } = readInputs(paths);
  return applyDocs(
    lab,
    docs,
    problems.map((p) => `${p.where}: ${p.message}`),
  );
}

export async function applyDocs(
  lab: LabContext,
  docs: InputDoc[],
  parseProblems: string[] = [],
): Promise<ApplyReport> {
  syncPodStatus(lab);
  const { batch, warnings } = prepare(lab, docs, parseProblems);
  const lines: ApplyLine[] = [];
  const errors: string[] = [];
  const toRun: { pod: Pod; line: ApplyLine; t0: number }[] = [];
  const records = lab.records();
  for (const o of batch) {
    const line: ApplyLine = {
      ref: refOf(o),
      action: "unchanged",
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    };
    lines.push(line);
    if (o.kind !== "Pod") {
      if (o.kind === "Namespace") o.status = { phase: "Active" };
      line.action = lab.store.put(o);
      continue;
    }
    const pod = o as Pod;
    const old = lab.store.get("Pod", pod.metadata.namespace, pod.metadata.name) as Pod | undefined;
    const rec = records.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    if (old && liveState(old, rec).phase === "Running") {
      pod.spec.nodeName = old.spec.nodeName;
      pod.status = old.status;
      line.action = lab.store.put(pod);
      continue;
    }
    if (old && rec) await stopPod(await lab.kubelet(), rec, 2000);
    const t0 = performance.now();
    pod.spec.nodeName ??= schedule(lab.plan, lab.store.pods());
    pod.status = pendingStatus();
    line.action = old ? "restarted" : lab.store.put(pod);
    if (old) lab.store.put(pod);
    toRun.push({ pod, line, t0 });
  }
  if (toRun.length > 0) {
    const kubelet = await lab.kubelet();
    await Promise.all(toRun.map((r) => startOne(lab, kubelet, r, errors)));
  }
  warnings.push(...syncPodStatus(lab));
  warnings.push(...selectorWarnings(lab, batch));
  const c = await waitForServices(lab, CONVERGE_TIMEOUT_MS);
  if (!c.converged)
    warnings.push(
      `the agents have not programmed every service after ${Math.round(c.ms)} ms: ${c.pending.slice(0, 5).join("; ")}`,
    );
  return { lines, warnings, errors, servicesMs: c.ms };
}

async function startOne(
  lab: LabContext,
  kubelet: Awaited<ReturnType<LabContext["kubelet"]>>,
  { pod, line, t0 }: { pod: Pod; line: ApplyLine; t0: number },
  errors: string[],
): Promise<void> {
  const node = lab.plan.nodes.find((n) => n.name === pod.spec.nodeName)!;
  try {
    const started = await runPod(kubelet, pod);
    const r = await waitPodReady(pod, started.record, READY_TIMEOUT_MS);
    pod.status = runningStatus(pod, started, node.vpcIp, r.ready);
    line.ip = started.record.ip!;
    line.node = node.name;
    if (r.ready) line.readyMs = Math.round(performance.now() - t0);
    else errors.push(`${refOf(pod)}: not ready: ${r.reason}`);
  } catch (err) {
    pod.status = failedStatus("CreateFailed", errorMessage(err));
    line.action = "failed";
    errors.push(`${refOf(pod)}: ${errorMessage(err)}`);
  }
  const stored = lab.store.get("Pod", pod.metadata.namespace, pod.metadata.name) as Pod;
  stored.status = pod.status;
  stored.spec.nodeName = pod.spec.nodeName;
  lab.store.put(stored);
}

/** "selects no pods" for the batch's services with a selector. */
function selectorWarnings(lab: LabContext, batch: LabObject[]): string[] {
  const pods = lab.store.pods();
  return batch
    .filter((o): o is Service => o.kind === "Service")
    .filter((s) => s.spec.selector && Object.keys(s.spec.selector).length > 0)
    .filter((s) => !pods.some((p) => selects(s, p)))
    .map((s) => {
      const sel = Object.entries(s.spec.selector!)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      return `${refOf(s)}: selects no pods in namespace ${s.metadata.namespace} (selector ${sel}); it has no endpoints until such pods exist`;
    });
}
