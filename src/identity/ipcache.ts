// The ipcache's desired state: IP prefix -> identity, the LPM table the
// datapath looks a packet's peer up in. It holds every known pod IP of the
// cluster (all nodes, each pod with its own labels' identity), node addresses
// (host for this node, remote-node for the others), every CIDR the policies
// name (its CIDR identity), and 0.0.0.0/0 and ::/0 as world. On the same
// prefix a pod wins over a node, a node over a CIDR.

import type { Node, Pod } from "../cluster/index.ts";
import {
  comparePrefixes,
  familyBits,
  makePrefix,
  type Prefix,
  parsePrefix,
  tryPrefixOfAddress,
} from "./prefix.ts";
import { ReservedIdentity } from "./reserved.ts";
import { type IdentityTable, isPodEndpoint, podKey } from "./table.ts";

export type IpcacheSource = "pod" | "node" | "cidr" | "world";

export interface IpcacheEntry {
  /** Canonical prefix: "10.0.1.5/32", "10.0.0.0/8". */
  readonly prefix: string;
  readonly identity: number;
  readonly source: IpcacheSource;
  /** "namespace/name" of a pod, a node's name. */
  readonly owner?: string;
}

export interface Ipcache {
  /** Sorted by family, network, prefix length. */
  readonly entries: readonly IpcacheEntry[];
  /** Addresses claimed twice (kept: the first by the precedence above, then by owner). */
  readonly problems: readonly string[];
}

export interface IpcacheInput {
  readonly pods: readonly Pod[];
  readonly nodes?: readonly Node[];
  readonly table: IdentityTable;
  /** This node: its addresses are host (1); other nodes' are remote-node (6). */
  readonly localNode?: string;
}

const RANK: Record<IpcacheSource, number> = { pod: 0, node: 1, cidr: 2, world: 3 };

function podIps(pod: Pod): string[] {
  const ips = pod.status?.podIPs?.map((p) => p.ip) ?? [];
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/** Every address of a pod that the ipcache maps to its identity. */
export function podAddresses(pod: Pod): Prefix[] {
  return podIps(pod).flatMap((ip) => {
    const p = tryPrefixOfAddress(ip);
    return p ? [p] : [];
  });
}

export function buildIpcache(input: IpcacheInput): Ipcache {
  const candidates: { prefix: Prefix; entry: IpcacheEntry }[] = [];
  const add = (prefix: Prefix, identity: number, source: IpcacheSource, owner?: string) =>
    candidates.push({
      prefix,
      entry: { prefix: prefix.text, identity, source, ...(owner !== undefined ? { owner } : {}) },
    });
  for (const pod of input.pods) {
    const id = input.table.podIdentity.get(podKey(pod));
    if (id === undefined || !isPodEndpoint(pod)) continue;
    for (const p of podAddresses(pod)) add(p, id, "pod", podKey(pod));
  }
  const nodeId = (name: string | undefined) =>
    name !== undefined && name === input.localNode
      ? ReservedIdentity.host
      : ReservedIdentity.remoteNode;
  const nodeAddrs = new Set<string>();
  for (const node of input.nodes ?? []) {
    for (const a of node.status?.addresses ?? []) {
      if (a.type !== "InternalIP" && a.type !== "ExternalIP") continue;
      const p = tryPrefixOfAddress(a.address);
      if (!p) continue;
      nodeAddrs.add(p.text);
      add(p, nodeId(node.metadata.name), "node", node.metadata.name);
    }
  }
  // Nodes known only through their pods' hostIP.
  for (const pod of input.pods) {
    const p = pod.status?.hostIP ? tryPrefixOfAddress(pod.status.hostIP) : undefined;
    if (!p || nodeAddrs.has(p.text)) continue;
    nodeAddrs.add(p.text);
    add(p, nodeId(pod.spec?.nodeName), "node", pod.spec?.nodeName);
  }
  for (const [cidr, id] of input.table.cidrIdentity) add(parsePrefix(cidr), id, "cidr");
  add(parsePrefix("0.0.0.0/0"), ReservedIdentity.world, "world");
  add(parsePrefix("::/0"), ReservedIdentity.world, "world");

  candidates.sort(
    (a, b) =>
      comparePrefixes(a.prefix, b.prefix) ||
      RANK[a.entry.source] - RANK[b.entry.source] ||
      cmp(a.entry.owner ?? "", b.entry.owner ?? ""),
  );
  const entries: IpcacheEntry[] = [];
  const problems: string[] = [];
  for (const c of candidates) {
    const last = entries.at(-1);
    if (last?.prefix !== c.entry.prefix) {
      entries.push(c.entry);
      continue;
    }
    // Same prefix: a pod or node claiming an address another already has is a problem;
    // a CIDR or world entry under a pod or node address is expected and silent.
    if (c.entry.source === "pod" || (c.entry.source === "node" && last.source === "node")) {
      problems.push(
        `${c.entry.prefix}: claimed by ${c.entry.source} ${c.entry.owner ?? "?"} and by ${last.source} ${last.owner ?? "?"} (kept)`,
      );
    }
  }
  return { entries, problems };
}

/** An ipcache for lookups: longest prefix match, one probe per prefix length in use. */
export class IpcacheIndex {
  private readonly byPrefix = new Map<string, IpcacheEntry>();
  private readonly lengths: Record<4 | 6, number[]> = { 4: [], 6: [] };

  constructor(ipcache: Ipcache) {
    const lengths = { 4: new Set<number>(), 6: new Set<number>() };
    for (const e of ipcache.entries) {
      const p = parsePrefix(e.prefix);
      this.byPrefix.set(p.text, e);
      lengths[p.family].add(p.length);
    }
    for (const f of [4, 6] as const) this.lengths[f] = [...lengths[f]].sort((a, b) => b - a);
  }

  /** The entry an address maps to; undefined only for text that is not an address. */
  lookup(ip: string): IpcacheEntry | undefined {
    const addr = tryPrefixOfAddress(ip);
    if (!addr || addr.length !== familyBits(addr.family)) return undefined;
    for (const len of this.lengths[addr.family]) {
      const e = this.byPrefix.get(makePrefix(addr.family, addr.network, len).text);
      if (e) return e;
    }
    const prefix = addr.family === 4 ? "0.0.0.0/0" : "::/0";
    return { prefix, identity: ReservedIdentity.world, source: "world" };
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
