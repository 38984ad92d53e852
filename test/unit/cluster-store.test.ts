// The cluster store: tables per kind, revision, synced, ordered change events,
// and label selectors (matchLabels + matchExpressions) as every subsystem uses them.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ChangeEvent,
  ClusterStore,
  compileSelector,
  formatSelector,
  type LabelSelector,
  type Namespace,
  type Node,
  type Pod,
} from "../../src/cluster/index.ts";

function pod(
  name: string,
  labels: Record<string, string> = {},
  rv = "1",
  namespace = "default",
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels, resourceVersion: rv },
  };
}

function summary(e: ChangeEvent): string {
  return `${e.revision} ${e.type} ${e.kind} ${e.key} ${e.old?.metadata.resourceVersion ?? "-"}->${e.new?.metadata.resourceVersion ?? "-"}`;
}

test("apply, get, list and remove keep one table per kind, keyed namespace/name", () => {
  const store = new ClusterStore();
  store.apply("Pod", pod("web-1"));
  store.apply("Pod", pod("web-1", {}, "1", "prod"));
  store.apply("Node", { metadata: { name: "node-a", resourceVersion: "5" } } satisfies Node);
  assert.equal(store.get("Pod", "default/web-1")?.metadata.namespace, "default");
  assert.equal(store.get("Pod", "prod/web-1")?.metadata.namespace, "prod");
  assert.equal(store.get("Node", "node-a")?.metadata.resourceVersion, "5");
  assert.equal(store.get("Pod", "web-1"), undefined);
  assert.deepEqual(
    store.list("Pod").map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
    ["default/web-1", "prod/web-1"],
  );
  assert.deepEqual(
    store.list("Pod", { namespace: "prod" }).map((p) => p.metadata.name),
    ["web-1"],
  );
  assert.equal(store.revision, 3);
  assert.ok(store.remove("Pod", "prod/web-1"));
  assert.equal(store.remove("Pod", "prod/web-1"), undefined, "removing twice is no change");
  assert.equal(store.size("Pod"), 1);
  assert.equal(store.revision, 4);
  assert.throws(() => store.list("Node", { namespace: "x" }), /cluster-scoped/);
});

test("an equal resourceVersion is not re-emitted; updates carry old and new", () => {
  const store = new ClusterStore();
  const seen: string[] = [];
  store.subscribe((e) => seen.push(summary(e)));
  store.apply("Pod", pod("a", {}, "1"));
  assert.equal(store.apply("Pod", pod("a", { changed: "but-same-rv" }, "1")), undefined);
  store.apply("Pod", pod("a", {}, "2"));
  store.remove("Pod", "default/a");
  assert.deepEqual(seen, [
    "1 add Pod default/a -->1",
    "2 update Pod default/a 1->2",
    "3 delete Pod default/a 2->-",
  ]);
});

test("stored objects are frozen", () => {
  const store = new ClusterStore();
  store.apply("Pod", pod("a", { app: "web" }));
  const got = store.get("Pod", "default/a")!;
  assert.ok(
    Object.isFrozen(got) && Object.isFrozen(got.metadata) && Object.isFrozen(got.metadata.labels),
  );
});

test("synced resolves once every kind had its initial list; replace emits only the difference", async () => {
  const store = new ClusterStore({ kinds: ["Namespace", "Pod"] });
  let synced = false;
  void store.synced.then(() => {
    synced = true;
  });
  store.replace("Pod", [pod("a"), pod("b")]);
  await Promise.resolve();
  assert.equal(synced, false);
  assert.deepEqual(store.unsyncedKinds(), ["Namespace"]);
  store.replace("Namespace", [
    { metadata: { name: "default", resourceVersion: "1" } } satisfies Namespace,
  ]);
  await store.synced;
  assert.ok(store.isSynced() && store.isSynced("Pod"));

  const seen: string[] = [];
  store.subscribe((e) => seen.push(summary(e)), { kinds: ["Pod"] });
  const changes = store.replace("Pod", [pod("a"), pod("b", {}, "2"), pod("c")]);
  store.replace("Pod", [pod("b", {}, "2")]);
  assert.equal(changes, 2);
  assert.deepEqual(seen, [
    "4 update Pod default/b 1->2",
    "5 add Pod default/c -->1",
    "6 delete Pod default/a 1->-",
    "7 delete Pod default/c 1->-",
  ]);
  assert.throws(() => store.apply("Node", { metadata: { name: "n" } }), /does not hold kind Node/);
});

test("events reach subscribers in revision order, also when a listener writes to the store", () => {
  const store = new ClusterStore();
  const first: string[] = [];
  const second: string[] = [];
  store.subscribe((e) => {
    first.push(summary(e));
    // a listener that reacts by writing: its change is delivered after this one, to everyone
    if (e.type === "add" && e.kind === "Pod")
      store.apply("Namespace", {
        metadata: { name: e.new!.metadata.namespace!, resourceVersion: "1" },
      });
  });
  store.subscribe((e) => second.push(summary(e)));
  store.apply("Pod", pod("a"));
  const expected = ["1 add Pod default/a -->1", "2 add Namespace default -->1"];
  assert.deepEqual(first, expected);
  assert.deepEqual(second, expected);
});

test("subscribe: kinds filter, replay of current objects, and the disposer", () => {
  const store = new ClusterStore();
  store.apply("Pod", pod("b"));
  store.apply("Pod", pod("a"));
  store.apply("Node", { metadata: { name: "n1", resourceVersion: "1" } });
  const seen: string[] = [];
  const dispose = store.subscribe((e) => seen.push(`${e.type} ${e.kind} ${e.key}`), {
    kinds: ["Pod"],
    replay: true,
  });
  assert.deepEqual(seen, ["add Pod default/a", "add Pod default/b"]);
  store.apply("Node", { metadata: { name: "n2", resourceVersion: "1" } });
  store.apply("Pod", pod("c"));
  dispose();
  store.apply("Pod", pod("d"));
  assert.deepEqual(seen.slice(2), ["add Pod default/c"]);
});

test("a listener that subscribes another during delivery: the newcomer sees only later changes", () => {
  const store = new ClusterStore();
  const late: string[] = [];
  store.subscribe((e) => {
    if (e.key === "default/a") store.subscribe((x) => late.push(x.key));
  });
  store.apply("Pod", pod("a"));
  store.apply("Pod", pod("b"));
  assert.deepEqual(late, ["default/b"]);
});

test("a throwing listener is reported and does not stop delivery to the others", () => {
  const errors: unknown[] = [];
  const log = {
    error: (o: { err: unknown }) => errors.push(o.err),
  } as unknown as import("../../src/base/log.ts").Logger;
  const store = new ClusterStore({ log });
  const seen: string[] = [];
  store.subscribe(() => {
    throw new Error("boom");
  });
  store.subscribe((e) => seen.push(e.key));
  store.apply("Pod", pod("a"));
  assert.deepEqual(seen, ["default/a"]);
  assert.equal((errors[0] as Error).message, "boom");
});

// --- label selectors

const labelled = [
  pod("web-prod", { app: "web", env: "prod", tier: "front" }),
  pod("web-dev", { app: "web", env: "dev" }),
  pod("db-prod", { app: "db", env: "prod", legacy: "true" }),
  pod("bare", {}),
];

function names(store: ClusterStore, selector: LabelSelector): string[] {
  return store.list("Pod", { selector }).map((p) => p.metadata.name);
}

test("list with label selectors: matchLabels and In/NotIn/Exists/DoesNotExist, ANDed", () => {
  const store = new ClusterStore();
  for (const p of labelled) store.apply("Pod", p);
  assert.deepEqual(
    names(store, {}),
    ["bare", "db-prod", "web-dev", "web-prod"],
    "{} matches everything",
  );
  assert.deepEqual(names(store, { matchLabels: { app: "web" } }), ["web-dev", "web-prod"]);
  assert.deepEqual(
    names(store, {
      matchExpressions: [{ key: "env", operator: "In", values: ["prod", "staging"] }],
    }),
    ["db-prod", "web-prod"],
  );
  assert.deepEqual(
    names(store, { matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }),
    ["bare", "web-dev"],
    "NotIn matches objects without the key",
  );
  assert.deepEqual(names(store, { matchExpressions: [{ key: "tier", operator: "Exists" }] }), [
    "web-prod",
  ]);
  assert.deepEqual(
    names(store, { matchExpressions: [{ key: "legacy", operator: "DoesNotExist" }] }),
    ["bare", "web-dev", "web-prod"],
  );
  assert.deepEqual(
    names(store, {
      matchLabels: { env: "prod" },
      matchExpressions: [
        { key: "app", operator: "In", values: ["web", "db"] },
        { key: "legacy", operator: "DoesNotExist" },
      ],
    }),
    ["web-prod"],
  );
  assert.deepEqual(
    store
      .list("Pod", { namespace: "default", selector: { matchLabels: { app: "db" } } })
      .map((p) => p.metadata.name),
    ["db-prod"],
  );
});

test("malformed selectors are refused with every problem named", () => {
  const bad = {
    matchExpressions: [
      { key: "a", operator: "In", values: [] },
      { key: "b", operator: "Exists", values: ["x"] },
      { key: "c", operator: "Equals", values: ["x"] },
    ],
  } as unknown as LabelSelector;
  assert.throws(
    () => compileSelector(bad),
    (err: Error & { code?: string }) =>
      err.code === "E_CLUSTER_BAD_SELECTOR" &&
      /\[0\]: operator In needs values/.test(err.message) &&
      /\[1\]: operator Exists takes no values/.test(err.message) &&
      /\[2\]: operator "Equals"/.test(err.message),
  );
});

test("selectors print in kubectl's form", () => {
  assert.equal(
    formatSelector({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod", "dev"] },
        { key: "x", operator: "NotIn", values: ["1"] },
        { key: "tier", operator: "Exists" },
        { key: "legacy", operator: "DoesNotExist" },
      ],
    }),
    "app=web,env in (dev,prod),x notin (1),tier,!legacy",
  );
});
