// The lab's control-plane logic without root: what `lab apply` refuses and
// why, ClusterIP/NodePort allocation, the EndpointSlice controller, and the
// image -> command mapping. The e2e suites (test/e2e/lab-*.test.ts) run it
// all for real.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { containerCommand } from "../../src/lab/kubelet/images.ts";
import { admit } from "../../src/lab/objects/admit.ts";
import { slicesFor, syncEndpointSlices } from "../../src/lab/objects/endpointslices.ts";
import { parseText } from "../../src/lab/objects/parse.ts";
import { ObjectStore } from "../../src/lab/objects/store.ts";
import type { LabObject, Pod, Service } from "../../src/lab/objects/types.ts";
import { checkDocument } from "../../src/lab/objects/validate.ts";

const NODES = ["n1", "n2"];

function tempStore(t: { after(fn: () => void): void }): ObjectStore {
  const dir = mkdtempSync(join(tmpdir(), "fwt-labobj-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = ObjectStore.load(dir);
  store.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
  return store;
}

function checked(yaml: string): LabObject {
  const c = checkDocument(parse(yaml) as Record<string, unknown>);
  assert.deepEqual(c.problems, []);
  return c.object!;
}

const problemsOf = (yaml: string) => checkDocument(parse(yaml) as Record<string, unknown>).problems;

const svc = (name: string, extra = "") => `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 80, targetPort: http }]
${extra}`;

test("validate: unknown kinds, pods with nothing to run, port clashes are refused with a reason", () => {
  assert.match(
    problemsOf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}")[0]!,
    /unknown kind "Deployment": the lab takes Namespace, Pod/,
  );
  assert.match(
    problemsOf("apiVersion: v1\nkind: Node\nmetadata: {name: x}")[0]!,
    /nodes are made by fairway lab up/,
  );
  assert.match(
    problemsOf(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c}]}",
    )[0]!,
    /pod\/x: container "c" has neither image nor command/,
  );
  assert.match(
    problemsOf(`apiVersion: v1
kind: Pod
metadata: { name: x }
spec:
  containers:
    - { name: a, image: fairway/echo, ports: [{ containerPort: 80 }] }
    - { name: b, image: fairway/echo, ports: [{ containerPort: 80, protocol: TCP }] }`)[0]!,
    /port clash: 80\/TCP is declared by container "a" and container "b"/,
  );
  assert.match(
    problemsOf(`apiVersion: v1
kind: Service
metadata: { name: s }
spec:
  ports: [{ name: a, port: 80 }, { name: b, port: 80 }]`)[0]!,
    /port clash: 80\/TCP is listed in spec.ports\[0\] and spec.ports\[1\]/,
  );
  assert.match(
    problemsOf(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}, {port: 81}]}",
    )[0]!,
    /must name each/,
  );
  assert.match(
    problemsOf("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {}")[0]!,
    /not a lower-case DNS name/,
  );
});

test("parse: YAML errors name the file, document and line; Lists are expanded", () => {
  const bad = parseText("f.yaml", "a: 1\n---\nkind: Pod\nmetadata: { name: [x\n");
  assert.equal(bad.problems.length, 1);
  assert.match(
    `${bad.problems[0]!.where}: ${bad.problems[0]!.message}`,
    /^f\.yaml, document 2 \(line 3\): invalid YAML at line \d+, column \d+: /,
  );
  const list = parseText(
    "l.yaml",
    "apiVersion: v1\nkind: List\nitems: [{kind: Pod}, {kind: Service}]\n",
  );
  assert.deepEqual(
    list.docs.map((d) => [d.where, d.value.kind]),
    [
      ["l.yaml, document 1 (line 1), items[0]", "Pod"],
      ["l.yaml, document 1 (line 1), items[1]", "Service"],
    ],
  );
});

test("admit: ClusterIPs and NodePorts allocated, kept on re-apply, clashes and immutable fields refused", (t) => {
  const store = tempStore(t);
  const a = checked(svc("a", "  type: NodePort")) as Service;
  const b = checked(svc("b")) as Service;
  assert.deepEqual(admit([a, b], { store, nodes: NODES }), []);
  assert.equal(a.spec.clusterIP, "10.96.0.10");
  assert.equal(b.spec.clusterIP, "10.96.0.11");
  assert.equal(a.spec.ports![0]!.nodePort, 30000);
  assert.equal(b.spec.ports![0]!.nodePort, undefined);
  store.put(a);
  store.put(b);

  const again = checked(svc("a", "  type: NodePort")) as Service;
  assert.deepEqual(admit([again], { store, nodes: NODES }), []);
  assert.equal(again.spec.clusterIP, "10.96.0.10", "re-apply keeps the ClusterIP");
  assert.equal(again.spec.ports![0]!.nodePort, 30000, "and the NodePort");

  const clash = checked(svc("c", "  type: NodePort")) as Service;
  clash.spec.ports![0]!.nodePort = 30000;
  assert.deepEqual(admit([clash], { store, nodes: NODES }), [
    "port clash: service/c: nodePort 30000 is already allocated to service default/a",
  ]);
  const taken = checked(svc("d", "  clusterIP: 10.96.0.11")) as Service;
  assert.deepEqual(admit([taken], { store, nodes: NODES }), [
    "service/d: spec.clusterIP 10.96.0.11 is already allocated to service default/b",
  ]);
  const outside = checked(svc("e", "  clusterIP: 10.0.0.1")) as Service;
  assert.match(
    admit([outside], { store, nodes: NODES })[0]!,
    /not in the lab's service range 10\.96\.0\.0\/16/,
  );
  const moved = checked(svc("a", "  clusterIP: 10.96.0.99")) as Service;
  assert.match(
    admit([moved], { store, nodes: NODES })[0]!,
    /spec.clusterIP is immutable \(it is 10\.96\.0\.10\)/,
  );
  const range = checked(svc("f", "  type: NodePort")) as Service;
  range.spec.ports![0]!.nodePort = 80;
  assert.match(
    admit([range], { store, nodes: NODES })[0]!,
    /nodePort 80 is outside the range 30000-32767/,
  );
});

test("admit: namespaces must exist, nodeName must be a lab node, a pod's spec cannot change", (t) => {
  const store = tempStore(t);
  const pod = (extra: string) =>
    checked(
      `apiVersion: v1\nkind: Pod\nmetadata: { name: p${extra} }\nspec: { containers: [{ name: c, image: fairway/echo }] }`,
    );
  const inOther = pod(", namespace: other");
  assert.match(admit([inOther], { store, nodes: NODES })[0]!, /namespace "other" not found/);
  const ns = checked("apiVersion: v1\nkind: Namespace\nmetadata: { name: other }");
  assert.deepEqual(
    admit([ns, inOther], { store, nodes: NODES }),
    [],
    "a Namespace in the same input will do",
  );
  const pinned = pod("");
  (pinned as Pod).spec.nodeName = "n9";
  assert.match(
    admit([pinned], { store, nodes: NODES })[0]!,
    /spec.nodeName "n9" is not a lab node \(n1, n2\)/,
  );
  const running = pod("");
  (running as Pod).spec.nodeName = "n1";
  store.put(running);
  const changed = checked(
    `apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec: { containers: [{ name: c, image: busybox }] }`,
  );
  assert.match(admit([changed], { store, nodes: NODES })[0]!, /a pod's spec cannot change/);
  const relabelled = checked(
    `apiVersion: v1\nkind: Pod\nmetadata: { name: p, labels: { a: b } }\nspec: { containers: [{ name: c, image: fairway/echo }] }`,
  );
  assert.deepEqual(
    admit([relabelled], { store, nodes: NODES }),
    [],
    "labels may change; nodeName is kept",
  );
});

function runningPod(name: string, ip: string, httpPort: number | undefined, ready = true): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", uid: `uid-${name}`, labels: { app: "web" } },
    spec: {
      nodeName: "n1",
      containers: [
        {
          name: "c",
          image: "fairway/echo",
          ports: httpPort ? [{ name: "http", containerPort: httpPort }] : [],
        },
      ],
    },
    status: {
      phase: "Running",
      podIP: ip,
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  };
}

test("EndpointSlices: named targetPorts resolved per pod, one slice per port set, readiness carried", () => {
  const web = checked(svc("web")) as Service;
  web.metadata.namespace = "default";
  web.metadata.uid = "uid-web";
  const pods = [
    runningPod("a", "10.100.1.1", 8080),
    runningPod("b", "10.100.1.2", 8080, false),
    runningPod("c", "10.100.2.1", 9090),
    runningPod("d", "10.100.2.2", undefined),
  ];
  const { slices, notes } = slicesFor(web, pods);
  assert.deepEqual(
    slices.map((s) => [
      s.ports.map((p) => `${p.name}:${p.port}/${p.protocol}`).join(),
      s.endpoints.map((e) => `${e.targetRef!.name}=${e.conditions.ready}`).join(),
    ]),
    [
      ["http:8080/TCP", "a=true,b=false"],
      ["http:9090/TCP", "c=true"],
    ],
  );
  assert.equal(slices[0]!.metadata.labels!["kubernetes.io/service-name"], "web");
  assert.equal(
    slices[0]!.metadata.labels!["endpointslice.kubernetes.io/managed-by"],
    "fairway-lab",
  );
  assert.match(notes[0]!, /pod d has no container port named "http"/);
  const headless = { ...web, spec: { ...web.spec, selector: {} } };
  assert.deepEqual(slicesFor(headless, pods).slices, [], "no selector: no managed slices");
});

test("EndpointSlices: the sync writes, updates and removes only the lab's own slices", (t) => {
  const store = tempStore(t);
  const web = checked(svc("web")) as Service;
  store.put(web);
  store.put(runningPod("a", "10.100.1.1", 8080));
  store.put({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "manual",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "other" },
    },
  });
  syncEndpointSlices(store);
  assert.deepEqual(
    store
      .list("EndpointSlice")
      .map((s) => s.metadata.name)
      .sort(),
    [
      "manual",
      store.list("EndpointSlice").find((s) => s.metadata.name !== "manual")!.metadata.name,
    ].sort(),
  );
  store.remove({ kind: "Pod", metadata: { name: "a", namespace: "default" } });
  syncEndpointSlices(store);
  assert.deepEqual(
    store.list("EndpointSlice").map((s) => s.metadata.name),
    ["manual"],
  );
});

test("images: built-ins and commands", () => {
  assert.deepEqual(
    containerCommand({
      name: "c",
      image: "fairway/echo:1",
      ports: [{ containerPort: 80 }, { containerPort: 53, protocol: "UDP" }],
    }),
    {
      kind: "pod-server",
      argv: ["serve", "--tcp", "80", "--udp", "53"],
    },
  );
  assert.deepEqual(containerCommand({ name: "c", image: "registry.k8s.io/pause:3.9" }), {
    kind: "pod-server",
    argv: ["pause"],
  });
  assert.deepEqual(
    containerCommand({ name: "c", image: "x", command: ["/bin/echo"], args: ["hi"] }),
    { kind: "exec", argv: ["/bin/echo", "hi"] },
  );
  const nginx = containerCommand({
    name: "c",
    image: "nginx:1.27",
    ports: [{ containerPort: 80 }],
  });
  assert.deepEqual(nginx.argv, ["serve", "--tcp", "80"]);
  assert.match(nginx.warning ?? "", /image "nginx:1.27" is not built into the lab/);
});
