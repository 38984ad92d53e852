// Pod status as the kubelet reports it: scheduling, the phase, addresses,
// conditions and container statuses; and the status sync that notices
// processes that exited since (run by every mutating lab command).
import type { LabContext } from "./context.ts";
import type { PodStarted } from "./kubelet/pods.ts";
import { liveState } from "./kubelet/pods.ts";
import { syncEndpointSlices } from "./objects/endpointslices.ts";
import type { Pod, PodCondition, PodStatus } from "./objects/types.ts";
import type { LabPlan } from "./plan.ts";

const condition = (type: string, ok: boolean, now: string, reason?: string): PodCondition => ({
  type,
  status: ok ? "True" : "False",
  lastTransitionTime: now,
  ...(reason ? { reason } : {}),
});

/** The node with the fewest pods (the first such in node order). */
export function schedule(plan: LabPlan, pods: readonly Pod[]): string {
  const counts = new Map(plan.nodes.map((n) => [n.name, 0]));
  for (const p of pods) {
    const n = p.spec.nodeName;
    if (n && counts.has(n)) counts.set(n, counts.get(n)! + 1);
  }
  let best = plan.nodes[0]!.name;
  for (const [name, count] of counts) if (count < counts.get(best)!) best = name;
  return best;
}

export function pendingStatus(): PodStatus {
  const now = new Date().toISOString();
  return { phase: "Pending", conditions: [condition("PodScheduled", true, now)] };
}

export function failedStatus(reason: string, message: string): PodStatus {
  const now = new Date().toISOString();
  return {
    phase: "Failed",
    reason,
    message,
    conditions: [condition("PodScheduled", true, now), condition("Ready", false, now, reason)],
  };
}

export function runningStatus(
  pod: Pod,
  started: PodStarted,
  hostIP: string,
  ready: boolean,
): PodStatus {
  const now = new Date().toISOString();
  const rec = started.record;
  return {
    phase: "Running",
    podIP: rec.ip!,
    podIPs: [{ ip: rec.ip! }],
    hostIP,
    startTime: rec.createdAt,
    conditions: [
      condition("PodScheduled", true, now),
      condition("Initialized", true, now),
      condition("ContainersReady", ready, now),
      condition("Ready", ready, now),
    ],
    containerStatuses: pod.spec.containers.map((c) => ({
      name: c.name,
      containerID: `lab://${rec.containerId}`,
      image: c.image ?? "",
      ready,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: now } },
    })),
  };
}

/**
 * Kubelet's status sync: pods whose processes exited become Failed or
 * Succeeded (not ready), restart counts are updated; then the EndpointSlices
 * follow. Returns the EndpointSlice controller's notes.
 */
export function syncPodStatus(lab: LabContext): string[] {
  const records = lab.records();
  for (const pod of lab.store.pods()) {
    const status = pod.status;
    if (!status || status.phase === "Pending" || status.phase === "Failed") continue;
    const live = liveState(pod, records.get(`${pod.metadata.namespace}/${pod.metadata.name}`));
    const ready = live.phase === "Running" && live.ready > 0;
    const wasReady =
      status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    const restarts = status.containerStatuses?.reduce((n, c) => n + c.restartCount, 0) ?? 0;
    if (live.phase === status.phase && ready === wasReady && live.restarts === restarts) continue;
    status.phase = live.phase;
    const now = new Date().toISOString();
    status.conditions = (status.conditions ?? []).map((c) =>
      c.type === "Ready" || c.type === "ContainersReady" ? condition(c.type, ready, now) : c,
    );
    for (const c of status.containerStatuses ?? []) {
      c.ready = ready;
      c.restartCount = live.restarts;
    }
    lab.store.put(pod);
  }
  return syncEndpointSlices(lab.store);
}
