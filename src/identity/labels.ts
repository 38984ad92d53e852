// A pod's security labels: what its identity is made of. Its own labels (after
// the config's filter), its namespace's name, and its namespace's labels, so
// that both NetworkPolicy namespaceSelectors and Fairway endpoint selectors can
// be answered from the identity alone, for pods of every node.
//
// Canonical text, one label a line, sorted (the identity's key is these joined
// with ";"):
//   k8s:app=web                                              a pod label
//   k8s:io.kubernetes.pod.namespace=shop                     the namespace name
//   k8s:io.kubernetes.pod.namespace.labels.team=payments     a namespace label
// The "k8s:" source prefix follows Cilium; reserved identities use "reserved:",
// CIDR identities "cidr:".

import type { Namespace, Pod } from "../cluster/index.ts";
import type { KeyFilter } from "./config.ts";

/** The label every namespace carries (the API server sets it to the namespace's name). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
/** Selector key of the pod's namespace name (Fairway endpoint selectors). */
export const NAMESPACE_KEY = "io.kubernetes.pod.namespace";
/** Selector key prefix of the pod's namespace labels (Fairway endpoint selectors). */
export const NAMESPACE_LABELS_PREFIX = "io.kubernetes.pod.namespace.labels.";
export const K8S_SOURCE = "k8s:";

export interface SecurityLabels {
  readonly namespace: string;
  /** The pod's labels that make up its identity (filtered). */
  readonly pod: Readonly<Record<string, string>>;
  /** The namespace's labels (filtered), always with kubernetes.io/metadata.name. */
  readonly namespaceLabels: Readonly<Record<string, string>>;
}

/** Keeps every key. */
export const KEEP_ALL: KeyFilter = () => true;

/**
 * The security labels of a pod. `ns` is its Namespace object when known; the
 * namespace name label is added as the API server would. Pod label keys that
 * start with the reserved namespace key are never taken (they would forge a
 * namespace).
 */
export function securityLabels(
  pod: Pick<Pod, "metadata">,
  ns: Pick<Namespace, "metadata"> | undefined,
  filter: KeyFilter = KEEP_ALL,
): SecurityLabels {
  const namespace = pod.metadata.namespace ?? "default";
  const podLabels: Record<string, string> = {};
  for (const [k, v] of sortedEntries(pod.metadata.labels)) {
    if (k.startsWith(NAMESPACE_KEY)) continue;
    if (filter(k)) podLabels[k] = v;
  }
  const nsLabels: Record<string, string> = {};
  for (const [k, v] of sortedEntries(ns?.metadata.labels)) {
    if (k !== NAMESPACE_NAME_LABEL && filter(k)) nsLabels[k] = v;
  }
  nsLabels[NAMESPACE_NAME_LABEL] = namespace;
  return Object.freeze({
    namespace,
    pod: Object.freeze(podLabels),
    namespaceLabels: Object.freeze(sortKeys(nsLabels)),
  });
}

/** The canonical label lines, sorted. */
export function canonicalLabels(s: SecurityLabels): string[] {
  const out = Object.entries(s.pod).map(([k, v]) => `${K8S_SOURCE}${k}=${v}`);
  out.push(`${K8S_SOURCE}${NAMESPACE_KEY}=${s.namespace}`);
  for (const [k, v] of Object.entries(s.namespaceLabels)) {
    out.push(`${K8S_SOURCE}${NAMESPACE_LABELS_PREFIX}${k}=${v}`);
  }
  return out.sort();
}

/** The allocator key of a label set: its canonical lines joined with ";". */
export function labelsKey(s: SecurityLabels): string {
  return canonicalLabels(s).join(";");
}

/**
 * The flat view Fairway endpoint selectors match against: the pod's labels,
 * `io.kubernetes.pod.namespace`, and `io.kubernetes.pod.namespace.labels.<key>`.
 * Selector keys may carry a "k8s:" or "any:" source prefix (normalizeSelectorKey).
 */
export function selectorView(s: SecurityLabels): Record<string, string> {
  const view: Record<string, string> = { ...s.pod, [NAMESPACE_KEY]: s.namespace };
  for (const [k, v] of Object.entries(s.namespaceLabels)) view[NAMESPACE_LABELS_PREFIX + k] = v;
  return view;
}

/** A Fairway selector key without its Cilium-style source prefix ("k8s:app" -> "app"). */
export function normalizeSelectorKey(key: string): string {
  for (const prefix of [K8S_SOURCE, "any:"])
    if (key.startsWith(prefix)) return key.slice(prefix.length);
  return key;
}

function sortedEntries(labels: Readonly<Record<string, string>> | undefined): [string, string][] {
  return Object.entries(labels ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function sortKeys(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(sortedEntries(labels));
}
