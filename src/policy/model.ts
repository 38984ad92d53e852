// A policy after validation, in one form for all three kinds: who it selects,
// which directions it isolates, and its rules (each a direction, an action,
// peers and ports). The compiler (compile.ts) turns these into per-endpoint
// policy maps; nothing below it knows which kind a rule came from.

import type { PortMatch } from "./ports.ts";
import type { LabelsPredicate } from "./selectors.ts";
import type { Direction, PolicyKind } from "./types.ts";

/** Fairway's entities (Cilium's names). */
export const ENTITIES = [
  "host",
  "remote-node",
  "world",
  "cluster",
  "all",
  "health",
  "init",
  "unmanaged",
  "kube-apiserver",
] as const;
export type Entity = (typeof ENTITIES)[number];

export type Peer =
  /** Any peer, inside the cluster or not: identity 0 in the map. */
  | { readonly kind: "all" }
  /** Pods whose security labels match. */
  | { readonly kind: "endpoints"; readonly match: LabelsPredicate; readonly text: string }
  /**
   * Addresses in `cidr` and in no `except`: the CIDR identities inside it, and
   * (`pods`, NetworkPolicy ipBlock) pods whose addresses all lie inside.
   */
  | {
      readonly kind: "cidr";
      readonly cidr: string;
      readonly except: readonly string[];
      readonly pods: boolean;
    }
  | { readonly kind: "entity"; readonly entity: Entity };

export interface Rule {
  /** "ingress[0]", "egressDeny[2]". */
  readonly name: string;
  readonly direction: Direction;
  readonly action: "allow" | "deny";
  /** Empty: the rule matches no peer (it only isolates). */
  readonly peers: readonly Peer[];
  /** Absent: every protocol and port. */
  readonly ports?: readonly PortMatch[];
  /** One line for people: "from podSelector pod=b; ports 80/TCP". */
  readonly text: string;
}

export interface CompiledPolicy {
  readonly ref: string;
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
  /** Which pods it applies to, over their full (unfiltered) labels. */
  readonly subject: LabelsPredicate;
  readonly subjectText: string;
  /**
   * A pod label ("key=value") every selected pod has, when the selector
   * requires one: the engine looks policies up by it instead of testing
   * every policy against every pod.
   */
  readonly subjectLabel?: string;
  readonly isolates: { readonly ingress: boolean; readonly egress: boolean };
  readonly rules: readonly Rule[];
  /** CIDRs its rules name (each gets a CIDR identity and an ipcache entry). */
  readonly cidrs: readonly string[];
  readonly problems: readonly string[];
}

export interface RejectedPolicy {
  readonly ref: string;
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
  readonly rejected: readonly string[];
}

export type ParsedPolicy = CompiledPolicy | RejectedPolicy;

export function isRejected(p: ParsedPolicy): p is RejectedPolicy {
  return "rejected" in p;
}

/** "ns/name" for NetworkPolicy, "fnp:ns/name", "fcnp:name" for Fairway's kinds. */
export function policyRef(kind: PolicyKind, namespace: string | undefined, name: string): string {
  if (kind === "NetworkPolicy") return `${namespace ?? "default"}/${name}`;
  if (kind === "FairwayNetworkPolicy") return `fnp:${namespace ?? "default"}/${name}`;
  return `fcnp:${name}`;
}
