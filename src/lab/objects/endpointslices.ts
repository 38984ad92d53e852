// The lab's EndpointSlice controller, pure: Services with a selector and the
// pods they select -> discovery.k8s.io/v1 EndpointSlices, as kube-controller-
// manager derives them. A named targetPort is resolved per pod from its
// container ports, so pods that resolve a port differently land in different
// slices (one slice per distinct port set). A pod that lacks the named port is
// left out of that port, with a note.
import { createHash } from "node:crypto";
import { matchesSelector } from "../../cluster/index.ts";
import { canonical, type ObjectStore } from "./store.ts";
import {
  type EndpointSlice,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type Pod,
  type Protocol,
  SERVICE_NAME_LABEL,
  type Service,
  type ServicePort,
} from "./types.ts";

type SlicePort = EndpointSlice["ports"][number];

/** A pod is an endpoint once it has an address and is not finished; ready when its Ready condition is. */
export function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function isEndpoint(pod: Pod): boolean {
  return !!pod.status?.podIP && pod.status.phase !== "Succeeded" && pod.status.phase !== "Failed";
}

/** The pod's port for a service port, or undefined when a named targetPort is not among its ports. */
export function resolvePort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === "number") return target;
  const protocol = sp.protocol ?? "TCP";
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol ?? "TCP") === protocol) return p.containerPort;
    }
  }
  return undefined;
}

export function selects(svc: Service, pod: Pod): boolean {
  const selector = svc.spec.selector;
  if (!selector || Object.keys(selector).length === 0) return false;
  return (
    pod.metadata.namespace === svc.metadata.namespace &&
    matchesSelector({ matchLabels: selector }, pod.metadata.labels)
  );
}

/** The service's slices, and notes about pods left out of a port. */
export function slicesFor(
  svc: Service,
  pods: readonly Pod[],
): { slices: EndpointSlice[]; notes: string[] } {
  const notes: string[] = [];
  const groups = new Map<string, { ports: SlicePort[]; endpoints: EndpointSlice["endpoints"] }>();
  for (const pod of pods.filter((p) => selects(svc, p) && isEndpoint(p))) {
    const ports: SlicePort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = resolvePort(pod, sp);
      if (port === undefined) {
        notes.push(
          `service ${svc.metadata.namespace}/${svc.metadata.name}: pod ${pod.metadata.name} has no container port named "${String(sp.targetPort)}" (${sp.protocol ?? "TCP"}); it is left out of that port`,
        );
        continue;
      }
      ports.push({
        name: sp.name ?? "",
        protocol: (sp.protocol ?? "TCP") as Protocol,
        port,
        ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}),
      });
    }
    if (ports.length === 0 && (svc.spec.ports ?? []).length > 0) continue;
    const key = canonical(ports);
    const group = groups.get(key) ?? { ports, endpoints: [] };
    const ready = podReady(pod);
    group.endpoints.push({
      addresses: [pod.status!.podIP!],
      conditions: { ready, serving: ready, terminating: false },
      ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: {
        kind: "Pod",
        namespace: pod.metadata.namespace!,
        name: pod.metadata.name,
        uid: pod.metadata.uid ?? "",
      },
    });
    groups.set(key, group);
  }
  const slices = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, g]) => slice(svc, key, g.ports, g.endpoints));
  return { slices, notes };
}

function slice(
  svc: Service,
  portsKey: string,
  ports: SlicePort[],
  endpoints: EndpointSlice["endpoints"],
): EndpointSlice {
  const hash = createHash("sha256")
    .update(`${svc.metadata.uid ?? ""}/${portsKey}`)
    .digest("hex")
    .slice(0, 5);
  endpoints.sort((a, b) => (a.targetRef!.name < b.targetRef!.name ? -1 : 1));
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${svc.metadata.name}-${hash}`,
      namespace: svc.metadata.namespace!,
      labels: { [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: "v1",
          kind: "Service",
          name: svc.metadata.name,
          uid: svc.metadata.uid ?? "",
          controller: true,
        },
      ],
    },
    addressType: "IPv4",
    endpoints,
    ports,
  };
}

/** Brings the store's managed slices to what the services and pods say. Returns notes. */
export function syncEndpointSlices(store: ObjectStore): string[] {
  const pods = store.pods();
  const want = new Map<string, EndpointSlice>();
  const notes: string[] = [];
  for (const svc of store.services()) {
    const r = slicesFor(svc, pods);
    notes.push(...r.notes);
    for (const s of r.slices) want.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  }
  for (const old of store.list("EndpointSlice")) {
    if (old.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) continue;
    const key = `${old.metadata.namespace}/${old.metadata.name}`;
    const next = want.get(key);
    if (!next) store.remove(old);
    else next.metadata.creationTimestamp = old.metadata.creationTimestamp;
  }
  for (const s of want.values()) store.put(s);
  return notes;
}
