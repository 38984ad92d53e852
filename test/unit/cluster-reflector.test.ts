// The Kubernetes source's list+watch state machine, fed by a scripted KubeApi
// (an injected interface, not a fake API server): relist on 410 Gone, resume
// from the resourceVersion after a dropped watch, backoff, resync, pagination,
// and a stop that ends everything. The same code against a real kube-apiserver:
// test/e2e/cluster-kube.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../../src/base/log.ts";
import {
  backoffDelay,
  ClusterStore,
  type KubeApi,
  KubeApiError,
  type ListPage,
  Reflector,
  type WatchEvent,
  type WatchParams,
} from "../../src/cluster/index.ts";

type ListStep = (params: { limit?: number; continue?: string }) => ListPage;
type WatchStep = (
  params: WatchParams,
  emit: (e: WatchEvent) => void,
  signal: AbortSignal,
) => Promise<void>;

/** Runs until aborted, then resolves (what the real watch does when its signal aborts). */
const hang: WatchStep = (_p, _e, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });

class ScriptedApi implements KubeApi {
  readonly calls: string[] = [];
  constructor(
    readonly lists: ListStep[],
    readonly watches: WatchStep[],
  ) {}

  async list(path: string, params: { limit?: number; continue?: string }): Promise<ListPage> {
    this.calls.push(
      `list ${path}${params.continue ? ` continue=${params.continue}` : ""}${params.limit ? "" : " unpaged"}`,
    );
    const step = this.lists.shift();
    if (!step) throw new Error("script has no more lists");
    return step(params);
  }

  watch(
    _path: string,
    params: WatchParams,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.calls.push(`watch rv=${params.resourceVersion}`);
    return (this.watches.shift() ?? hang)(params, onEvent, signal);
  }
}

function raw(name: string, rv: string, extra: Record<string, unknown> = {}): unknown {
  return {
    metadata: {
      name,
      namespace: "default",
      resourceVersion: rv,
      managedFields: [{ manager: "x" }],
    },
    ...extra,
  };
}

function page(rv: string, ...items: unknown[]): ListStep {
  return () => ({ items, resourceVersion: rv });
}

function events(...list: WatchEvent[]): WatchStep {
  return async (_p, emit) => {
    for (const e of list) emit(e);
  };
}

function setup(api: ScriptedApi) {
  const store = new ClusterStore({ kinds: ["Pod"] });
  const log: string[] = [];
  store.subscribe((e) =>
    log.push(
      `${e.type} ${e.key}@${e.new?.metadata.resourceVersion ?? e.old?.metadata.resourceVersion}`,
    ),
  );
  const sleeps: number[] = [];
  const reflector = new Reflector({
    kind: "Pod",
    api,
    store,
    log: silentLogger(),
    backoff: { initialMs: 100, maxMs: 1000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
  });
  return { store, log, sleeps, reflector };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("lists, then follows watch events; objects look the same from either path", async (t) => {
  const api = new ScriptedApi(
    [page("10", raw("a", "5"))],
    [
      events(
        { type: "ADDED", object: { apiVersion: "v1", kind: "Pod", ...(raw("b", "11") as object) } },
        { type: "MODIFIED", object: raw("a", "12") },
        { type: "BOOKMARK", object: { metadata: { resourceVersion: "15" } } },
        { type: "DELETED", object: raw("b", "16") },
      ),
    ],
  );
  const { store, log, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await store.synced;
  await until("the second watch", () => api.calls.length === 3);
  assert.deepEqual(api.calls, ["list /api/v1/pods", "watch rv=10", "watch rv=16"]);
  assert.deepEqual(log, [
    "add default/a@5",
    "add default/b@11",
    "update default/a@12",
    "delete default/b@11",
  ]);
  const a = store.get("Pod", "default/a")!;
  assert.equal(a.kind, "Pod");
  assert.equal(a.apiVersion, "v1");
  assert.equal((a.metadata as { managedFields?: unknown }).managedFields, undefined);
  assert.equal(reflector.status.resourceVersion, "16");
});

test("a 410 Gone (ERROR event or status) relists, and the relist catches missed deletes", async (t) => {
  const gone = {
    type: "ERROR",
    object: {
      kind: "Status",
      code: 410,
      reason: "Expired",
      message: "too old resource version: 10 (20)",
    },
  };
  const api = new ScriptedApi(
    [
      page("10", raw("a", "5"), raw("b", "6")),
      page("20", raw("a", "5"), raw("c", "19")),
      page("30", raw("c", "19")),
    ],
    [
      events(gone),
      async () => {
        throw new KubeApiError("/api/v1/pods", 410, "Gone");
      },
    ],
  );
  const { log, sleeps, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await until("the third watch", () => api.calls.length === 6);
  assert.deepEqual(api.calls, [
    "list /api/v1/pods",
    "watch rv=10",
    "list /api/v1/pods",
    "watch rv=20",
    "list /api/v1/pods",
    "watch rv=30",
  ]);
  assert.deepEqual(log, [
    "add default/a@5",
    "add default/b@6",
    "add default/c@19",
    "delete default/b@6",
    "delete default/a@5",
  ]);
  assert.deepEqual(sleeps, [100], "the first 410 relists at once, a second in a row backs off");
  assert.equal(reflector.status.gone, 2);
  assert.equal(reflector.status.lists, 3);
});

test("a dropped watch resumes from its resourceVersion with growing backoff, reset by progress", async (t) => {
  const fail: WatchStep = async () => {
    throw new KubeApiError("/api/v1/pods", undefined, "socket hang up");
  };
  const api = new ScriptedApi(
    [page("10")],
    [fail, fail, fail, events({ type: "ADDED", object: raw("x", "11") }), fail],
  );
  const { sleeps, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await until("the sixth watch", () => api.calls.length === 7);
  assert.deepEqual(api.calls, [
    "list /api/v1/pods",
    "watch rv=10",
    "watch rv=10",
    "watch rv=10",
    "watch rv=10",
    "watch rv=11",
    "watch rv=11",
  ]);
  assert.deepEqual(sleeps, [100, 200, 400, 100]);
  assert.equal(reflector.status.errors, 4);
  assert.equal(reflector.status.lists, 1, "no relist: the resourceVersion was still good");
  assert.match(reflector.status.lastError!, /socket hang up/);
});

test("a failing list backs off and the kind is synced only after a list succeeds", async (t) => {
  const forbidden: ListStep = () => {
    throw new KubeApiError(
      "/api/v1/pods",
      403,
      'pods is forbidden: User "fairway" cannot list resource "pods"',
    );
  };
  const api = new ScriptedApi([forbidden, forbidden, page("7", raw("a", "1"))], []);
  const { store, sleeps, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await store.synced;
  assert.deepEqual(sleeps, [100, 200]);
  assert.equal(reflector.status.errors, 2);
});

test("a watch that ends at once without events does not spin", async (t) => {
  const empty: WatchStep = async () => {};
  const api = new ScriptedApi([page("10")], [empty, empty]);
  const { sleeps, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await until("the third watch", () => api.calls.length === 4);
  assert.deepEqual(sleeps, [100, 100]);
});

test("resync relists; unchanged objects emit nothing", async (t) => {
  const api = new ScriptedApi(
    [page("10", raw("a", "5")), page("12", raw("a", "5"), raw("b", "11"))],
    [],
  );
  const { log, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await until("the first watch", () => api.calls.length === 2);
  reflector.resync();
  await until("the second watch", () => api.calls.length === 4);
  assert.deepEqual(api.calls, [
    "list /api/v1/pods",
    "watch rv=10",
    "list /api/v1/pods",
    "watch rv=12",
  ]);
  assert.deepEqual(log, ["add default/a@5", "add default/b@11"]);
});

test("lists page by page; an expired continue token falls back to one unpaged list", async (t) => {
  const api = new ScriptedApi(
    [
      () => ({ items: [raw("a", "1")], resourceVersion: "10", continue: "t1" }),
      () => {
        throw new KubeApiError("/api/v1/pods", 410, "The provided continue parameter is too old");
      },
      page("12", raw("a", "1"), raw("b", "2")),
    ],
    [],
  );
  const { store, reflector } = setup(api);
  t.after(() => reflector.stop());
  reflector.start();
  await until("the watch", () => api.calls.length === 4);
  assert.deepEqual(api.calls, [
    "list /api/v1/pods",
    "list /api/v1/pods continue=t1",
    "list /api/v1/pods unpaged",
    "watch rv=12",
  ]);
  assert.equal(store.size("Pod"), 2);
});

test("stop ends a hanging watch and a backoff wait, and nothing is written afterwards", async () => {
  let emit: ((e: WatchEvent) => void) | undefined;
  const api = new ScriptedApi(
    [page("10")],
    [
      (p, e, s) => {
        emit = e;
        return hang(p, e, s);
      },
    ],
  );
  const { store, reflector } = setup(api);
  reflector.start();
  await until("the watch", () => emit !== undefined);
  await reflector.stop();
  emit!({ type: "ADDED", object: raw("late", "99") });
  assert.equal(store.size("Pod"), 0);

  // a real sleep: stop must cut it short
  const api2 = new ScriptedApi(
    [
      () => {
        throw new KubeApiError("/api/v1/pods", 503, "unavailable");
      },
    ],
    [],
  );
  const r2 = new Reflector({
    kind: "Pod",
    api: api2,
    store: new ClusterStore({ kinds: ["Pod"] }),
    log: silentLogger(),
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  r2.start();
  await until("the failed list", () => api2.calls.length === 1);
  const t0 = Date.now();
  await r2.stop();
  assert.ok(Date.now() - t0 < 1000, "stop did not wait for the backoff");
});

test("backoff doubles up to the cap, with jitter between 50% and 100%", () => {
  const o = { initialMs: 500, maxMs: 30_000 };
  assert.deepEqual(
    [1, 2, 3, 7, 20].map((n) => backoffDelay(n, o, () => 1)),
    [500, 1000, 2000, 30_000, 30_000],
  );
  assert.equal(
    backoffDelay(1, o, () => 0),
    250,
  );
});
