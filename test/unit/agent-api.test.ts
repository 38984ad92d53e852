// The agent in-process (no child process): API routes, errors as data,
// readiness gating, DEL queueing and replay, per-attachment serialisation.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Agent } from "../../src/agent/agent.ts";
import { loadAgentConfig } from "../../src/agent/config.ts";
import { KeyedLock } from "../../src/agent/keyed-lock.ts";
import { agentModules } from "../../src/agent/modules.ts";
import {
  AGENT_ERRORS,
  type CniBackend,
  type CniRequest,
  type CniResult,
  callAgent,
  DEL_QUEUE_DIR,
  ROUTES,
  writeDelQueueEntry,
} from "../../src/base/api.ts";
import { parseFlags } from "../../src/base/config.ts";
import { FairwayError } from "../../src/base/errors.ts";
import { silentLogger } from "../../src/base/log.ts";
import type { ModuleDecl } from "../../src/base/module.ts";

/** A scripted backend: records calls; `next` makes the next call throw. */
class ScriptedBackend implements CniBackend {
  calls: string[] = [];
  next: Error | undefined;
  gate: Promise<void> | undefined;

  async start(): Promise<void> {}

  private take(name: string, req?: { containerId: string }): void {
    this.calls.push(req ? `${name} ${req.containerId}` : name);
    const err = this.next;
    this.next = undefined;
    if (err) throw err;
  }
  async add(req: CniRequest): Promise<CniResult> {
    this.take("add", req);
    await this.gate;
    return { cniVersion: "1.0.0", ips: [{ address: "10.1.0.2/24" }] };
  }
  async del(req: CniRequest): Promise<void> {
    this.take("del", req);
  }
  async check(req: CniRequest): Promise<void> {
    this.take("check", req);
  }
  async gc(): Promise<void> {
    this.take("gc");
  }
  async status() {
    return { ready: true };
  }
}

function setup(t: { after(fn: () => Promise<void> | void): void }, withBackend = true) {
  const root = mkdtempSync(join(tmpdir(), "fwt-api-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundle = join(root, "fairway-cni.js");
  writeFileSync(bundle, "#!/usr/bin/env node\n");
  const { flags } = parseFlags(
    [
      `--runDir=${join(root, "run")}`,
      `--cni.confDir=${join(root, "net.d")}`,
      `--cni.binDir=${join(root, "bin")}`,
      `--cni.pluginBundle=${bundle}`,
      "--nodeName=n1",
    ],
    [],
  );
  const config = loadAgentConfig({ flags, env: {} });
  const backend = new ScriptedBackend();
  const module: ModuleDecl<undefined, ScriptedBackend> = {
    id: "endpoint",
    deps: [],
    config: () => undefined,
    create: () => backend,
  };
  const agent = new Agent({
    config,
    log: silentLogger(),
    modules: agentModules(withBackend ? [module] : []),
    version: "test",
  });
  t.after(async () => {
    await agent.stop();
  });
  const call = (method: "GET" | "POST", path: string, body?: unknown) =>
    callAgent({
      socketPath: agent.socket,
      method,
      path,
      body,
      connectTimeoutMs: 500,
      timeoutMs: 5000,
    });
  return { root, agent, backend, call, queueDir: join(root, "run", DEL_QUEUE_DIR) };
}

const req = (containerId: string, extra: Partial<CniRequest> = {}): CniRequest => ({
  network: "fairway",
  cniVersion: "1.1.0",
  containerId,
  ifname: "eth0",
  netns: "/proc/self/ns/net",
  args: {},
  ...extra,
});

describe("agent API", () => {
  test("CNI routes call the backend; results are answered in 1.1.0", async (t) => {
    const { agent, backend, call } = setup(t);
    await agent.start();
    const add = await call("POST", ROUTES.cniAdd, req("a1"));
    assert.deepEqual(add, {
      status: 200,
      body: { cniVersion: "1.1.0", ips: [{ address: "10.1.0.2/24" }] },
    });
    assert.equal(
      (await call("POST", ROUTES.cniCheck, req("a1", { prevResult: add.body as CniResult })))
        .status,
      200,
    );
    assert.equal((await call("POST", ROUTES.cniDel, req("a1"))).status, 200);
    assert.equal(
      (
        await call("POST", ROUTES.cniGc, {
          network: "fairway",
          cniVersion: "1.1.0",
          validAttachments: [],
        })
      ).status,
      200,
    );
    assert.deepEqual(await call("GET", ROUTES.cniStatus), { status: 200, body: { ready: true } });
    assert.deepEqual(backend.calls, ["add a1", "check a1", "del a1", "gc"]);
  });

  test("errors cross the socket as {code, message, details, kind} with a matching status", async (t) => {
    const { agent, backend, call } = setup(t);
    await agent.start();
    backend.next = new FairwayError(AGENT_ERRORS.ipamExhausted, "pool 10.1.0.0/24 is full", {
      details: { pool: "10.1.0.0/24" },
    });
    assert.deepEqual(await call("POST", ROUTES.cniAdd, req("a2")), {
      status: 500,
      body: {
        code: "E_IPAM_EXHAUSTED",
        message: "pool 10.1.0.0/24 is full",
        kind: "expected",
        details: { pool: "10.1.0.0/24" },
      },
    });
    backend.next = new Error("boom");
    const crash = await call("POST", ROUTES.cniAdd, req("a3"));
    assert.equal(crash.status, 500);
    assert.deepEqual(crash.body, {
      code: "E_INTERNAL",
      message: "internal error: boom",
      details: {},
      kind: "bug",
    });
    // DEL of something the backend does not know is a success
    backend.next = new FairwayError(AGENT_ERRORS.containerUnknown, "no such container");
    assert.equal((await call("POST", ROUTES.cniDel, req("a4"))).status, 200);
  });

  test("bad requests are rejected naming the fields", async (t) => {
    const { agent, call } = setup(t);
    await agent.start();
    const bad = await call("POST", ROUTES.cniAdd, { ...req("-x"), ifname: "a/b", surprise: 1 });
    assert.equal(bad.status, 400);
    const body = bad.body as { code: string; details: { problems: string[] } };
    assert.equal(body.code, "E_BAD_REQUEST");
    assert.deepEqual(
      body.details.problems.map((p) => p.split(":")[0]),
      ["containerId", "ifname", "(body)"],
    );
    const noNetns = await call("POST", ROUTES.cniAdd, { ...req("x"), netns: undefined });
    assert.match((noNetns.body as { message: string }).message, /netns is required/);
    const notJson = await postRaw(agent.socket, ROUTES.cniAdd, "{nope");
    assert.equal(notJson.status, 400);
    assert.match((notJson.body as { message: string }).message, /request body is not valid JSON/);
    const notObject = await call("POST", ROUTES.cniAdd, "a string");
    assert.equal(notObject.status, 400);
    assert.equal((await call("GET", "/v1/nothing")).status, 404);
    const wrongMethod = await call("GET", ROUTES.cniAdd);
    assert.equal(wrongMethod.status, 405);
  });

  test("before start and without a backend: CNI says not ready, DEL is queued", async (t) => {
    const { agent, call, queueDir } = setup(t, false);
    await agent.start();
    const add = await call("POST", ROUTES.cniAdd, req("b1"));
    assert.equal(add.status, 503);
    assert.equal((add.body as { code: string }).code, "E_NO_CNI_BACKEND");
    const ready = await call("GET", ROUTES.readyz);
    assert.equal(ready.status, 503);
    assert.match((ready.body as { message: string }).message, /no CNI backend/);
    assert.deepEqual(await call("POST", ROUTES.cniDel, req("b1")), {
      status: 200,
      body: { queued: true },
    });
    assert.deepEqual(readdirSync(queueDir), ["b1_eth0.json"]);
    assert.deepEqual((await call("GET", ROUTES.endpoints)).status, 503);
  });

  test("queued DELs are replayed once the agent runs", async (t) => {
    const { agent, backend, queueDir, call } = setup(t);
    writeDelQueueEntry(queueDir, {
      queuedAt: new Date().toISOString(),
      by: "plugin",
      request: req("q1"),
    });
    writeDelQueueEntry(queueDir, {
      queuedAt: new Date().toISOString(),
      by: "plugin",
      request: req("q2", { ifname: "net%1" }),
    });
    writeFileSync(join(queueDir, "garbage.json"), "{");
    await agent.start();
    const deadline = Date.now() + 3000;
    while (readdirSync(queueDir).some((n) => n.endsWith(".json")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(backend.calls.sort(), ["del q1", "del q2"]);
    assert.deepEqual(readdirSync(queueDir), ["garbage.json.invalid"]);
    const status = (await call("GET", ROUTES.status)).body as {
      ready: boolean;
      modules: { id: string }[];
    };
    assert.equal(status.ready, true);
    assert.deepEqual(
      status.modules.map((m) => m.id),
      ["endpoint", "cni-install"],
    );
  });

  test("operations on one attachment are serialised", async (t) => {
    const { agent, backend, call } = setup(t);
    await agent.start();
    let open!: () => void;
    backend.gate = new Promise((r) => {
      open = r;
    });
    const adding = call("POST", ROUTES.cniAdd, req("s1"));
    await new Promise((r) => setTimeout(r, 50));
    const deleting = call("POST", ROUTES.cniDel, req("s1"));
    const other = await call("POST", ROUTES.cniDel, req("s2"));
    assert.equal(other.status, 200, "another attachment is not blocked");
    assert.deepEqual(backend.calls, ["add s1", "del s2"], "the DEL of s1 waits for its ADD");
    open();
    await Promise.all([adding, deleting]);
    assert.deepEqual(backend.calls, ["add s1", "del s2", "del s1"]);
  });

  test("stop closes the socket and leaves the conflist", async (t) => {
    const { agent, root } = setup(t);
    await agent.start();
    assert.deepEqual(await agent.stop(), []);
    assert.deepEqual(readdirSync(join(root, "run")), []);
    assert.deepEqual(readdirSync(join(root, "net.d")), ["05-fairway.conflist"]);
  });
});

test("KeyedLock runs one task per key at a time and forgets idle keys", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const slow = lock.run("k", async () => {
    await new Promise((r) => setTimeout(r, 20));
    order.push("first");
    throw new Error("first fails");
  });
  const second = lock.run("k", async () => order.push("second"));
  await assert.rejects(slow, /first fails/);
  await second;
  assert.deepEqual(order, ["first", "second"]);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(lock.size, 0);
});

/** POSTs bytes that are not JSON. */
function postRaw(
  socketPath: string,
  path: string,
  text: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const r = request(
      { socketPath, path, method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let data = "";
        res.on("data", (c: Buffer) => {
          data += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
      },
    );
    r.on("error", reject);
    r.end(text);
  });
}
