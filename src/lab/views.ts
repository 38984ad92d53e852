// `lab get`: kubectl's tables for the lab's objects (pods, services, nodes,
// policies, endpointslices, namespaces), with -o wide columns, and the objects
// themselves for -o json|yaml. Pod status is read live from the processes.
import { FairwayError } from "../base/errors.ts";
import type { LabContext } from "./context.ts";
import { kindOf } from "./delete.ts";
import { liveState } from "./kubelet/pods.ts";
import {
  type EndpointSlice,
  LAB_KINDS,
  type LabObject,
  POLICY_KINDS,
  type Pod,
  type Service,
} from "./objects/types.ts";

export interface GetOptions {
  /** "pods", "svc", ... */
  resource: string;
  names?: string[];
  /** undefined: all namespaces */
  namespace?: string;
  wide?: boolean;
  /** node readiness, asked of the agents (lab get nodes) */
  nodeReady?: Map<string, boolean>;
}

export interface GetResult {
  kind: string;
  headers: string[];
  rows: string[][];
  objects: LabObject[];
}

/** kubectl's AGE: 42s, 5m, 3h, 2d. */
export function age(since: string | undefined, now = Date.now()): string {
  const t = since ? Date.parse(since) : Number.NaN;
  if (Number.isNaN(t)) return "<unknown>";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const sel = (m: Record<string, string> | undefined) =>
  m && Object.keys(m).length > 0
    ? Object.entries(m)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")
    : "<none>";

function portsOf(s: Service): string {
  const ports = s.spec.ports ?? [];
  if (ports.length === 0) return "<none>";
  return ports
    .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
    .join(",");
}

type Columns = {
  headers: string[];
  wide: string[];
  row(o: LabObject): string[];
  wideRow(o: LabObject): string[];
};

function columns(lab: LabContext, kind: string, o: GetOptions): Columns {
  const records = lab.records();
  switch (kind) {
    case "Pod":
      return {
        headers: ["name", "ready", "status", "restarts", "age"],
        wide: ["ip", "node"],
        row: (x) => {
          const p = x as Pod;
          const live = liveState(p, records.get(`${p.metadata.namespace}/${p.metadata.name}`));
          return [
            p.metadata.name,
            `${live.ready}/${p.spec.containers.length}`,
            live.status,
            String(live.restarts),
            age(p.metadata.creationTimestamp),
          ];
        },
        wideRow: (x) => [
          (x as Pod).status?.podIP ?? "<none>",
          (x as Pod).spec.nodeName ?? "<none>",
        ],
      };
    case "Service":
      return {
        headers: ["name", "type", "cluster-ip", "external-ip", "port(s)", "age"],
        wide: ["selector"],
        row: (x) => {
          const s = x as Service;
          const ext =
            s.spec.type === "LoadBalancer"
              ? "<pending>"
              : s.spec.type === "ExternalName"
                ? (s.spec.externalName ?? "")
                : "<none>";
          return [
            s.metadata.name,
            s.spec.type ?? "ClusterIP",
            s.spec.clusterIP ?? "<none>",
            ext,
            portsOf(s),
            age(s.metadata.creationTimestamp),
          ];
        },
        wideRow: (x) => [sel((x as Service).spec.selector)],
      };
    case "Node":
      return {
        headers: ["name", "status", "roles", "age", "version"],
        wide: ["internal-ip", "pod-cidr", "agent-pid"],
        row: (x) => [
          x.metadata.name,
          o.nodeReady?.get(x.metadata.name) ? "Ready" : "NotReady",
          "<none>",
          age(x.metadata.creationTimestamp),
          "fairway-lab",
        ],
        wideRow: (x) => {
          const spec = x.spec as { podCIDR?: string };
          const node = lab.state.nodes.find((n) => n.name === x.metadata.name);
          return [node?.vpcIp ?? "", spec.podCIDR ?? "", String(node?.pid ?? "-")];
        },
      };
    case "NetworkPolicy":
    case "FairwayNetworkPolicy":
    case "FairwayClusterwideNetworkPolicy":
      return {
        headers: ["kind", "name", "selector", "age"],
        wide: ["policy-types"],
        row: (x) => [x.kind, x.metadata.name, policySelector(x), age(x.metadata.creationTimestamp)],
        wideRow: (x) => [policyTypes(x)],
      };
    case "EndpointSlice":
      return {
        headers: ["name", "addresstype", "ports", "endpoints", "age"],
        wide: ["service"],
        row: (x) => {
          const s = x as EndpointSlice;
          const ports = s.ports.map((p) => String(p.port)).join(",") || "<unset>";
          const eps = s.endpoints.flatMap((e) => e.addresses);
          const shown =
            eps.length > 3
              ? `${eps.slice(0, 3).join(",")} + ${eps.length - 3} more...`
              : eps.join(",") || "<unset>";
          return [s.metadata.name, s.addressType, ports, shown, age(s.metadata.creationTimestamp)];
        },
        wideRow: (x) => [x.metadata.labels?.["kubernetes.io/service-name"] ?? ""],
      };
    case "Namespace":
      return {
        headers: ["name", "status", "age"],
        wide: [],
        row: (x) => [
          x.metadata.name,
          (x.status as { phase?: string } | undefined)?.phase ?? "Active",
          age(x.metadata.creationTimestamp),
        ],
        wideRow: () => [],
      };
    default:
      throw new FairwayError("E_LAB_USAGE", `cannot list ${kind}`);
  }
}

/** "policies" means every policy kind the lab holds: NetworkPolicy and Fairway's. */
function kindsOf(resource: string): string[] {
  if (["policies", "policy", "pol"].includes(resource.toLowerCase())) return POLICY_KINDS;
  return [kindOf(resource)];
}

type PolicySpec = {
  podSelector?: { matchLabels?: Record<string, string> };
  endpointSelector?: { matchLabels?: Record<string, string> };
  policyTypes?: string[];
  ingress?: unknown;
  egress?: unknown;
};

function policySelector(x: LabObject): string {
  const spec = (x.spec ?? {}) as PolicySpec;
  return sel((spec.podSelector ?? spec.endpointSelector)?.matchLabels);
}

function policyTypes(x: LabObject): string {
  const spec = (x.spec ?? {}) as PolicySpec;
  if (spec.policyTypes) return spec.policyTypes.join(",");
  return (
    [spec.ingress !== undefined ? "Ingress" : "", spec.egress !== undefined ? "Egress" : ""]
      .filter(Boolean)
      .join(",") || "Ingress"
  );
}

export function getObjects(lab: LabContext, o: GetOptions): GetResult {
  const kinds = kindsOf(o.resource);
  const kind = kinds[0]!;
  const isNamespaced = (k: string) => LAB_KINDS[k]?.namespaced ?? false;
  const namespaced = kinds.some(isNamespaced);
  let objects = kinds.flatMap((k) => lab.store.list(k, isNamespaced(k) ? o.namespace : undefined));
  if (o.names?.length) {
    const missing = o.names.filter((n) => !objects.some((x) => x.metadata.name === n));
    if (missing.length > 0) {
      const where = namespaced && o.namespace ? ` in namespace ${o.namespace}` : "";
      throw new FairwayError(
        "E_LAB_NOT_FOUND",
        `${kind.toLowerCase()}s ${missing.map((m) => `"${m}"`).join(", ")} not found${where}`,
      );
    }
    objects = objects.filter((x) => o.names!.includes(x.metadata.name));
  }
  if (kind === "Pod") {
    const records = lab.records();
    for (const p of objects as Pod[]) {
      const live = liveState(p, records.get(`${p.metadata.namespace}/${p.metadata.name}`));
      if (p.status) p.status.phase = live.phase;
    }
  }
  const c = columns(lab, kind, o);
  const allNs = namespaced && o.namespace === undefined;
  const headers = [...(allNs ? ["namespace"] : []), ...c.headers, ...(o.wide ? c.wide : [])];
  const rows = objects.map((x) => [
    ...(allNs ? [x.metadata.namespace ?? ""] : []),
    ...c.row(x),
    ...(o.wide ? c.wideRow(x) : []),
  ]);
  return { kind, headers, rows, objects };
}
