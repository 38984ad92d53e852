// The policy engine's public types. The per-endpoint form (EndpointPolicy) is
// what the datapath's policy map must hold, entry for entry; evaluate()
// (evaluate.ts) answers a flow from it with a fixed number of lookups, the
// same ones the BPF program makes (see README.md, "Lookup plan").

export type Direction = "ingress" | "egress";
export type Protocol = "TCP" | "UDP" | "SCTP";

/** IANA protocol numbers, the datapath's key values. 0 is "any protocol". */
export const PROTOCOL_NUMBERS: Readonly<Record<Protocol, number>> = Object.freeze({
  TCP: 6,
  UDP: 17,
  SCTP: 132,
});
export const PROTOCOLS: readonly Protocol[] = Object.freeze(["TCP", "UDP", "SCTP"]);

export type PolicyKind =
  | "NetworkPolicy"
  | "FairwayNetworkPolicy"
  | "FairwayClusterwideNetworkPolicy";

/**
 * Which part of a key is wildcarded:
 *   L3-only  a peer identity, every protocol and port
 *   L3+L4    a peer identity and a protocol (and port range)
 *   L4-only  any peer, a protocol (and port range)
 *   all      any peer, any protocol, any port
 */
export type RuleKind = "L3-only" | "L3+L4" | "L4-only" | "all";

/**
 * One key of an endpoint's policy map. Port ranges are LPM blocks: the entry
 * covers ports [port, port + 2^(16 - portPrefixLen) - 1]. protocol 0 means
 * every protocol and then port and portPrefixLen are 0. A protocol with
 * portPrefixLen 0 means every port of it.
 */
export interface PolicyKey {
  readonly direction: Direction;
  /** Peer identity: the source for ingress, the destination for egress. 0 = any. */
  readonly identity: number;
  /** 0 (any), 6 (TCP), 17 (UDP), 132 (SCTP). */
  readonly protocol: number;
  /** First port of the block (destination port). */
  readonly port: number;
  /** 0..16 bits of `port` that must match. */
  readonly portPrefixLen: number;
}

/** A policy and one of its rules: "y/allow-x" + "ingress[0]". */
export interface RuleRef {
  /** "ns/name" (NetworkPolicy), "fnp:ns/name", "fcnp:name". */
  readonly policy: string;
  /** "ingress[0]", "egressDeny[1]". */
  readonly rule: string;
}

export interface PolicyEntry extends PolicyKey {
  readonly verdict: "allow" | "deny";
  /** Last port of the block. */
  readonly endPort: number;
  readonly kind: RuleKind;
  /** Rules that put this key here, sorted; for deny, the denying rules. */
  readonly origins: readonly RuleRef[];
}

export interface DirectionPolicy {
  /** True when a policy selecting the endpoint isolates this direction: what no entry allows is denied. */
  readonly isolated: boolean;
  /** Policies that isolate this direction, sorted. */
  readonly isolatedBy: readonly string[];
  /** Sorted by identity, protocol, port, prefix length. */
  readonly entries: readonly PolicyEntry[];
}

/** The policy of one endpoint (pod), as the datapath must enforce it. */
export interface EndpointPolicy {
  /** "namespace/name". */
  readonly endpoint: string;
  readonly identity: number;
  readonly ingress: DirectionPolicy;
  readonly egress: DirectionPolicy;
}

/** A flow as one endpoint's policy sees it. */
export interface Flow {
  readonly direction: Direction;
  /** The peer's identity (from the ipcache). */
  readonly identity: number;
  /** A protocol name or number (ICMP and others only match "any protocol" entries). */
  readonly protocol: Protocol | number;
  /** Destination port (0 when the protocol has none). */
  readonly port: number;
}

/**
 *   not-isolated  no policy isolates this direction and no deny entry matched: allowed
 *   allowed       an allow entry matched (and no deny entry)
 *   denied        a deny entry matched (deny beats allow)
 *   default-deny  isolated and no entry matched
 */
export type VerdictReason = "not-isolated" | "allowed" | "denied" | "default-deny";

export interface Verdict {
  readonly allowed: boolean;
  readonly reason: VerdictReason;
  /** The entry that decided (allowed, denied). */
  readonly entry?: PolicyEntry;
  /** What decided: the entry's origins, or the isolating policies for default-deny. */
  readonly policies: readonly string[];
  readonly rules: readonly RuleRef[];
}

export interface PolicyStatus {
  /** "ns/name", "fnp:ns/name", "fcnp:name". */
  readonly ref: string;
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
  readonly state: "accepted" | "rejected";
  /** Why it is rejected: every problem, one per line. */
  readonly reason?: string;
  /** Things an accepted policy does that are worth knowing (ignored sections...). */
  readonly problems: readonly string[];
  /** Endpoints (pods) it selects. */
  readonly endpoints: number;
}
