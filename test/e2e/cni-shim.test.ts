// The C front end (native/cni/fairway-cni.c) against a running agent: it must
// be indistinguishable from the JS plugin. Every request is run through both
// and the outputs compared byte for byte; with the agent down it falls back to
// the JS plugin (fairway-cni.mjs next to it). The agent's "endpoint" module is
// the TEST DOUBLE (cni-fixtures/test-backend.ts), so nothing here needs root.

import assert from "node:assert/strict";
import { lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  AGENT_ENTRIES,
  type AgentDirs,
  type AgentProcess,
  agentDirs,
  type Bundle,
  buildFrontEnd,
  buildPluginBundle,
  type CniEnvVars,
  execPlugin,
  type PluginRun,
  spawnAgent,
  suiteHooks,
  tempDir,
  writeAgentConfig,
} from "./cni-fixtures/harness.ts";

describe("fairway-cni C front end", () => {
  const hooks = suiteHooks();
  let root: string;
  let dirs: AgentDirs;
  let bundle: Bundle;
  let frontEnd: string;
  let plugin: string;
  let agent: AgentProcess;

  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.1.0",
    name: "fairway",
    type: "fairway-cni",
    agentSocket: dirs.socket,
    ...extra,
  });
  const env = (command: string, id: string): CniEnvVars => {
    const netns = join(root, `netns-${id}`);
    writeFileSync(netns, "");
    return {
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${id}`,
      CNI_PATH: dirs.binDir,
    };
  };
  const viaC = (e: CniEnvVars, stdin: unknown) => execPlugin(plugin, e, stdin);
  const viaJs = (e: CniEnvVars, stdin: unknown) => execPlugin(bundle.path, e, stdin);
  const same = (c: PluginRun, js: PluginRun) => {
    assert.equal(c.stdout, js.stdout);
    assert.equal(c.code, js.code, c.stdout);
  };

  before(async () => {
    root = tempDir(hooks, "cni-shim");
    dirs = agentDirs(root);
    bundle = await buildPluginBundle(root);
    frontEnd = buildFrontEnd(root);
    writeAgentConfig(dirs, bundle.path, { cni: { pluginBinary: frontEnd } });
    agent = spawnAgent(
      hooks,
      AGENT_ENTRIES.withTestBackend,
      ["--config", dirs.configFile],
      dirs.socket,
    );
    await agent.running();
    plugin = join(dirs.binDir, "fairway-cni");
  });

  test("the agent installed the front end (0755) with the JS plugin beside it", () => {
    assert.equal(lstatSync(plugin).isFile(), true);
    assert.equal(statSync(plugin).mode & 0o777, 0o755);
    assert.deepEqual(readFileSync(plugin), readFileSync(frontEnd));
    assert.deepEqual(readFileSync(join(dirs.binDir, "fairway-cni.mjs")), readFileSync(bundle.path));
    assert.deepEqual(readdirSync(dirs.binDir).sort(), ["fairway-cni", "fairway-cni.mjs"]);
  });

  test("VERSION", async () => {
    const c = await viaC({ CNI_COMMAND: "VERSION" }, "");
    assert.equal(c.code, 0, c.stdout + c.stderr);
    same(c, await viaJs({ CNI_COMMAND: "VERSION" }, ""));
  });

  test("ADD, CHECK, DEL: byte-identical to the JS plugin", async () => {
    const add = await viaC(env("ADD", "s1"), conf());
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const check = await viaC(env("CHECK", "s1"), conf({ prevResult: add.json }));
    assert.equal(check.code, 0, check.stdout);
    assert.equal(check.stdout, "");
    const del = await viaC(env("DEL", "s1"), conf({ prevResult: add.json }));
    assert.equal(del.code, 0, del.stdout);
    assert.equal(del.stdout, "");

    // The same requests through the JS plugin (the test backend allocates the same address again).
    const jsAdd = await viaJs(env("ADD", "s1"), conf());
    same(add, jsAdd);
    same(check, await viaJs(env("CHECK", "s1"), conf({ prevResult: jsAdd.json })));
    same(del, await viaJs(env("DEL", "s1"), conf({ prevResult: jsAdd.json })));

    // An older version's shape, and an error from the agent (CHECK of an unknown attachment).
    const v04 = await viaC(env("ADD", "s2"), conf({ cniVersion: "0.4.0" }));
    assert.equal(v04.code, 0, v04.stdout);
    await viaC(env("DEL", "s2"), conf({ cniVersion: "0.4.0" }));
    same(v04, await viaJs(env("ADD", "s2"), conf({ cniVersion: "0.4.0" })));
    await viaJs(env("DEL", "s2"), conf({ cniVersion: "0.4.0" }));
    const unknownC = await viaC(env("CHECK", "nope"), conf({ prevResult: add.json }));
    assert.equal(unknownC.code, 1);
    same(unknownC, await viaJs(env("CHECK", "nope"), conf({ prevResult: add.json })));
  });

  test("bad input gives the JS plugin's error, byte for byte", async () => {
    const cases: [CniEnvVars, unknown][] = [
      [env("ADD", "b1"), "not json"],
      [env("ADD", "b1"), ""],
      [env("ADD", "b1"), conf({ cniVersion: "0.2.0" })],
      [env("ADD", "b1"), conf({ ipam: { type: "host-local" } })],
      [{ ...env("ADD", "b1"), CNI_CONTAINERID: "" }, conf()],
      [{ ...env("ADD", "b1"), CNI_IFNAME: 'a"\\\n\u0001é' }, conf()],
      [{ CNI_COMMAND: "FROB" }, conf()],
      [env("ADD", "b1"), `{"agentSocket": "${dirs.socket}", "name": "x\\u00e9\\ud83d\\ude00"`],
    ];
    for (const [e, stdin] of cases) {
      const c = await viaC(e, stdin);
      assert.equal(c.code, 1, c.stdout);
      same(c, await viaJs(e, stdin));
    }
  });

  test("a netconf larger than 4 MiB is an I/O error (code 5)", async () => {
    const big = conf({ args: { pad: "x".repeat(5 << 20) } });
    const c = await viaC(env("ADD", "big"), big);
    assert.equal(c.code, 1);
    assert.equal(c.json!.code, 5, c.stdout);
  });

  test("agent down: ADD fails with 11 within 1 s through the JS fallback; DEL is queued", async () => {
    const exit = await agent.stop("SIGTERM");
    assert.deepEqual(exit, { code: 0, signal: null }, agent.stderr);
    const add = await viaC(env("ADD", "d1"), conf());
    assert.equal(add.code, 1);
    assert.equal(add.json!.code, 11, add.stdout + add.stderr);
    assert.ok(add.ms < 1000, `took ${add.ms.toFixed(0)} ms`);
    same(add, await viaJs(env("ADD", "d1"), conf()));
    const del = await viaC(env("DEL", "q1"), conf());
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.deepEqual(readdirSync(join(dirs.runDir, "cni-del-queue")), ["q1_eth0.json"]);
    const entry = JSON.parse(readFileSync(join(dirs.runDir, "cni-del-queue/q1_eth0.json"), "utf8"));
    assert.equal(entry.by, "plugin");
    assert.equal(entry.request.containerId, "q1");
  });
});
