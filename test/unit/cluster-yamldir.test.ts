// The directory source, on temp dirs: YAML/JSON files in, store content and
// change events out; edits, deletes, moves, bad files, fs.watch and the rescan.
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { silentLogger } from "../../src/base/log.ts";
import {
  type ChangeEvent,
  ClusterStore,
  DirectorySource,
  type DirectorySourceOptions,
  parseManifest,
  SOURCE_FILE_ANNOTATION,
} from "../../src/cluster/index.ts";

const NS_AND_PODS = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: { team: web }
---
# a comment-only document is skipped
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  labels: { app: web, tier: front }
spec:
  nodeName: node-a
  containers:
    - name: web
      image: nginx
      ports: [{ name: http, containerPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata:
  name: tool
spec:
  hostNetwork: true
`;

const NODE_JSON = JSON.stringify({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "node-a" },
  spec: { podCIDRs: ["10.244.1.0/24"] },
  status: { addresses: [{ type: "InternalIP", address: "192.0.2.10" }] },
});

interface Harness {
  dir: string;
  store: ClusterStore;
  source: DirectorySource;
  events: string[];
  write(name: string, text: string): void;
}

async function harness(
  t: TestContext,
  options: Partial<DirectorySourceOptions> = {},
  files: Record<string, string> = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "fairway-yamldir-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const store = new ClusterStore();
  const events: string[] = [];
  store.subscribe((e) => events.push(describe(e)));
  const source = new DirectorySource({
    store,
    log: silentLogger(),
    directory: dir,
    rescanSeconds: 0,
    ...options,
  });
  t.after(() => source.stop());
  await source.start();
  return {
    dir,
    store,
    source,
    events,
    write: (name, text) => writeFileSync(join(dir, name), text),
  };
}

function describe(e: ChangeEvent): string {
  return `${e.type} ${e.kind} ${e.key}`;
}

function drain(h: Harness): string[] {
  return h.events.splice(0);
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("the initial scan loads every manifest file, syncs every kind, and fills in what the API server would", async (t) => {
  const h = await harness(
    t,
    {},
    {
      "10-pods.yaml": NS_AND_PODS,
      "20-node.json": NODE_JSON,
      "notes.txt": "ignored",
      ".hidden.yaml": "bad: [",
    },
  );
  assert.ok(h.store.isSynced());
  assert.deepEqual(drain(h), [
    "add Namespace shop",
    "add Node node-a",
    "add Pod default/tool",
    "add Pod shop/web-1",
  ]);
  const pod = h.store.get("Pod", "shop/web-1")!;
  assert.equal(pod.spec?.containers?.[0]?.ports?.[0]?.name, "http");
  assert.match(pod.metadata.resourceVersion!, /^h-[0-9a-f]{16}$/);
  assert.match(
    pod.metadata.uid!,
    /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(pod.metadata.annotations?.[SOURCE_FILE_ANNOTATION], "10-pods.yaml");
  assert.equal(
    h.store.get("Pod", "default/tool")?.metadata.namespace,
    "default",
    "namespace defaults to default",
  );
  assert.deepEqual(h.store.get("Node", "node-a")?.spec?.podCIDRs, ["10.244.1.0/24"]);
  assert.deepEqual(
    h.store
      .list("Pod", {
        selector: { matchExpressions: [{ key: "tier", operator: "In", values: ["front"] }] },
      })
      .map((p) => p.metadata.name),
    ["web-1"],
  );
  assert.deepEqual(h.source.problems(), []);
});

test("edits emit only what changed; a rewrite with the same content (or key order) emits nothing", async (t) => {
  const h = await harness(t, {}, { "pods.yaml": NS_AND_PODS });
  drain(h);
  const before = h.store.get("Pod", "shop/web-1")!.metadata.resourceVersion;
  h.write("pods.yaml", NS_AND_PODS);
  await h.source.scanNow();
  assert.deepEqual(drain(h), []);
  h.write(
    "pods.yaml",
    NS_AND_PODS.replace("labels: { app: web, tier: front }", "labels: { tier: front, app: web }"),
  );
  await h.source.scanNow();
  assert.deepEqual(drain(h), [], "key order is not a change");
  h.write("pods.yaml", NS_AND_PODS.replace("nodeName: node-a", "nodeName: node-b"));
  await h.source.scanNow();
  assert.deepEqual(drain(h), ["update Pod shop/web-1"]);
  assert.notEqual(h.store.get("Pod", "shop/web-1")!.metadata.resourceVersion, before);
  assert.equal(h.store.get("Pod", "shop/web-1")!.spec?.nodeName, "node-b");
});

test("a deleted file deletes its objects; an object moving between files is an update", async (t) => {
  const h = await harness(t, {}, { "a.yaml": NS_AND_PODS, "b.json": NODE_JSON });
  drain(h);
  unlinkSync(join(h.dir, "b.json"));
  await h.source.scanNow();
  assert.deepEqual(drain(h), ["delete Node node-a"]);

  const tool = NS_AND_PODS.slice(NS_AND_PODS.lastIndexOf("---") + 3);
  h.write("a.yaml", NS_AND_PODS.slice(0, NS_AND_PODS.lastIndexOf("---")));
  h.write("c.yaml", tool);
  await h.source.scanNow();
  assert.deepEqual(drain(h), ["update Pod default/tool"]);
  assert.equal(
    h.store.get("Pod", "default/tool")?.metadata.annotations?.[SOURCE_FILE_ANNOTATION],
    "c.yaml",
  );
});

test("a bad file is reported with its path and document index and keeps its last good objects; other files go on", async (t) => {
  const h = await harness(t, {}, { "a.yaml": NS_AND_PODS, "b.json": NODE_JSON });
  drain(h);
  // the pod edit in document 2 is valid, but document 3 is broken YAML: nothing of a.yaml applies
  h.write(
    "a.yaml",
    NS_AND_PODS.replace("nodeName: node-a", "nodeName: node-z").replace(
      "hostNetwork: true",
      "hostNetwork: [true",
    ),
  );
  h.write("b.json", NODE_JSON.replace("10.244.1.0/24", "10.244.9.0/24"));
  await h.source.scanNow();
  assert.deepEqual(drain(h), ["update Node node-a"], "the good file still applies");
  assert.equal(
    h.store.get("Pod", "shop/web-1")?.spec?.nodeName,
    "node-a",
    "last good objects kept",
  );
  const problems = h.source.problems();
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.file, "a.yaml");
  assert.equal(problems[0]!.index, 3);
  assert.match(h.source.status().problems[0]!, /^a\.yaml, document 3 \(line \d+\): not valid YAML/);

  h.write("a.yaml", NS_AND_PODS.replace("nodeName: node-a", "nodeName: node-z"));
  await h.source.scanNow();
  assert.deepEqual(drain(h), ["update Pod shop/web-1"]);
  assert.deepEqual(h.source.problems(), [], "fixed file: problem gone");

  h.write("a.yaml", "kind: [");
  await h.source.scanNow();
  unlinkSync(join(h.dir, "a.yaml"));
  await h.source.scanNow();
  assert.deepEqual(
    drain(h),
    ["delete Namespace shop", "delete Pod default/tool", "delete Pod shop/web-1"],
    "a removed bad file takes its kept objects",
  );
  assert.deepEqual(h.source.problems(), []);
});

test("a file that was never good contributes nothing; duplicates across files: the first file wins", async (t) => {
  const h = await harness(
    t,
    {},
    { "a.yaml": "apiVersion: v1\nkind: Pod\nmetadata: { name: p }\n", "z.yaml": "{ bad" },
  );
  assert.deepEqual(drain(h), ["add Pod default/p"]);
  assert.equal(h.source.problems()[0]?.file, "z.yaml");
  h.write(
    "z.yaml",
    "apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec: { nodeName: other }\n",
  );
  await h.source.scanNow();
  assert.deepEqual(drain(h), []);
  assert.match(
    h.source.status().problems.join("\n"),
    /z\.yaml, document 0: Pod default\/p is also defined in a\.yaml \(document 0\), which wins/,
  );
  unlinkSync(join(h.dir, "a.yaml"));
  await h.source.scanNow();
  assert.deepEqual(drain(h), ["update Pod default/p"], "the other copy takes over");
  assert.equal(h.store.get("Pod", "default/p")?.spec?.nodeName, "other");
});

test("manifest checks name the kind, the field and the document", () => {
  const text = [
    "apiVersion: v1\nkind: Pod\nmetadata: { namespace: x }",
    "apiVersion: v1\nkind: Gadget\nmetadata: { name: g }",
    "apiVersion: v1beta1\nkind: NetworkPolicy\nmetadata: { name: np }",
    "apiVersion: v1\nkind: Pod\nmetadata: { name: p, labels: { enabled: true } }",
    "apiVersion: v1\nkind: Pod\nmetadata: { name: Bad_Name }",
    "- just\n- a list",
    "apiVersion: v1\nkind: List\nitems:\n  - { apiVersion: v1, kind: Node, metadata: { name: n1, namespace: ignored } }\n  - { apiVersion: v1, kind: Node }",
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: deny }\nspec: { podSelector: {} }",
  ].join("\n---\n");
  const { objects, problems } = parseManifest("m.yaml", text);
  assert.deepEqual(
    problems.map((p) => `${p.index}: ${p.message}`),
    [
      "0: Pod: missing metadata.name",
      '1: unknown kind "Gadget" (known: Namespace, Node, Pod, Service, EndpointSlice, NetworkPolicy)',
      '2: NetworkPolicy needs apiVersion "networking.k8s.io/v1", got "v1beta1"',
      '3: Pod p: metadata.labels.enabled must be a string (quote it: "true")',
      '4: Pod Bad_Name: metadata.name "Bad_Name" is not a DNS subdomain name',
      "5: a document must be a mapping (an object)",
      "6: items[1]: Node: missing metadata",
    ],
  );
  assert.deepEqual(
    objects.map((o) => `${o.index} ${o.kind} ${o.key}`),
    ["6 Node n1", "7 NetworkPolicy default/deny"],
  );
  assert.equal(
    objects[0]!.object.metadata.namespace,
    undefined,
    "cluster-scoped: namespace dropped",
  );
});

test("fs.watch picks up changes without a scan call (debounced)", async (t) => {
  const h = await harness(t, { debounceMs: 30 }, { "a.yaml": NS_AND_PODS });
  drain(h);
  // atomic replace, as editors and kubectl-like tools do
  const tmp = join(h.dir, ".a.yaml.tmp");
  writeFileSync(tmp, NS_AND_PODS.replace("nodeName: node-a", "nodeName: node-w"));
  renameSync(tmp, join(h.dir, "a.yaml"));
  await until("the watched update", () => h.events.length > 0);
  assert.deepEqual(drain(h), ["update Pod shop/web-1"]);
  h.write("b.json", NODE_JSON);
  await until("the new file", () => h.events.length > 0);
  assert.deepEqual(drain(h), ["add Node node-a"]);
});

test("without fs.watch the periodic rescan still finds changes", async (t) => {
  const h = await harness(t, { fsWatch: false, rescanSeconds: 1 }, { "a.yaml": NS_AND_PODS });
  drain(h);
  h.write("b.json", NODE_JSON);
  await until("the rescan", () => h.events.length > 0, 4000);
  assert.deepEqual(drain(h), ["add Node node-a"]);
});

test("start fails clearly on a missing directory; stop releases the watcher and timers", async (t) => {
  const store = new ClusterStore();
  const missing = new DirectorySource({
    store,
    log: silentLogger(),
    directory: "/nonexistent/fairway",
    rescanSeconds: 1,
  });
  await assert.rejects(
    missing.start(),
    (err: Error & { code?: string }) =>
      err.code === "E_CLUSTER_DIRECTORY" && /\/nonexistent\/fairway/.test(err.message),
  );

  const owned = (): string[] =>
    process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "FSEventWrap");
  const resourcesBefore = owned();
  const h = await harness(t, { rescanSeconds: 1 }, { "a.yaml": NS_AND_PODS });
  h.write("b.json", NODE_JSON); // leaves a debounce timer pending
  await h.source.stop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(owned(), resourcesBefore);
  const revision = h.store.revision;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(h.store.revision, revision, "nothing is applied after stop");
});
