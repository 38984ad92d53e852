// Peers -> identities. Selectors are answered from the identity table (a label
// set decides, so a pod on any node is matched by its identity), CIDRs from the
// CIDR identities inside them, entities from the reserved identities.
//
// NetworkPolicy ipBlocks also match pods by address (the Kubernetes e2e tests
// expect a pod IP in an ipBlock to be reachable). The datapath knows a pod
// only by its identity, so an identity is matched when every address of its
// pods (of the block's family) lies inside the block and outside every except;
// an identity with pods on both sides is left out (fail closed) and the policy
// says so.

import type { Pod } from "../cluster/index.ts";
import {
  ANY_IDENTITY,
  comparePrefixes,
  familyBits,
  type IdentityTable,
  type Prefix,
  parsePrefix,
  podAddresses,
  podKey,
  prefixContains,
  ReservedIdentity,
} from "../identity/index.ts";
import type { Peer } from "./model.ts";
import type { Protocol } from "./types.ts";

export interface ContainerPortInfo {
  readonly name?: string;
  readonly protocol: Protocol;
  readonly port: number;
}

export interface PodInfo {
  readonly key: string;
  readonly addresses: readonly Prefix[];
  readonly ports: readonly ContainerPortInfo[];
}

export function podInfo(pod: Pod): PodInfo {
  const ports: ContainerPortInfo[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      ports.push({
        ...(p.name ? { name: p.name } : {}),
        protocol: p.protocol ?? "TCP",
        port: p.containerPort,
      });
    }
  }
  return { key: podKey(pod), addresses: podAddresses(pod), ports };
}

/** What compiling needs to know about the cluster, built once per state. */
export interface PeerContext {
  readonly table: IdentityTable;
  /** Endpoint (pod) identities, ascending. */
  readonly endpointIds: readonly number[];
  /** CIDR identities, sorted by family, network, length (range queries). */
  readonly cidrIds: readonly { readonly id: number; readonly prefix: Prefix }[];
  /** Pods by identity (named ports, ipBlock addresses). */
  readonly podsByIdentity: ReadonlyMap<number, readonly PodInfo[]>;
  /** Every pod address with its identity, sorted by family and address (range queries). */
  readonly podAddresses: readonly { readonly prefix: Prefix; readonly id: number }[];
  readonly cache: WeakMap<Peer, PeerIds>;
}

export interface PeerIds {
  /** Ascending; [0] for "any peer". */
  readonly ids: readonly number[];
  readonly problems: readonly string[];
}

export function peerContext(table: IdentityTable, pods: readonly PodInfo[]): PeerContext {
  const podsByIdentity = new Map<number, PodInfo[]>();
  for (const p of pods) {
    const id = table.podIdentity.get(p.key);
    if (id === undefined) continue;
    const list = podsByIdentity.get(id);
    if (list) list.push(p);
    else podsByIdentity.set(id, [p]);
  }
  const podAddresses = [...podsByIdentity].flatMap(([id, list]) =>
    list.flatMap((p) => p.addresses.map((prefix) => ({ prefix, id }))),
  );
  const byPrefix = (a: { prefix: Prefix }, b: { prefix: Prefix }) =>
    comparePrefixes(a.prefix, b.prefix);
  return {
    table,
    endpointIds: table.identities.filter((i) => i.kind === "endpoint").map((i) => i.id),
    cidrIds: table.identities
      .filter((i) => i.kind === "cidr")
      .map((i) => ({ id: i.id, prefix: parsePrefix(i.cidr!) }))
      .sort(byPrefix),
    podsByIdentity,
    podAddresses: podAddresses.sort(byPrefix),
    cache: new WeakMap(),
  };
}

/** The items (sorted by prefix) whose prefix lies within `outer`: one binary search, then a scan. */
function within<T extends { readonly prefix: Prefix }>(sorted: readonly T[], outer: Prefix): T[] {
  const last = outer.network + (1n << BigInt(familyBits(outer.family) - outer.length)) - 1n;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = sorted[mid]!.prefix;
    if (p.family < outer.family || (p.family === outer.family && p.network < outer.network))
      lo = mid + 1;
    else hi = mid;
  }
  const out: T[] = [];
  for (let i = lo; i < sorted.length; i++) {
    const p = sorted[i]!.prefix;
    if (p.family !== outer.family || p.network > last) break;
    if (p.length >= outer.length) out.push(sorted[i]!);
  }
  return out;
}

const CLUSTER_RESERVED = [
  ReservedIdentity.host,
  ReservedIdentity.unmanaged,
  ReservedIdentity.health,
  ReservedIdentity.init,
  ReservedIdentity.remoteNode,
  ReservedIdentity.kubeApiserver,
];

/** The identities a peer stands for (cached per peer object). */
export function resolvePeer(peer: Peer, ctx: PeerContext): PeerIds {
  const hit = ctx.cache.get(peer);
  if (hit) return hit;
  const out = resolveUncached(peer, ctx);
  ctx.cache.set(peer, out);
  return out;
}

function resolveUncached(peer: Peer, ctx: PeerContext): PeerIds {
  switch (peer.kind) {
    case "all":
      return { ids: [ANY_IDENTITY], problems: [] };
    case "endpoints":
      return {
        ids: ctx.endpointIds.filter((id) => peer.match(ctx.table.byId.get(id)!.security!)),
        problems: [],
      };
    case "entity":
      return { ids: entityIds(peer.entity, ctx), problems: [] };
    case "cidr":
      return cidrIds(peer, ctx);
  }
}

function entityIds(
  entity: Extract<Peer, { kind: "entity" }>["entity"],
  ctx: PeerContext,
): number[] {
  const world = [ReservedIdentity.world, ...ctx.cidrIds.map((c) => c.id)];
  switch (entity) {
    case "all":
      return [ANY_IDENTITY];
    case "host":
      return [ReservedIdentity.host];
    case "remote-node":
      return [ReservedIdentity.remoteNode];
    case "health":
      return [ReservedIdentity.health];
    case "init":
      return [ReservedIdentity.init];
    case "unmanaged":
      return [ReservedIdentity.unmanaged];
    case "kube-apiserver":
      return [ReservedIdentity.kubeApiserver];
    case "world":
      return world.sort((a, b) => a - b);
    case "cluster":
      return [...CLUSTER_RESERVED, ...ctx.endpointIds].sort((a, b) => a - b);
  }
}

function cidrIds(peer: Extract<Peer, { kind: "cidr" }>, ctx: PeerContext): PeerIds {
  const outer = parsePrefix(peer.cidr);
  const excepts = peer.except.map((e) => parsePrefix(e));
  const kept = (p: Prefix) => !excepts.some((e) => prefixContains(e, p));
  const ids = within(ctx.cidrIds, outer)
    .filter((c) => kept(c.prefix))
    .map((c) => c.id);
  const problems: string[] = [];
  if (peer.pods) {
    const inside = new Map<number, number>();
    for (const a of within(ctx.podAddresses, outer)) {
      if (kept(a.prefix)) inside.set(a.id, (inside.get(a.id) ?? 0) + 1);
    }
    for (const [id, n] of inside) {
      const pods = ctx.podsByIdentity.get(id) ?? [];
      const all = pods.reduce(
        (sum, p) => sum + p.addresses.filter((a) => a.family === outer.family).length,
        0,
      );
      if (n === all) ids.push(id);
      else
        problems.push(
          `ipBlock ${peer.cidr}: covers some but not all pods of identity ${id} (${pods.map((p) => p.key).join(", ")}); that identity is left out`,
        );
    }
  }
  return { ids: ids.sort((a, b) => a - b), problems };
}
