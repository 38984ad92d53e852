// Flows between pods (or addresses) decided from the per-endpoint policy maps
// with evaluate(): egress of the source, then ingress of the destination, as
// the datapath checks them when the source sends and before the destination
// receives. The offline what-if tools (`fairway policy matrix|trace`) are
// this file over a state built from YAML.
//
// A pod reaching itself is always allowed: that traffic never leaves the pod's
// network namespace (loopback), so no datapath sees it; Kubernetes leaves it
// undefined and its e2e tests ignore it.

import { IpcacheIndex } from "../identity/index.ts";
import type { PolicyState } from "./engine.ts";
import { PolicyCode, policyError } from "./errors.ts";
import { evaluate } from "./evaluate.ts";
import type { Direction, Protocol, Verdict } from "./types.ts";

/** One end of a flow: a pod of the input, or an address. */
export interface FlowEnd {
  /** "namespace/name" when the end is a pod. */
  readonly pod?: string;
  readonly address?: string;
  readonly identity: number;
}

export interface SideDecision {
  /** The endpoint whose policy decided: the source for egress, the destination for ingress. */
  readonly endpoint: string;
  readonly direction: Direction;
  readonly peerIdentity: number;
  readonly verdict: Verdict;
}

export interface FlowDecision {
  readonly from: FlowEnd;
  readonly to: FlowEnd;
  readonly port: number;
  readonly protocol: Protocol;
  readonly allowed: boolean;
  readonly loopback: boolean;
  /** Absent when the source is not an endpoint (an address outside) or for loopback. */
  readonly egress?: SideDecision;
  /** Absent when the destination is not an endpoint. */
  readonly ingress?: SideDecision;
  /** The policies that decided: those that allowed it, or those that denied it. */
  readonly policies: readonly string[];
}

/** The `flows` items of `fairway policy matrix -o json`. */
export interface MatrixFlow {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly allowed: boolean;
  readonly policies: readonly string[];
}

const ipcacheIndexes = new WeakMap<PolicyState, IpcacheIndex>();

function ipcacheIndex(state: PolicyState): IpcacheIndex {
  const index = ipcacheIndexes.get(state) ?? new IpcacheIndex(state.ipcache);
  ipcacheIndexes.set(state, index);
  return index;
}

/** "namespace/name" of a pod in the state, or an IP address (looked up in the ipcache). */
export function resolveEnd(state: PolicyState, text: string): FlowEnd {
  const id = state.identities.podIdentity.get(text);
  if (id !== undefined) return { pod: text, identity: id };
  const entry = ipcacheIndex(state).lookup(text);
  if (entry === undefined) {
    throw policyError(
      PolicyCode.unknownEndpoint,
      `"${text}" is neither a pod of the input (namespace/name) nor an IP address`,
    );
  }
  if (entry.source === "pod" && entry.owner !== undefined) {
    return { pod: entry.owner, address: text, identity: entry.identity };
  }
  return { address: text, identity: entry.identity };
}

export function decideFlow(
  state: PolicyState,
  from: FlowEnd,
  to: FlowEnd,
  port: number,
  protocol: Protocol,
): FlowDecision {
  const base = { from, to, port, protocol };
  if (from.pod !== undefined && from.pod === to.pod) {
    return { ...base, allowed: true, loopback: true, policies: [] };
  }
  const side = (endpoint: string | undefined, direction: Direction, peer: number) => {
    const ep = endpoint === undefined ? undefined : state.endpoints.get(endpoint);
    if (!ep) return undefined;
    const verdict = evaluate(ep, { direction, identity: peer, protocol, port });
    return { endpoint: ep.endpoint, direction, peerIdentity: peer, verdict };
  };
  const egress = side(from.pod, "egress", to.identity);
  const ingress = side(to.pod, "ingress", from.identity);
  const allowed = (egress?.verdict.allowed ?? true) && (ingress?.verdict.allowed ?? true);
  const deciding = [egress, ingress].filter(
    (s): s is SideDecision => s !== undefined && s.verdict.allowed === allowed,
  );
  const policies = [...new Set(deciding.flatMap((s) => s.verdict.policies))].sort();
  return {
    ...base,
    allowed,
    loopback: false,
    ...(egress ? { egress } : {}),
    ...(ingress ? { ingress } : {}),
    policies,
  };
}

export interface MatrixOptions {
  readonly ports: readonly number[];
  readonly protocols: readonly Protocol[];
  /** Pods to include, "namespace/name" (default: every pod endpoint of the state). */
  readonly pods?: readonly string[];
}

/** Every pod -> pod flow, by port, then protocol, then source, then destination. */
export function policyMatrix(state: PolicyState, options: MatrixOptions): MatrixFlow[] {
  const pods = options.pods ?? [...state.pods.keys()].sort();
  const ends = pods.map((p) => resolveEnd(state, p));
  const out: MatrixFlow[] = [];
  for (const port of options.ports) {
    for (const protocol of options.protocols) {
      for (const from of ends) {
        for (const to of ends) {
          const d = decideFlow(state, from, to, port, protocol);
          out.push({
            from: from.pod!,
            to: to.pod!,
            port,
            protocol,
            allowed: d.allowed,
            policies: d.policies,
          });
        }
      }
    }
  }
  return out;
}
