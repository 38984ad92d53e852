// The whole pure pipeline: cluster objects -> policies checked (accepted or
// rejected with a reason) -> identities (pods' label sets, the CIDRs the
// accepted policies name) -> ipcache -> one EndpointPolicy per pod endpoint.
// Pure given the allocators; the agent (next) and the offline tools call the
// same function.

import type {
  ClusterStoreReader,
  FairwayClusterwideNetworkPolicy,
  FairwayNetworkPolicy,
  KindName,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
} from "../cluster/index.ts";
import {
  buildIdentityTable,
  buildIpcache,
  type IdentityAllocators,
  type IdentityConfig,
  type IdentityTable,
  type Ipcache,
  isPodEndpoint,
  KEEP_ALL,
  labelFilter,
  parseIdentityConfig,
  podKey,
  securityLabels,
} from "../identity/index.ts";
import { type CompileProblems, compileEndpoint } from "./compile.ts";
import { parseFairwayPolicy } from "./fairway.ts";
import { parseNetworkPolicy } from "./k8s.ts";
import { type CompiledPolicy, isRejected, type ParsedPolicy } from "./model.ts";
import { type PodInfo, peerContext, podInfo } from "./peers.ts";
import type { EndpointPolicy, PolicyStatus } from "./types.ts";

export interface PolicyInput {
  readonly pods: readonly Pod[];
  readonly namespaces: readonly Namespace[];
  readonly nodes?: readonly Node[];
  readonly networkPolicies?: readonly NetworkPolicy[];
  readonly fairwayPolicies?: readonly FairwayNetworkPolicy[];
  readonly clusterwidePolicies?: readonly FairwayClusterwideNetworkPolicy[];
  /** Default: parseIdentityConfig({}) (churn-only labels dropped). */
  readonly identity?: IdentityConfig;
  /** Default: fresh in-memory allocators (numbers follow sorted label sets). */
  readonly allocators?: IdentityAllocators;
  /** This node's name: the ipcache maps its addresses to host, others' to remote-node. */
  readonly localNode?: string;
  /** Pods that get an EndpointPolicy (default: every pod endpoint; the agent: this node's). */
  readonly endpoints?: (pod: Pod) => boolean;
}

export interface PolicyState {
  readonly identities: IdentityTable;
  readonly ipcache: Ipcache;
  /** Every policy, sorted by ref. */
  readonly policies: readonly PolicyStatus[];
  /** By "namespace/name", sorted. */
  readonly endpoints: ReadonlyMap<string, EndpointPolicy>;
  /** Every pod endpoint, by "namespace/name" (addresses and ports, for flows). */
  readonly pods: ReadonlyMap<string, PodInfo>;
  /** What each rule says, by "<policy ref> <rule name>" ("y/allow-x ingress[0]"). */
  readonly rules: ReadonlyMap<string, string>;
}

/** Every policy of the input, checked. */
export function parsePolicies(input: PolicyInput): ParsedPolicy[] {
  const filter = labelFilter(input.identity ?? parseIdentityConfig({}));
  const out: ParsedPolicy[] = [
    ...(input.networkPolicies ?? []).map((np) => parseNetworkPolicy(np, filter)),
    ...(input.fairwayPolicies ?? []).map((p) => parseFairwayPolicy(p, "FairwayNetworkPolicy")),
    ...(input.clusterwidePolicies ?? []).map((p) =>
      parseFairwayPolicy(p, "FairwayClusterwideNetworkPolicy"),
    ),
  ];
  return out.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}

export function buildPolicyState(input: PolicyInput): PolicyState {
  const config = input.identity ?? parseIdentityConfig({});
  const parsed = parsePolicies({ ...input, identity: config });
  const accepted = parsed.filter((p): p is CompiledPolicy => !isRejected(p));
  const identities = buildIdentityTable({
    pods: input.pods,
    namespaces: input.namespaces,
    cidrs: accepted.flatMap((p) => p.cidrs),
    config,
    ...(input.allocators ? { allocators: input.allocators } : {}),
  });
  const ipcache = buildIpcache({
    pods: input.pods,
    nodes: input.nodes ?? [],
    table: identities,
    ...(input.localNode !== undefined ? { localNode: input.localNode } : {}),
  });
  const podEndpoints = input.pods
    .filter(isPodEndpoint)
    .sort((a, b) => (podKey(a) < podKey(b) ? -1 : 1));
  const infos = podEndpoints.map(podInfo);
  const ctx = peerContext(identities, infos);
  const namespaces = new Map(input.namespaces.map((n) => [n.metadata.name, n]));
  const problems: CompileProblems = new Map();
  const selected = new Map<string, number>();
  const endpoints = new Map<string, EndpointPolicy>();
  const wanted = input.endpoints ?? (() => true);
  const candidates = new PolicyIndex(accepted);
  podEndpoints.forEach((pod, i) => {
    if (!wanted(pod)) return;
    const key = podKey(pod);
    const ns = pod.metadata.namespace ?? "default";
    const labels = securityLabels(pod, namespaces.get(ns), KEEP_ALL);
    const mine = candidates.policies(ns, pod.metadata.labels).filter((p) => p.subject(labels));
    for (const p of mine) selected.set(p.ref, (selected.get(p.ref) ?? 0) + 1);
    const subject = { key, identity: identities.podIdentity.get(key)!, labels, pod: infos[i]! };
    endpoints.set(key, compileEndpoint(subject, mine, ctx, problems));
  });
  return {
    identities,
    ipcache,
    policies: parsed.map((p) => status(p, selected.get(p.ref) ?? 0, problems.get(p.ref))),
    endpoints,
    pods: new Map(infos.map((p) => [p.key, p])),
    rules: new Map(accepted.flatMap((p) => p.rules.map((r) => [`${p.ref} ${r.name}`, r.text]))),
  };
}

/**
 * The policies that may select a pod: by namespace (clusterwide ones apply to
 * every namespace) and, for selectors that require a pod label, by that label;
 * only these are tested against the pod's labels. Results in ref order.
 */
class PolicyIndex {
  private readonly any = new Map<string, CompiledPolicy[]>();
  private readonly byLabel = new Map<string, CompiledPolicy[]>();

  constructor(policies: readonly CompiledPolicy[]) {
    for (const p of policies) {
      const ns = p.namespace ?? "";
      const [map, key] = p.subjectLabel
        ? [this.byLabel, `${ns}/${p.subjectLabel}`]
        : [this.any, ns];
      const list = map.get(key) ?? [];
      list.push(p);
      map.set(key, list);
    }
  }

  policies(namespace: string, labels: Readonly<Record<string, string>> = {}): CompiledPolicy[] {
    const out = [...(this.any.get(namespace) ?? []), ...(this.any.get("") ?? [])];
    for (const [k, v] of Object.entries(labels)) {
      for (const ns of [namespace, ""]) out.push(...(this.byLabel.get(`${ns}/${k}=${v}`) ?? []));
    }
    return out.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  }
}

function status(p: ParsedPolicy, endpoints: number, more: Set<string> | undefined): PolicyStatus {
  const head = {
    ref: p.ref,
    kind: p.kind,
    ...(p.namespace !== undefined ? { namespace: p.namespace } : {}),
    name: p.name,
  };
  if (isRejected(p)) {
    return {
      ...head,
      state: "rejected",
      reason: p.rejected.join("; "),
      problems: [],
      endpoints: 0,
    };
  }
  return {
    ...head,
    state: "accepted",
    problems: [...p.problems, ...[...(more ?? [])].sort()],
    endpoints,
  };
}

/** The input from a store; kinds the store does not hold are empty. */
export function policyInputFromStore(
  store: ClusterStoreReader,
  options: Omit<
    PolicyInput,
    "pods" | "namespaces" | "nodes" | "networkPolicies" | "fairwayPolicies" | "clusterwidePolicies"
  > = {},
): PolicyInput {
  const list = <K extends KindName>(kind: K) =>
    store.kinds.includes(kind) ? store.list(kind) : [];
  return {
    ...options,
    pods: list("Pod"),
    namespaces: list("Namespace"),
    nodes: list("Node"),
    networkPolicies: list("NetworkPolicy"),
    fairwayPolicies: list("FairwayNetworkPolicy"),
    clusterwidePolicies: list("FairwayClusterwideNetworkPolicy"),
  };
}
