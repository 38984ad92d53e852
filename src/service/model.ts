// The service model: Services + EndpointSlices -> the desired load-balancer
// table. Pure: the same objects, node and allocators give the same table.
// Frontends are the service's ClusterIPs, NodePorts on this node's addresses,
// externalIPs and load-balancer ingress IPs, times its ports; each gets the
// backends of its family and port (endpoints.ts) under its traffic policy.

import type { EndpointSlice, Service } from "../cluster/index.ts";
import type { ServiceConfig } from "./config.ts";
import { compareAddrPort, hostPort, type Selection, selectEndpoints } from "./endpoints.ts";
import { type IdAllocator, MemoryIdAllocator } from "./ids.ts";
import type {
  Backend,
  Frontend,
  FrontendKind,
  ServiceEntry,
  ServiceTable,
  SkippedService,
} from "./types.ts";
import { type CheckedPort, type CheckedService, checkService, familyOf } from "./validate.ts";

/** The label naming an EndpointSlice's Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export interface ServiceIds {
  readonly frontends: IdAllocator;
  readonly backends: IdAllocator;
}

export function createServiceIds(): ServiceIds {
  return {
    frontends: new MemoryIdAllocator("frontend"),
    backends: new MemoryIdAllocator("backend", 1, 0xffffffff),
  };
}

export interface NodeContext {
  /** This node's name: Local traffic policies keep endpoints with this nodeName. */
  readonly nodeName: string;
  /** Addresses NodePorts listen on (InternalIP, ExternalIP...). */
  readonly nodeAddresses: readonly string[];
}

export interface ModelInput extends NodeContext {
  readonly services: readonly Service[];
  readonly slices: readonly EndpointSlice[];
  readonly config: ServiceConfig;
  /** Default: fresh in-memory allocators (IDs follow the table's order). */
  readonly ids?: ServiceIds;
}

const KIND_ORDER: readonly FrontendKind[] = ["ClusterIP", "NodePort", "ExternalIP", "LoadBalancer"];

/** The whole table. */
export function buildServiceTable(input: ModelInput): ServiceTable {
  const ids = input.ids ?? createServiceIds();
  const slicesByService = groupSlices(input.slices);
  const services: ServiceEntry[] = [];
  const skipped: SkippedService[] = [];
  const sorted = [...input.services].sort((a, b) => cmp(serviceKey(a), serviceKey(b)));
  for (const svc of sorted) {
    const r = buildService(svc, slicesByService.get(serviceKey(svc)) ?? [], { ...input, ids });
    if ("reason" in r) skipped.push(r);
    else services.push(r);
  }
  return { services, skipped };
}

/** "namespace/name" of a Service, or of the Service an EndpointSlice belongs to. */
export function serviceKey(obj: Service | EndpointSlice): string {
  const ns = obj.metadata.namespace ?? "default";
  if ("addressType" in obj) return `${ns}/${obj.metadata.labels?.[SERVICE_NAME_LABEL] ?? ""}`;
  return `${ns}/${obj.metadata.name}`;
}

export function groupSlices(slices: readonly EndpointSlice[]): Map<string, EndpointSlice[]> {
  const out = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    if (!s.metadata.labels?.[SERVICE_NAME_LABEL]) continue;
    const key = serviceKey(s);
    const list = out.get(key);
    if (list) list.push(s);
    else out.set(key, [s]);
  }
  return out;
}

interface BuildContext extends NodeContext {
  readonly config: ServiceConfig;
  readonly ids: ServiceIds;
}

/** One service's entry, or why it is skipped. `slices` are its EndpointSlices. */
export function buildService(
  svc: Service,
  slices: readonly EndpointSlice[],
  ctx: BuildContext,
): ServiceEntry | SkippedService {
  const checked = checkService(svc, ctx.config.algorithm);
  if ("skip" in checked) return { key: serviceKey(svc), reason: checked.skip };
  const problems = [...checked.problems];
  const drafts: { draft: Draft; sel: Selection }[] = [];
  for (const port of checked.ports) {
    const byFamily = new Map<string, Selection>();
    const select = (address: string): Selection => {
      const family = familyOf(address)!;
      let sel = byFamily.get(family);
      if (!sel) {
        sel = selectEndpoints(
          slices,
          { name: port.name, protocol: port.protocol, family },
          ctx.nodeName,
          problems,
        );
        byFamily.set(family, sel);
      }
      return sel;
    };
    for (const draft of frontendDrafts(checked, port, ctx.nodeAddresses)) {
      drafts.push({ draft, sel: select(draft.address) });
    }
  }
  // IDs are acquired in table order, so a fresh build numbers them top to bottom.
  drafts.sort((a, b) => compareFrontends(a.draft, b.draft));
  const frontends = drafts.map(({ draft, sel }) => makeFrontend(draft, sel, ctx.ids));
  return {
    key: checked.key,
    type: checked.type,
    algorithm: checked.algorithm,
    ...(checked.affinityTimeoutSeconds !== undefined
      ? { affinityTimeoutSeconds: checked.affinityTimeoutSeconds }
      : {}),
    frontends,
    problems: [...new Set(problems)],
  };
}

interface Draft {
  readonly kind: FrontendKind;
  readonly address: string;
  readonly port: number;
  readonly svcPort: CheckedPort;
  readonly local: boolean;
}

function frontendDrafts(svc: CheckedService, port: CheckedPort, nodeAddrs: readonly string[]) {
  const drafts: Draft[] = [];
  const add = (kind: FrontendKind, address: string, p: number, local: boolean): void => {
    drafts.push({ kind, address, port: p, svcPort: port, local });
  };
  for (const ip of svc.clusterIPs) add("ClusterIP", ip, port.port, svc.internalLocal);
  if (port.nodePort !== undefined) {
    for (const ip of nodeAddrs) {
      const f = familyOf(ip);
      if (f && svc.families.has(f)) add("NodePort", ip, port.nodePort, svc.externalLocal);
    }
  }
  for (const ip of svc.externalIPs) add("ExternalIP", ip, port.port, svc.externalLocal);
  for (const ip of svc.ingressIPs) add("LoadBalancer", ip, port.port, svc.externalLocal);
  return drafts;
}

function makeFrontend(draft: Draft, sel: Selection, ids: ServiceIds): Frontend {
  const { protocol, name } = draft.svcPort;
  const chosen = draft.local ? sel.local : sel.cluster;
  const action = sel.cluster.length === 0 ? "reject" : chosen.length === 0 ? "drop" : "forward";
  const backends: Backend[] =
    action === "forward"
      ? chosen.map((c) => ({
          id: ids.backends.acquire(backendKey(c.address, c.port, protocol)),
          ...c,
        }))
      : [];
  return {
    id: ids.frontends.acquire(frontendKey(draft.kind, draft.address, draft.port, protocol)),
    kind: draft.kind,
    address: draft.address,
    family: familyOf(draft.address)!,
    port: draft.port,
    protocol,
    portName: name,
    trafficPolicy: draft.local ? "Local" : "Cluster",
    action,
    backends,
  };
}

export function backendKey(address: string, port: number, protocol: string): string {
  return `${hostPort(address, port)}/${protocol}`;
}

export function frontendKey(
  kind: FrontendKind,
  address: string,
  port: number,
  protocol: string,
): string {
  return `${kind} ${hostPort(address, port)}/${protocol}`;
}

function compareFrontends(a: Draft, b: Draft): number {
  const k = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
  if (k !== 0) return k;
  const ap = compareAddrPort(a, b);
  if (ap !== 0) return ap;
  return cmp(a.svcPort.protocol, b.svcPort.protocol);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
