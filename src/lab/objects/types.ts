// The lab's objects as it stores them: ordinary Kubernetes JSON, mutable here
// (the lab plays API server, scheduler, kubelet and EndpointSlice controller),
// typed only in the fields the lab reads or fills in.

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
  }[];
}

export interface LabObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: ContainerPort[];
  workingDir?: string;
}

export interface PodSpec {
  nodeName?: string;
  containers: Container[];
  restartPolicy?: "Always" | "OnFailure" | "Never";
  terminationGracePeriodSeconds?: number;
  [field: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface PodStatus {
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  startTime?: string;
  reason?: string;
  message?: string;
  conditions?: PodCondition[];
  containerStatuses?: {
    name: string;
    containerID?: string;
    image?: string;
    ready: boolean;
    restartCount: number;
    started?: boolean;
    state?: Record<string, unknown>;
  }[];
}

export interface Pod extends LabObject {
  spec: PodSpec;
  status?: PodStatus;
}

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

export interface ServiceSpec {
  type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
  selector?: Record<string, string>;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ports?: ServicePort[];
  externalName?: string;
  [field: string]: unknown;
}

export interface Service extends LabObject {
  spec: ServiceSpec;
}

export interface EndpointSlice extends LabObject {
  addressType: "IPv4" | "IPv6" | "FQDN";
  endpoints: {
    addresses: string[];
    conditions: { ready: boolean; serving: boolean; terminating: boolean };
    nodeName?: string;
    targetRef?: { kind: string; namespace: string; name: string; uid: string };
  }[];
  ports: { name: string; protocol: Protocol; port: number; appProtocol?: string }[];
}

/** The kinds `lab apply` takes, with the apiVersion each needs. */
export const LAB_KINDS: Readonly<Record<string, { apiVersion: string; namespaced: boolean }>> = {
  Namespace: { apiVersion: "v1", namespaced: false },
  Pod: { apiVersion: "v1", namespaced: true },
  Service: { apiVersion: "v1", namespaced: true },
  EndpointSlice: { apiVersion: "discovery.k8s.io/v1", namespaced: true },
  NetworkPolicy: { apiVersion: "networking.k8s.io/v1", namespaced: true },
  // Fairway's own policies (issue 5, deploy/crds): the policy subsystem checks their spec.
  FairwayNetworkPolicy: { apiVersion: "fairway.io/v1alpha1", namespaced: true },
  FairwayClusterwideNetworkPolicy: { apiVersion: "fairway.io/v1alpha1", namespaced: false },
};

/** What `lab get policies` lists. */
export const POLICY_KINDS = [
  "NetworkPolicy",
  "FairwayNetworkPolicy",
  "FairwayClusterwideNetworkPolicy",
];

/** Stored but never applied by users: the lab makes them. */
export const LAB_MADE_KINDS: Readonly<Record<string, string>> = {
  Node: "nodes are made by fairway lab up (--nodes N)",
};

export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
export const MANAGED_BY = "fairway-lab";
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export function keyOf(o: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return o.metadata.namespace === undefined
    ? `${o.kind}/${o.metadata.name}`
    : `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}

/** kubectl's way of naming an object in messages: pod/web-1, service/web. */
export function refOf(o: { kind: string; metadata: { name: string } }): string {
  return `${o.kind.toLowerCase()}/${o.metadata.name}`;
}
