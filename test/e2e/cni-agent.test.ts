// The real agent process and the real plugin bundle, talking over a temp
// socket: install, ADD/CHECK/DEL/GC/STATUS/VERSION round trips, errors by CNI
// code, agent down, SIGTERM, bad config. The agent's "endpoint" module is the
// TEST DOUBLE in cni-fixtures/test-backend.ts (no interfaces are created), so
// nothing here needs root.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  AGENT_ENTRIES,
  type AgentDirs,
  type AgentProcess,
  agentDirs,
  agentGet,
  type Bundle,
  buildPluginBundle,
  execPlugin,
  ROUTES,
  spawnAgent,
  suiteHooks,
  tempDir,
  waitFor,
  writeAgentConfig,
} from "./cni-fixtures/harness.ts";

const conf = (dirs: AgentDirs, cniVersion = "1.1.0", extra: Record<string, unknown> = {}) => ({
  cniVersion,
  name: "fairway",
  type: "fairway-cni",
  agentSocket: dirs.socket,
  ...extra,
});

describe("fairway-cni against a running fairway-agent", () => {
  const hooks = suiteHooks();
  let root: string;
  let dirs: AgentDirs;
  let bundle: Bundle;
  let agent: AgentProcess;
  let netns: (name: string) => string;

  before(async () => {
    root = tempDir(hooks, "cni-e2e");
    dirs = agentDirs(root);
    bundle = await buildPluginBundle(root);
    // This suite is about the JS plugin; cni-shim.test.ts covers the C front end.
    writeAgentConfig(dirs, bundle.path, { cni: { pluginBinary: "none" } });
    // The test backend checks that CNI_NETNS exists; plain files stand in for namespaces.
    netns = (name) => {
      const path = join(root, `netns-${name}`);
      writeFileSync(path, "");
      return path;
    };
    agent = spawnAgent(
      hooks,
      AGENT_ENTRIES.withTestBackend,
      ["--config", dirs.configFile],
      dirs.socket,
    );
    await agent.running();
  });

  const env = (command: string, id: string, extra: Record<string, string> = {}) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns(id),
    CNI_IFNAME: "eth0",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id};K8S_POD_INFRA_CONTAINER_ID=${id}`,
    CNI_PATH: dirs.binDir,
    ...extra,
  });

  test("the bundle holds only the plugin's own code and node built-ins", () => {
    const foreign = bundle.inputs.filter(
      (i) => !i.startsWith("src/cni/") && !i.startsWith("src/base/cni/") && i !== "src/base/api.ts",
    );
    assert.deepEqual(foreign, [], "no pino, zod, yaml, native addon or agent code in the plugin");
    assert.ok(bundle.bytes < 64 * 1024, `bundle is ${bundle.bytes} bytes`);
  });

  test("the agent installed the plugin (0755) and the 1.1.0 conflist", async () => {
    const plugin = join(dirs.binDir, "fairway-cni");
    assert.equal(readlinkSync(plugin), "fairway-cni.mjs");
    assert.equal(statSync(plugin).mode & 0o777, 0o755);
    assert.deepEqual(readFileSync(plugin), readFileSync(bundle.path));
    const conflist = JSON.parse(readFileSync(join(dirs.confDir, "05-fairway.conflist"), "utf8"));
    assert.equal(conflist.cniVersion, "1.0.0");
    assert.ok(conflist.cniVersions.includes("1.1.0"));
    assert.equal(conflist.name, "fairway");
    assert.deepEqual(conflist.plugins, [{ type: "fairway-cni", agentSocket: dirs.socket }]);
    assert.deepEqual(readdirSync(dirs.confDir), ["05-fairway.conflist"], "no temporary files left");
    assert.deepEqual(readdirSync(dirs.binDir).sort(), ["fairway-cni", "fairway-cni.mjs"]);
    // Exec'd as an executable (shebang), the way runtimes run it.
    const run = await execPlugin(plugin, { CNI_COMMAND: "VERSION" }, { cniVersion: "1.1.0" });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(run.json, {
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });

  test("the socket is mode 0600 and the agent is ready", async () => {
    assert.equal(statSync(dirs.socket).mode & 0o777, 0o600);
    assert.deepEqual(await agentGet(dirs.socket, ROUTES.healthz), {
      status: 200,
      body: { ok: true },
    });
    assert.deepEqual(await agentGet(dirs.socket, ROUTES.readyz), {
      status: 200,
      body: { ready: true },
    });
    const status = (await agentGet(dirs.socket, ROUTES.status)).body as Record<string, unknown>;
    assert.equal(status.nodeName, "node-a");
    assert.equal(status.cniBackend, true);
    assert.deepEqual(
      (status.modules as { id: string; state: string }[]).map((m) => `${m.id}:${m.state}`),
      ["endpoint:started", "cni-install:started"],
    );
  });

  test("ADD returns a 1.1.0 result; CHECK accepts it; the endpoint is listed; DEL removes it", async () => {
    const add = await execPlugin(bundle.path, env("ADD", "c1"), conf(dirs));
    assert.equal(add.code, 0, add.stdout);
    const result = add.json!;
    assert.equal(result.cniVersion, "1.1.0");
    const ips = result.ips as { address: string; gateway: string; interface: number }[];
    assert.deepEqual(ips, [{ address: "10.244.1.2/29", gateway: "10.244.1.1", interface: 1 }]);
    const ifaces = result.interfaces as { name: string; sandbox?: string; mtu?: number }[];
    assert.equal(ifaces[1]!.name, "eth0");
    assert.equal(ifaces[1]!.sandbox, join(root, "netns-c1"));

    const check = await execPlugin(
      bundle.path,
      env("CHECK", "c1"),
      conf(dirs, "1.1.0", { prevResult: result }),
    );
    assert.equal(check.code, 0, check.stdout);
    assert.equal(check.stdout, "");

    const list = (await agentGet(dirs.socket, ROUTES.endpoints)).body as {
      id: string;
      pod: unknown;
    }[];
    assert.deepEqual(
      list.map((e) => e.id),
      ["c1:eth0"],
    );
    assert.deepEqual(list[0]!.pod, {
      namespace: "default",
      name: "pod-c1",
      infraContainerId: "c1",
    });
    const one = await agentGet(dirs.socket, `${ROUTES.endpoints}/c1%3Aeth0`);
    assert.equal(one.status, 200);
    const missing = await agentGet(dirs.socket, `${ROUTES.endpoints}/nope`);
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { code: string }).code, "E_NOT_FOUND");

    const del = await execPlugin(
      bundle.path,
      env("DEL", "c1"),
      conf(dirs, "1.1.0", { prevResult: result }),
    );
    assert.equal(del.code, 0, del.stdout);
    assert.equal(del.stdout, "");
    assert.deepEqual((await agentGet(dirs.socket, ROUTES.endpoints)).body, []);
    // DEL is idempotent, also without netns and prevResult.
    const again = await execPlugin(bundle.path, { ...env("DEL", "c1"), CNI_NETNS: "" }, conf(dirs));
    assert.equal(again.code, 0, again.stdout);
  });

  test("older cniVersions get results in their shape", async () => {
    const v04 = await execPlugin(bundle.path, env("ADD", "c2"), conf(dirs, "0.4.0"));
    assert.equal(v04.code, 0, v04.stdout);
    assert.equal(v04.json!.cniVersion, "0.4.0");
    assert.equal((v04.json!.ips as { version: string }[])[0]!.version, "4");
    assert.equal(
      (v04.json!.interfaces as { mtu?: number }[])[1]!.mtu,
      undefined,
      "mtu is a 1.1.0 field",
    );
    const v10 = await execPlugin(bundle.path, env("ADD", "c3"), conf(dirs, "1.0.0"));
    assert.equal(v10.json!.cniVersion, "1.0.0");
    assert.equal((v10.json!.ips as { version?: string }[])[0]!.version, undefined);
    const old = await execPlugin(bundle.path, env("ADD", "c4"), conf(dirs, "0.2.0"));
    assert.equal(old.code, 1);
    assert.equal(old.json!.code, 1);
    for (const id of ["c2", "c3"]) await execPlugin(bundle.path, env("DEL", id), conf(dirs));
  });

  test("chained after another plugin, ADD appends to prevResult", async () => {
    const prevResult = {
      cniVersion: "1.0.0",
      interfaces: [{ name: "lo0" }],
      ips: [{ address: "192.168.0.5/24", interface: 0 }],
      dns: { nameservers: ["10.96.0.10"] },
    };
    const add = await execPlugin(
      bundle.path,
      env("ADD", "c5"),
      conf(dirs, "1.0.0", { prevResult }),
    );
    assert.equal(add.code, 0, add.stdout);
    const ifaces = add.json!.interfaces as { name: string }[];
    assert.equal(ifaces[0]!.name, "lo0");
    assert.equal(ifaces.length, 3);
    const ips = add.json!.ips as { address: string; interface: number }[];
    assert.deepEqual(
      ips.map((ip) => `${ip.address}@${ip.interface}`),
      ["192.168.0.5/24@0", "10.244.1.2/29@2"],
    );
    assert.deepEqual(add.json!.dns, { nameservers: ["10.96.0.10"] });
    await execPlugin(bundle.path, env("DEL", "c5"), conf(dirs));
  });

  test("agent errors arrive as CNI codes: 105 check failed, 103 netns, 102 ifname taken, 101 exhausted", async () => {
    const add = await execPlugin(bundle.path, env("ADD", "e1"), conf(dirs));
    const wrong = { ...add.json!, ips: [{ address: "10.9.9.9/32" }] };
    const check = await execPlugin(
      bundle.path,
      env("CHECK", "e1"),
      conf(dirs, "1.1.0", { prevResult: wrong }),
    );
    assert.equal(check.code, 1);
    assert.equal(check.json!.code, 105);
    assert.match(String(check.json!.details), /E_CHECK_FAILED/);

    const noNs = await execPlugin(
      bundle.path,
      { ...env("ADD", "e2"), CNI_NETNS: join(root, "gone") },
      conf(dirs),
    );
    assert.equal(noNs.json!.code, 103, noNs.stdout);

    const taken = await execPlugin(
      bundle.path,
      { ...env("ADD", "e3"), CNI_NETNS: join(root, "netns-e1") },
      conf(dirs),
    );
    assert.equal(taken.json!.code, 102, taken.stdout);

    // 10.244.1.0/29 has 5 pod addresses (.2-.6); e1 holds one.
    for (const id of ["f1", "f2", "f3", "f4"])
      assert.equal((await execPlugin(bundle.path, env("ADD", id), conf(dirs))).code, 0);
    const full = await execPlugin(bundle.path, env("ADD", "f5"), conf(dirs));
    assert.equal(full.json!.code, 101, full.stdout);
    assert.match(String(full.json!.msg), /no free address/);
  });

  test("GC releases every attachment not in cni.dev/valid-attachments", async () => {
    const before = (await agentGet(dirs.socket, ROUTES.endpoints)).body as { id: string }[];
    assert.ok(before.length >= 5);
    const gc = await execPlugin(
      bundle.path,
      { CNI_COMMAND: "GC", CNI_PATH: dirs.binDir },
      conf(dirs, "1.1.0", { "cni.dev/valid-attachments": [{ containerID: "f1", ifname: "eth0" }] }),
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.equal(gc.stdout, "");
    const left = (await agentGet(dirs.socket, ROUTES.endpoints)).body as { id: string }[];
    assert.deepEqual(
      left.map((e) => e.id),
      ["f1:eth0"],
    );
    const old = await execPlugin(bundle.path, { CNI_COMMAND: "GC" }, conf(dirs, "1.0.0"));
    assert.equal(old.json!.code, 1, "GC needs a 1.1.0 config");
  });

  test("STATUS succeeds while the agent is ready", async () => {
    const status = await execPlugin(bundle.path, { CNI_COMMAND: "STATUS" }, conf(dirs));
    assert.equal(status.code, 0, status.stdout);
    assert.equal(status.stdout, "");
  });

  test("a second agent on the same socket refuses to start", async (t) => {
    const second = spawnAgent(
      t,
      AGENT_ENTRIES.withTestBackend,
      ["--config", dirs.configFile],
      dirs.socket,
    );
    const exit = await second.exited;
    assert.equal(exit.code, 1);
    assert.match(second.stderr, /another fairway-agent \(pid \d+\) answers on/);
    assert.equal(
      (await agentGet(dirs.socket, ROUTES.healthz)).status,
      200,
      "the first agent still serves",
    );
  });

  test("SIGTERM: clean exit, socket removed, conflist and plugin left in place", async () => {
    const exit = await agent.stop("SIGTERM");
    assert.deepEqual(exit, { code: 0, signal: null }, agent.stderr);
    assert.equal(existsSync(dirs.socket), false);
    assert.ok(existsSync(join(dirs.confDir, "05-fairway.conflist")));
    assert.ok(existsSync(join(dirs.binDir, "fairway-cni")));
    assert.match(agent.stderr, /agent stopped; datapath left in place/);
    // Modules stop in reverse start order, then the agent reports.
    const stops = [
      ...agent.stderr.matchAll(/"subsys":"([^"]+)"[^\n]*"msg":"stopped"|"msg":"(agent stopped)/g),
    ].map((m) => m[1] ?? m[2]);
    assert.deepEqual(stops, ["cni-install", "endpoint", "agent stopped"]);
  });

  test("agent down: ADD fails with 11 within 1 s, STATUS with 50, DEL is queued and succeeds", async () => {
    const add = await execPlugin(bundle.path, env("ADD", "d1"), conf(dirs));
    assert.equal(add.code, 1);
    assert.equal(add.json!.code, 11, add.stdout);
    assert.ok(add.ms < 1000, `took ${add.ms.toFixed(0)} ms`);
    const status = await execPlugin(bundle.path, { CNI_COMMAND: "STATUS" }, conf(dirs));
    assert.equal(status.json!.code, 50, status.stdout);
    const del = await execPlugin(bundle.path, env("DEL", "f1"), conf(dirs));
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(readdirSync(join(dirs.runDir, "cni-del-queue")), ["f1_eth0.json"]);
  });

  test("a stale socket file gives 11 fast too, and the next agent removes it and replays queued DELs", async (t) => {
    // A socket file nobody listens on: what a SIGKILLed agent leaves behind.
    const squatter = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(dirs.socket)}, () => console.log("up"))`,
    ]);
    await new Promise((r) => squatter.stdout.once("data", r));
    squatter.kill("SIGKILL");
    await new Promise((r) => squatter.once("exit", r));
    assert.ok(statSync(dirs.socket).isSocket());
    const add = await execPlugin(bundle.path, env("ADD", "d2"), conf(dirs));
    assert.equal(add.json!.code, 11, add.stdout);
    assert.ok(add.ms < 1000, `took ${add.ms.toFixed(0)} ms`);

    const next = spawnAgent(
      t,
      AGENT_ENTRIES.withTestBackend,
      ["--config", dirs.configFile],
      dirs.socket,
    );
    await next.running();
    assert.match(next.stderr, /removed stale API socket/);
    await waitFor(
      () => readdirSync(join(dirs.runDir, "cni-del-queue")).length === 0,
      5000,
      () => next.stderr,
    );
    assert.match(next.stderr, /replayed queued DEL/);
    assert.deepEqual(await next.stop(), { code: 0, signal: null });
  });
});

describe("fairway-agent startup", () => {
  test("bad config: exit 2, every problem on stderr naming the field", async (t) => {
    const dirs = agentDirs(tempDir(t, "cni-badconf"));
    writeAgentConfig(dirs, "/nonexistent/fairway-cni.js", {
      ipam: { podCIDRs: ["10.0.0.0/24", "10.0.0.0/33"] },
      datapath: { mode: "ebpf" },
      bogus: true,
    });
    const agent = spawnAgent(
      t,
      AGENT_ENTRIES.product,
      ["--config", dirs.configFile, "--mtu=abc"],
      dirs.socket,
    );
    const exit = await agent.exited;
    assert.equal(exit.code, 2);
    assert.match(agent.stderr, /ipam\.podCIDRs\[1\]: "10\.0\.0\.0\/33" is not a valid CIDR/);
    assert.match(agent.stderr, /datapath\.mode: must be one of "veth", "veth-legacy", got "ebpf"/);
    assert.match(agent.stderr, /bogus: unknown setting/);
    assert.match(agent.stderr, /mtu: expected number, got "abc" \(from flag --mtu\)/);
    assert.equal(existsSync(dirs.runDir), false, "nothing was created");
  });

  test("the product agent (ipam, cluster, endpoint, service): ready, and a missing netns is CNI code 103", async (t) => {
    const root = tempDir(t, "cni-product");
    const dirs = agentDirs(root);
    const bundle = await buildPluginBundle(root);
    // The real endpoint module loads the datapath: its pins go to a throw-away bpffs dir.
    const pins = `/sys/fs/bpf/fwtprod${process.pid.toString(36)}`;
    t.after(() => rmSync(pins, { recursive: true, force: true }));
    writeAgentConfig(dirs, bundle.path, { bpffsRoot: pins });
    const agent = spawnAgent(t, AGENT_ENTRIES.product, ["--config", dirs.configFile], dirs.socket);
    await agent.running();
    assert.equal((await agentGet(dirs.socket, ROUTES.healthz)).status, 200);
    const agentStatus = (await agentGet(dirs.socket, ROUTES.status)).body as {
      modules: { id: string; state: string }[];
    };
    assert.deepEqual(
      agentStatus.modules.map((m) => `${m.id}:${m.state}`),
      [
        "cluster:started",
        "ipam:started",
        "endpoint:started",
        "service:started",
        "cni-install:started",
      ],
    );
    assert.equal((await agentGet(dirs.socket, ROUTES.readyz)).status, 200);
    // The service module attached the socket LB (cgroup v2 found) and synced an empty table.
    const services = (await agentGet(dirs.socket, ROUTES.services)).body as {
      services: unknown[];
      datapath: { socketLb: boolean; tcLb: boolean; errors: string[]; lastSyncMs?: number };
    };
    assert.deepEqual(services.services, []);
    assert.equal(services.datapath.socketLb, true, JSON.stringify(services.datapath.errors));
    assert.equal(services.datapath.tcLb, true);
    assert.equal(typeof services.datapath.lastSyncMs, "number");
    const netns = join(root, "ns");
    writeFileSync(netns, "");
    const add = await execPlugin(
      bundle.path,
      { CNI_COMMAND: "ADD", CNI_CONTAINERID: "x1", CNI_NETNS: netns, CNI_IFNAME: "eth0" },
      conf(dirs),
    );
    assert.equal(add.json!.code, 103, add.stdout);
    assert.match(String(add.json!.msg), new RegExp(netns));
    const status = await execPlugin(bundle.path, { CNI_COMMAND: "STATUS" }, conf(dirs));
    assert.equal(status.code, 0, status.stdout);
    assert.deepEqual(await agent.stop("SIGINT"), { code: 0, signal: null });
    accessSync(join(dirs.binDir, "fairway-cni"), constants.X_OK);
  });
});
