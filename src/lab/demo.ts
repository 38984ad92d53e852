// The demo app `lab up` applies when no -f is given (`fairway lab demo` prints
// it, to edit and apply again): a web tier behind a NodePort service (a named
// targetPort), an echo tier behind a ClusterIP service (TCP and UDP on one
// port), and a client pod to exec into. Six pods, spread over the nodes.

const webPod = (i: number) => `apiVersion: v1
kind: Pod
metadata:
  name: web-${i}
  labels: { app: web, tier: frontend }
spec:
  containers:
    - name: web
      image: fairway/echo
      ports:
        - { name: http, containerPort: 8080 }
`;

const echoPod = (i: number) => `apiVersion: v1
kind: Pod
metadata:
  name: echo-${i}
  labels: { app: echo, tier: backend }
spec:
  containers:
    - name: echo
      image: fairway/echo
      ports:
        - { name: echo-tcp, containerPort: 7007, protocol: TCP }
        - { name: echo-udp, containerPort: 7007, protocol: UDP }
`;

export const DEMO_MANIFEST = `# The Fairway lab demo app: fairway lab apply -f this file (lab up does).
# web: 3 pods behind a NodePort service (port 80 -> the pods' "http" port);
# echo: 2 pods behind a ClusterIP service (TCP and UDP echo on port 7);
# client: a pod to run commands in (fairway lab exec client -- ...).
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http, nodePort: 30080 }
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  selector: { app: echo }
  ports:
    - { name: tcp, port: 7, targetPort: echo-tcp, protocol: TCP }
    - { name: udp, port: 7, targetPort: echo-udp, protocol: UDP }
---
${[1, 2, 3].map(webPod).join("---\n")}---
${[1, 2].map(echoPod).join("---\n")}---
apiVersion: v1
kind: Pod
metadata:
  name: client
  labels: { app: client }
spec:
  containers:
    - name: client
      image: fairway/echo
`;
