// `fairway lab up|status|down` for real, through the CLI: namespaces, VPC,
// native routes, one agent per node (no workload); then `down` leaves
// nothing, also after an `up` killed half-way: right after its first agent
// started, and while its pods were starting. Each run uses its own state dir
// and name prefix (fwt…, so the suite's leftover check sees anything missed).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { type TestContext, test } from "node:test";
import { readState } from "../../src/lab/index.ts";
import {
  CLI,
  lab as labCli,
  leftovers,
  testLab as makeTestLab,
  type TestLab,
} from "../fixtures/lab/harness.ts";
import { repoRoot, requireRoot, run } from "../harness/index.ts";

function testLab(t: TestContext): TestLab {
  return makeTestLab((fn) => t.after(fn));
}

async function lab(l: TestLab, ...args: string[]): Promise<{ code: number; stdout: string }> {
  const r = await labCli(l, ...args);
  return { code: r.code, stdout: r.stdout + r.stderr };
}

test("lab up --nodes 2: agents ready, VPC reachability, native pod-CIDR routes; down leaves nothing", async (t) => {
  requireRoot();
  const l = testLab(t);
  const upRun = await lab(l, "up", "--nodes", "2", "--no-demo");
  assert.equal(upRun.code, 0, upRun.stdout);
  assert.match(upRun.stdout, /lab up: 2 node\(s\) ready in/);

  const status = await lab(l, "status", "-o", "json");
  assert.equal(status.code, 0, status.stdout);
  const s = JSON.parse(status.stdout) as { nodes: { name: string; ready: boolean }[] };
  assert.deepEqual(
    s.nodes.map((n) => [n.name, n.ready]),
    [
      [`${l.prefix}-node-1`, true],
      [`${l.prefix}-node-2`, true],
    ],
  );
  const table = await lab(l, "status");
  assert.match(
    table.stdout,
    new RegExp(`${l.prefix}-node-2\\s+172\\.31\\.0\\.12\\s+10\\.100\\.2\\.0/24\\s+\\d+\\s+ready`),
  );

  const nodeA = `/run/netns/${l.prefix}-node-1`;
  run("nsenter", [`--net=${nodeA}`, "ping", "-c", "1", "-W", "2", "172.31.0.12"]);
  const routes = JSON.parse(run("ip", ["-n", `${l.prefix}-node-1`, "-j", "route"])) as {
    dst: string;
    gateway?: string;
  }[];
  assert.ok(
    routes.some((r) => r.dst === "10.100.2.0/24" && r.gateway === "172.31.0.12"),
    JSON.stringify(routes),
  );

  const down = await lab(l, "down");
  assert.equal(down.code, 0, down.stdout);
  assert.deepEqual(leftovers(l), []);
  const again = await lab(l, "down");
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /0 agent\(s\) stopped, 0 namespace\(s\) deleted/);
});

test("an up killed right after its first agent starts is cleaned by down", async (t) => {
  requireRoot();
  const l = testLab(t);
  const up = spawn(CLI[0]!, [...CLI.slice(1), "up", "--nodes", "2", "--no-demo", ...l.args], {
    cwd: repoRoot,
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => up.once("exit", resolve));
  t.after(() => {
    up.kill("SIGKILL");
  });
  const deadline = Date.now() + 60_000;
  while (!readState(l.stateDir)?.nodes[0]?.pid) {
    assert.ok(Date.now() < deadline, "the first agent never started");
    await new Promise((r) => setTimeout(r, 5));
  }
  up.kill("SIGKILL");
  await exited;
  assert.notEqual(readState(l.stateDir)?.phase, "up");
  const left = leftovers(l);
  assert.ok(
    left.some((x) => x.startsWith("process ")),
    `an agent runs: ${left.join(", ")}`,
  );
  assert.ok(
    left.some((x) => x.startsWith("netns ")),
    `namespaces exist: ${left.join(", ")}`,
  );

  const down = await lab(l, "down");
  assert.equal(down.code, 0, down.stdout);
  assert.deepEqual(leftovers(l), []);
});

test("an up killed while its pods start is cleaned by down", async (t) => {
  requireRoot();
  const l = testLab(t);
  const up = spawn(CLI[0]!, [...CLI.slice(1), "up", "--nodes", "2", ...l.args], {
    cwd: repoRoot,
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => up.once("exit", resolve));
  t.after(() => {
    up.kill("SIGKILL");
  });
  // Killed once the first pod namespace exists: the kubelet is mid-way through its pods.
  const podNetns = () => readdirSync("/run/netns").filter((n) => n.startsWith(`${l.prefix}-pod-`));
  const deadline = Date.now() + 90_000;
  while (podNetns().length === 0) {
    assert.ok(Date.now() < deadline, "no pod ever started");
    await new Promise((r) => setTimeout(r, 2));
  }
  up.kill("SIGKILL");
  await exited;
  assert.equal(readState(l.stateDir)?.phase, "creating");
  const left = leftovers(l);
  assert.ok(
    left.some((x) => x.startsWith("netns ") && x.includes("-pod-")),
    `pod namespaces exist: ${left.join(", ")}`,
  );
  assert.ok(
    left.some((x) => x.startsWith("cgroup ")),
    `cgroups exist: ${left.join(", ")}`,
  );

  const down = await lab(l, "down");
  assert.equal(down.code, 0, down.stdout);
  assert.deepEqual(leftovers(l), []);
});
