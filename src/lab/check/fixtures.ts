// What `lab check` deploys for itself (as `cilium connectivity test` does):
// namespace fairway-check with a client and an echo server on the first node,
// another echo server on the second, a ClusterIP and a NodePort service over
// both echo servers. Pinned to nodes so the same-node / cross-node cases are
// what their names say.
import type { NodePlan } from "../plan.ts";

export const CHECK_NAMESPACE = "fairway-check";
export const ECHO_HTTP = 8080;
export const ECHO_UDP = 5353;

const pod = (name: string, node: string, app: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${CHECK_NAMESPACE}
  labels: { app: ${app} }
spec:
  nodeName: ${node}
  containers:
    - name: ${app}
      image: fairway/echo
      ports:
        - { name: http, containerPort: ${ECHO_HTTP} }
        - { name: udp, containerPort: ${ECHO_UDP}, protocol: UDP }
`;

const service = (name: string, type: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${CHECK_NAMESPACE}
spec:
  type: ${type}
  selector: { app: echo }
  ports:
    - { name: http, port: 80, targetPort: http }
    - { name: udp, port: 53, targetPort: udp, protocol: UDP }
`;

export function checkManifest(nodes: readonly NodePlan[]): string {
  const a = nodes[0]!.name;
  const docs = [
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${CHECK_NAMESPACE}\n`,
    service("echo", "ClusterIP"),
    service("echo-nodeport", "NodePort"),
    pod("client", a, "client"),
    pod("echo-same", a, "echo"),
  ];
  if (nodes[1]) docs.push(pod("echo-other", nodes[1].name, "echo"));
  return docs.join("---\n");
}
