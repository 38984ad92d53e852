// The CLI against a running agent: `fairway status` (health, datapath mode,
// kernel features, IPAM usage) and `fairway endpoint list|get` in table, JSON
// and YAML, plus the message when no agent answers.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { parse } from "yaml";
import type { AgentStatus, EndpointRecord } from "../../src/base/api.ts";
import { repoRoot } from "../harness/index.ts";
import {
  AGENT_ENTRIES,
  agentDirs,
  buildPluginBundle,
  execPlugin,
  spawnAgent,
  tempDir,
  writeAgentConfig,
} from "./cni-fixtures/harness.ts";

const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: repoRoot,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("fairway status and fairway endpoint read a running agent", async (t) => {
  const root = tempDir(t, "cli");
  const dirs = agentDirs(root);
  const bundle = await buildPluginBundle(root);
  writeAgentConfig(dirs, bundle.path);
  const agent = spawnAgent(
    t,
    AGENT_ENTRIES.withTestBackend,
    ["--config", dirs.configFile],
    dirs.socket,
  );
  await agent.running();

  const json = await cli(["status", "-o", "json", "--socket", dirs.socket]);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout) as AgentStatus;
  assert.equal(status.ready, true);
  assert.equal(status.nodeName, "node-a");
  assert.ok(status.kernelFeatures.some((f) => f.name === "bpf" && f.state === "yes"));
  assert.ok(status.kernelFeatures.every((f) => ["yes", "no", "unknown"].includes(f.state)));
  // This agent runs the test backend alone (no IPAM module); IPAM usage is
  // checked with the real backend in the endpoint e2e tests.
  assert.ok(status.modules.some((m) => m.id === "endpoint" && m.state === "started"));

  const table = await cli(["status", "--socket", dirs.socket]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^Agent: +ready/m);
  assert.match(table.stdout, /^Datapath: +veth/m);
  assert.match(table.stdout, /^Features: +\d+ of \d+ present/m);

  const netns = join(root, "netns-cli");
  writeFileSync(netns, "");
  const add = await execPlugin(
    bundle.path,
    {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "cli-ctr-1",
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_PATH: dirs.binDir,
      CNI_ARGS: "K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-0",
    },
    { cniVersion: "1.1.0", name: "fairway", type: "fairway-cni", agentSocket: dirs.socket },
  );
  assert.equal(add.code, 0, add.stdout + add.stderr);

  const list = await cli(["endpoint", "list", "-o", "yaml", "--socket", dirs.socket]);
  assert.equal(list.code, 0, list.stderr);
  const endpoints = parse(list.stdout) as EndpointRecord[];
  assert.equal(endpoints.length, 1);
  assert.equal(endpoints[0]!.containerId, "cli-ctr-1");

  const get = await cli(["endpoint", "get", endpoints[0]!.id, "--socket", dirs.socket]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /^ID +POD +IPS/m);
  assert.match(get.stdout, /demo\/web-0/);

  const missing = await cli(["endpoint", "get", "no-such-endpoint", "--socket", dirs.socket]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no endpoint "no-such-endpoint"/);
});

test("the CLI names the socket when no agent answers", async (t) => {
  const root = tempDir(t, "cli-down");
  const r = await cli(["status", "--socket", join(root, "agent.sock")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the agent at .*agent\.sock.*is fairway-agent running/);
  const usage = await cli(["endpoint", "frobnicate"]);
  assert.notEqual(usage.code, 0);
  assert.match(usage.stderr, /usage: fairway endpoint list/);
});
