// The desired load-balancer state: what the datapath maps must say. Plain,
// read-only data; the format in debug.ts prints it for goldens and the CLI.

import type { Algorithm } from "./config.ts";

export type Protocol = "TCP" | "UDP" | "SCTP";
export type IpFamily = "IPv4" | "IPv6";

/** How a frontend is reached; a traffic policy applies to some of them. */
export type FrontendKind = "ClusterIP" | "NodePort" | "ExternalIP" | "LoadBalancer";

/**
 * forward: pick a backend. reject: the service has no usable endpoint at all
 * (TCP RST / ICMP unreachable, as kube-proxy's REJECT). drop: a Local traffic
 * policy and no endpoint on this node while others exist elsewhere (kube-proxy
 * drops these).
 */
export type FrontendAction = "forward" | "reject" | "drop";

export type BackendState = "active" | "terminating";

export interface Backend {
  /** Stable numeric ID of "address:port/protocol". */
  readonly id: number;
  readonly address: string;
  readonly port: number;
  /** active: ready. terminating: serving and terminating, used only when nothing is ready. */
  readonly state: BackendState;
  readonly nodeName?: string;
  readonly zone?: string;
}

export interface Frontend {
  /** Stable numeric ID of "kind address:port/protocol" (the datapath's service / rev-NAT ID). */
  readonly id: number;
  readonly kind: FrontendKind;
  readonly address: string;
  readonly family: IpFamily;
  readonly port: number;
  readonly protocol: Protocol;
  /** The service port's name ("" when unnamed). */
  readonly portName: string;
  /** The policy that chose `backends`: internal for ClusterIP, external for the others. */
  readonly trafficPolicy: "Cluster" | "Local";
  readonly action: FrontendAction;
  /** Sorted by address then port; empty unless action is "forward". */
  readonly backends: readonly Backend[];
}

export interface ServiceEntry {
  /** "namespace/name". */
  readonly key: string;
  readonly type: "ClusterIP" | "NodePort" | "LoadBalancer";
  readonly algorithm: Algorithm;
  /** ClientIP affinity timeout in seconds; absent without affinity. */
  readonly affinityTimeoutSeconds?: number;
  /** Sorted by kind, address, port, protocol. */
  readonly frontends: readonly Frontend[];
  /** Things ignored inside an otherwise working service (a bad endpoint address...). */
  readonly problems: readonly string[];
}

export interface SkippedService {
  readonly key: string;
  /** headless and ExternalName services are skipped on purpose; the rest are invalid. */
  readonly reason: string;
}

export interface ServiceTable {
  /** Sorted by key. */
  readonly services: readonly ServiceEntry[];
  readonly skipped: readonly SkippedService[];
}
