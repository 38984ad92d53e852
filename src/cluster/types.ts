// Typed views of the Kubernetes objects Fairway reads. These are narrow,
// read-only interfaces over the API's JSON (timestamps stay strings, unknown
// fields are kept but not typed), not @kubernetes/client-node's model classes:
// both sources hand the store plain JSON, and the model classes would turn
// timestamps into Date objects on one path and not the other.
// Only the fields a subsystem reads are typed; add a field when you need it.

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
}

export interface ObjectMeta {
  readonly name: string;
  /** Set for namespaced kinds (the directory source defaults it to "default"). */
  readonly namespace?: string;
  readonly uid?: string;
  /**
   * Opaque version; equal means unchanged. The Kubernetes source has the API's;
   * the directory source sets a content hash ("h-" + 16 hex digits).
   */
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
}

/** What every stored object has. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
}

// --- core/v1 Pod

export interface ContainerPort {
  /** IANA_SVC_NAME; NetworkPolicy and Service targetPort refer to it by name. */
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly hostPort?: number;
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly ports?: readonly ContainerPort[];
}

export interface PodIP {
  readonly ip: string;
}

export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

export interface Pod extends KubeObject {
  readonly spec?: {
    readonly nodeName?: string;
    readonly hostNetwork?: boolean;
    readonly serviceAccountName?: string;
    readonly containers?: readonly Container[];
    readonly initContainers?: readonly Container[];
  };
  readonly status?: {
    readonly phase?: PodPhase;
    readonly podIP?: string;
    readonly podIPs?: readonly PodIP[];
    readonly hostIP?: string;
  };
}

// --- core/v1 Namespace

export interface Namespace extends KubeObject {
  readonly status?: { readonly phase?: "Active" | "Terminating" };
}

// --- core/v1 Node

export interface NodeAddress {
  readonly type: "InternalIP" | "ExternalIP" | "Hostname" | "InternalDNS" | "ExternalDNS" | string;
  readonly address: string;
}

export interface Node extends KubeObject {
  readonly spec?: {
    readonly podCIDR?: string;
    readonly podCIDRs?: readonly string[];
    readonly providerID?: string;
    readonly unschedulable?: boolean;
  };
  readonly status?: {
    readonly addresses?: readonly NodeAddress[];
  };
}

// --- core/v1 Service

export interface ServicePort {
  readonly name?: string;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly port: number;
  /** A number, or the name of a container port. */
  readonly targetPort?: number | string;
  readonly nodePort?: number;
  readonly appProtocol?: string;
}

export interface Service extends KubeObject {
  readonly spec?: {
    readonly type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
    /** Absent or empty: endpoints are managed by hand (no selector). */
    readonly selector?: Readonly<Record<string, string>>;
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
    readonly ipFamilies?: readonly ("IPv4" | "IPv6")[];
    readonly ports?: readonly ServicePort[];
    readonly sessionAffinity?: "None" | "ClientIP";
    /** Only read when sessionAffinity is ClientIP; the timeout defaults to 10800 (1..86400). */
    readonly sessionAffinityConfig?: {
      readonly clientIP?: { readonly timeoutSeconds?: number };
    };
    /** Addresses outside the cluster that route to this service (any type). */
    readonly externalIPs?: readonly string[];
    readonly externalTrafficPolicy?: "Cluster" | "Local";
    readonly internalTrafficPolicy?: "Cluster" | "Local";
    readonly externalName?: string;
  };
  readonly status?: {
    readonly loadBalancer?: {
      readonly ingress?: readonly LoadBalancerIngress[];
    };
  };
}

export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
  /**
   * VIP: the load balancer delivers packets with the ingress IP as destination,
   * so the node handles it. Proxy: the load balancer rewrites the destination;
   * kube-proxy does not program the IP. Absent means VIP.
   */
  readonly ipMode?: "VIP" | "Proxy";
}

// --- discovery.k8s.io/v1 EndpointSlice

export interface EndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface Endpoint {
  readonly addresses: readonly string[];
  readonly conditions?: EndpointConditions;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly targetRef?: {
    readonly kind?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly uid?: string;
  };
}

export interface EndpointPort {
  readonly name?: string;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly port?: number;
  readonly appProtocol?: string;
}

/** The owning Service is named by the label "kubernetes.io/service-name". */
export interface EndpointSlice extends KubeObject {
  readonly addressType: "IPv4" | "IPv6" | "FQDN";
  readonly endpoints?: readonly Endpoint[];
  readonly ports?: readonly EndpointPort[];
}

// --- label selectors (meta/v1), shared by policy and services

export type SelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist";

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Non-empty for In/NotIn, empty or absent for Exists/DoesNotExist. */
  readonly values?: readonly string[];
}

/** The requirements are ANDed. An empty selector ({}) matches everything. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

// --- networking.k8s.io/v1 NetworkPolicy

export interface NetworkPolicyPort {
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  /** A number, or the name of a container port. */
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface IPBlock {
  readonly cidr: string;
  readonly except?: readonly string[];
}

export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: IPBlock;
}

export interface NetworkPolicyIngressRule {
  readonly ports?: readonly NetworkPolicyPort[];
  readonly from?: readonly NetworkPolicyPeer[];
}

export interface NetworkPolicyEgressRule {
  readonly ports?: readonly NetworkPolicyPort[];
  readonly to?: readonly NetworkPolicyPeer[];
}

export interface NetworkPolicy extends KubeObject {
  readonly spec?: {
    readonly podSelector?: LabelSelector;
    readonly policyTypes?: readonly ("Ingress" | "Egress")[];
    readonly ingress?: readonly NetworkPolicyIngressRule[];
    readonly egress?: readonly NetworkPolicyEgressRule[];
  };
}

// --- fairway.io/v1alpha1 FairwayNetworkPolicy, FairwayClusterwideNetworkPolicy
// (deploy/crds). The spec is checked by the policy subsystem (one reason per
// rejected policy), so the store keeps it as the API gave it.

export interface FairwayNetworkPolicy extends KubeObject {
  readonly spec?: unknown;
}

/** Cluster-scoped: its endpointSelector picks pods of every namespace. */
export interface FairwayClusterwideNetworkPolicy extends KubeObject {
  readonly spec?: unknown;
}
