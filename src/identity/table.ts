// The identity table: every identity the cluster's pods and the policies'
// CIDRs need right now, built from the store's objects. Pure given the
// allocators: keys are acquired in sorted order, so fresh allocators number
// the same input the same way (goldens, the offline tools).

import type { Namespace, Pod } from "../cluster/index.ts";
import { type IdentityAllocator, MemoryIdentityAllocator } from "./allocator.ts";
import { type IdentityConfig, labelFilter } from "./config.ts";
import { canonicalLabels, labelsKey, type SecurityLabels, securityLabels } from "./labels.ts";
import { parsePrefix } from "./prefix.ts";
import {
  CIDR_IDENTITY_RANGE,
  ENDPOINT_IDENTITY_RANGE,
  RESERVED_IDENTITIES,
  type ReservedName,
} from "./reserved.ts";

export type IdentityKind = "reserved" | "endpoint" | "cidr";

export interface Identity {
  readonly id: number;
  readonly kind: IdentityKind;
  /** Canonical labels: "k8s:app=web", "reserved:world", "cidr:10.0.0.0/8". */
  readonly labels: readonly string[];
  /** Endpoint identities: the label set. */
  readonly security?: SecurityLabels;
  /** Endpoint identities: "namespace/name" of the pods that have it, sorted. */
  readonly pods?: readonly string[];
  /** CIDR identities: the canonical CIDR. */
  readonly cidr?: string;
  /** Reserved identities: the name. */
  readonly reserved?: ReservedName;
}

export interface IdentityTable {
  /** Sorted by id. */
  readonly identities: readonly Identity[];
  readonly byId: ReadonlyMap<number, Identity>;
  /** Pod "namespace/name" -> identity. */
  readonly podIdentity: ReadonlyMap<string, number>;
  /** Canonical CIDR -> identity. */
  readonly cidrIdentity: ReadonlyMap<string, number>;
}

export interface IdentityAllocators {
  readonly labels: IdentityAllocator;
  readonly cidrs: IdentityAllocator;
}

export function createIdentityAllocators(): IdentityAllocators {
  return {
    labels: new MemoryIdentityAllocator(ENDPOINT_IDENTITY_RANGE, [], "label"),
    cidrs: new MemoryIdentityAllocator(CIDR_IDENTITY_RANGE, [], "CIDR"),
  };
}

export interface IdentityInput {
  readonly pods: readonly Pod[];
  readonly namespaces: readonly Namespace[];
  /** CIDRs the policies name (any text parsePrefix accepts; bad ones are skipped). */
  readonly cidrs?: readonly string[];
  readonly config: IdentityConfig;
  /** Default: fresh in-memory allocators. */
  readonly allocators?: IdentityAllocators;
}

export function podKey(pod: Pick<Pod, "metadata">): string {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`;
}

/**
 * Pods that are endpoints of the pod network: not hostNetwork (they use the
 * node's identity) and not finished (Succeeded/Failed pods have no network).
 */
export function isPodEndpoint(pod: Pod): boolean {
  if (pod.spec?.hostNetwork) return false;
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

export function buildIdentityTable(input: IdentityInput): IdentityTable {
  const allocators = input.allocators ?? createIdentityAllocators();
  const filter = labelFilter(input.config);
  const namespaces = new Map(input.namespaces.map((n) => [n.metadata.name, n]));
  const groups = new Map<string, { security: SecurityLabels; pods: string[] }>();
  for (const pod of input.pods) {
    if (!isPodEndpoint(pod)) continue;
    const security = securityLabels(
      pod,
      namespaces.get(pod.metadata.namespace ?? "default"),
      filter,
    );
    const key = labelsKey(security);
    const group = groups.get(key);
    if (group) group.pods.push(podKey(pod));
    else groups.set(key, { security, pods: [podKey(pod)] });
  }
  const identities: Identity[] = RESERVED_IDENTITIES.map((r) => ({
    id: r.id,
    kind: "reserved" as const,
    labels: [`reserved:${r.name}`],
    reserved: r.name,
  }));
  const podIdentity = new Map<string, number>();
  for (const key of [...groups.keys()].sort()) {
    const { security, pods } = groups.get(key)!;
    const id = allocators.labels.acquire(key);
    pods.sort();
    for (const p of pods) podIdentity.set(p, id);
    identities.push({ id, kind: "endpoint", labels: canonicalLabels(security), security, pods });
  }
  const cidrIdentity = new Map<string, number>();
  const cidrs = new Set<string>();
  for (const text of input.cidrs ?? []) {
    try {
      cidrs.add(parsePrefix(text).text);
    } catch {
      // invalid CIDRs are the policy's problem; the policy is rejected for it
    }
  }
  for (const cidr of [...cidrs].sort()) {
    const id = allocators.cidrs.acquire(`cidr:${cidr}`);
    cidrIdentity.set(cidr, id);
    identities.push({ id, kind: "cidr", labels: [`cidr:${cidr}`, "reserved:world"], cidr });
  }
  identities.sort((a, b) => a.id - b.id);
  return {
    identities,
    byId: new Map(identities.map((i) => [i.id, i])),
    podIdentity,
    cidrIdentity,
  };
}

/** The allocator keys a table holds (to release the unused ones after a full build). */
export function tableKeys(table: IdentityTable): { labels: Set<string>; cidrs: Set<string> } {
  const labels = new Set<string>();
  const cidrs = new Set<string>();
  for (const i of table.identities) {
    if (i.kind === "endpoint") labels.add(i.labels.join(";"));
    else if (i.kind === "cidr") cidrs.add(`cidr:${i.cidr}`);
  }
  return { labels, cidrs };
}
