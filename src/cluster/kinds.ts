// The kind registry: every kind the cluster sources deliver, in one table.
// Adding a kind is one entry in KINDS (plus its typed view in types.ts); the
// store, both sources, `fairway debug` and the tests take the list from here.
// The order of KINDS is the order sources apply kinds in (namespaces first).

import type {
  EndpointSlice,
  FairwayClusterwideNetworkPolicy,
  FairwayNetworkPolicy,
  KubeObject,
  Namespace,
  NetworkPolicy,
  Node,
  ObjectMeta,
  Pod,
  Service,
} from "./types.ts";

export interface KindSpec<T extends KubeObject = KubeObject> {
  /** The Kubernetes kind, as in a manifest's `kind:`. */
  readonly kind: string;
  /** "v1" for the core group, "group/version" otherwise. */
  readonly apiVersion: string;
  /** The resource name in API paths. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Phantom: carries the typed view for ObjectOf<>. Never set. */
  readonly __type?: T;
}

function kind<T extends KubeObject>(spec: Omit<KindSpec<T>, "__type">): KindSpec<T> {
  return Object.freeze({ ...spec });
}

export const KINDS = Object.freeze({
  Namespace: kind<Namespace>({
    kind: "Namespace",
    apiVersion: "v1",
    plural: "namespaces",
    namespaced: false,
  }),
  Node: kind<Node>({ kind: "Node", apiVersion: "v1", plural: "nodes", namespaced: false }),
  Pod: kind<Pod>({ kind: "Pod", apiVersion: "v1", plural: "pods", namespaced: true }),
  Service: kind<Service>({
    kind: "Service",
    apiVersion: "v1",
    plural: "services",
    namespaced: true,
  }),
  EndpointSlice: kind<EndpointSlice>({
    kind: "EndpointSlice",
    apiVersion: "discovery.k8s.io/v1",
    plural: "endpointslices",
    namespaced: true,
  }),
  NetworkPolicy: kind<NetworkPolicy>({
    kind: "NetworkPolicy",
    apiVersion: "networking.k8s.io/v1",
    plural: "networkpolicies",
    namespaced: true,
  }),
  FairwayNetworkPolicy: kind<FairwayNetworkPolicy>({
    kind: "FairwayNetworkPolicy",
    apiVersion: "fairway.io/v1alpha1",
    plural: "fairwaynetworkpolicies",
    namespaced: true,
  }),
  FairwayClusterwideNetworkPolicy: kind<FairwayClusterwideNetworkPolicy>({
    kind: "FairwayClusterwideNetworkPolicy",
    apiVersion: "fairway.io/v1alpha1",
    plural: "fairwayclusterwidenetworkpolicies",
    namespaced: false,
  }),
});

export type KindName = keyof typeof KINDS;

/** The typed view of a kind: ObjectOf<"Pod"> is Pod. */
export type ObjectOf<K extends KindName> = (typeof KINDS)[K] extends KindSpec<infer T> ? T : never;

/**
 * Kinds served by Fairway's own CRDs (deploy/crds). A store holds them only
 * when asked to (`kinds: [...ALL_KINDS, ...CRD_KINDS]`): a cluster without the
 * CRDs installed cannot list them, and a kind that never lists would keep the
 * store from ever being synced. Manifests may always name them.
 */
export const CRD_KINDS: readonly KindName[] = Object.freeze([
  "FairwayNetworkPolicy",
  "FairwayClusterwideNetworkPolicy",
] as KindName[]);

/** Every built-in kind (the API server always serves these), in registry order. */
export const ALL_KINDS: readonly KindName[] = Object.freeze(
  (Object.keys(KINDS) as KindName[]).filter((k) => !CRD_KINDS.includes(k)),
);

export function isKindName(name: string): name is KindName {
  return Object.hasOwn(KINDS, name);
}

/** The cluster-wide collection path: /api/v1/pods, /apis/discovery.k8s.io/v1/endpointslices. */
export function collectionPath(name: KindName): string {
  const spec = KINDS[name];
  const prefix = spec.apiVersion.includes("/") ? "/apis" : "/api";
  return `${prefix}/${spec.apiVersion}/${spec.plural}`;
}

/** The store key of an object: "namespace/name" for namespaced kinds, "name" otherwise. */
export function objectKey(name: KindName, meta: Pick<ObjectMeta, "name" | "namespace">): string {
  return KINDS[name].namespaced ? `${meta.namespace ?? ""}/${meta.name}` : meta.name;
}

/**
 * The registered kind a manifest's `kind` names, or why it is not one:
 * unknown kinds and wrong apiVersions are both reported.
 */
export function resolveManifestKind(
  kindText: unknown,
  apiVersion: unknown,
): { kind: KindName } | { problem: string } {
  if (typeof kindText !== "string" || kindText === "") return { problem: "missing kind" };
  if (!isKindName(kindText)) {
    return { problem: `unknown kind "${kindText}" (known: ${ALL_KINDS.join(", ")})` };
  }
  const want = KINDS[kindText].apiVersion;
  if (apiVersion !== want) {
    return {
      problem: `${kindText} needs apiVersion "${want}", got ${JSON.stringify(apiVersion ?? null)}`,
    };
  }
  return { kind: kindText };
}
