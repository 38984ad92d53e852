// The real agent (endpoint module, IPAM, datapath) and the real plugin bundle,
// exec'd like a runtime: two pods get addresses and ping each other; CHECK,
// the endpoint API, DEL; then 50 sequential ADDs for the latency figure. Ends
// with nothing left: no link, map entry, row or allocation.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { requireRoot, run } from "../harness/index.ts";
import {
  addressOf,
  agentAddMs,
  HOST_PREFIX,
  makeLab,
  type Pod,
  percentile,
} from "./agent-pods-lab.ts";
import { agentGet } from "./cni-fixtures/harness.ts";

requireRoot();

const execFileAsync = promisify(execFile);

async function pings(from: Pod, ip: string): Promise<boolean> {
  try {
    await execFileAsync("ip", [
      "netns",
      "exec",
      from.name,
      "ping",
      "-c",
      "2",
      "-i",
      "0.2",
      "-W",
      "1",
      ip,
    ]);
    return true;
  } catch {
    return false;
  }
}

const CLEAN = { links: [], entries: 0, rows: 0, allocations: 0 };

test("agent + plugin: two pods ADDed, ping each other, CHECK, endpoints API, DEL leaves nothing", async (t) => {
  const lab = await makeLab(t, "10.242.0.0/24");
  assert.equal((await agentGet(lab.dirs.socket, "/readyz")).status, 200);
  const status = (await agentGet(lab.dirs.socket, "/v1/status")).body as {
    modules: { id: string; state: string }[];
  };
  assert.ok(status.modules.some((m) => m.id === "endpoint" && m.state === "started"));

  const a = lab.pod("pa");
  const b = lab.pod("pb");
  const addA = await lab.cni("ADD", a);
  assert.equal(addA.code, 0, addA.stdout + addA.stderr);
  const addB = await lab.cni("ADD", b);
  assert.equal(addB.code, 0, addB.stdout + addB.stderr);
  assert.equal(addressOf(addA), "10.242.0.1");
  assert.equal(addressOf(addB), "10.242.0.2");
  const ifs = addA.json!.interfaces as { name: string; sandbox?: string }[];
  assert.ok(ifs[0]!.name.startsWith(HOST_PREFIX));
  assert.deepEqual(ifs[1]!.sandbox, a.path);
  assert.ok(await pings(a, "10.242.0.2"), "pod A -> pod B");
  assert.ok(await pings(b, "10.242.0.1"), "pod B -> pod A");

  // A runtime's repeated ADD and its CHECK with the result it kept.
  const again = await lab.cni("ADD", a);
  assert.deepEqual(again.json, addA.json);
  const check = await lab.cni("CHECK", a, { prevResult: addA.json });
  assert.equal(check.code, 0, check.stdout);
  const badCheck = await lab.cni("CHECK", a, { prevResult: addB.json });
  assert.equal(badCheck.json?.code, 105, badCheck.stdout);

  const list = await lab.endpoints();
  assert.deepEqual(
    list.map((e) => `${e.containerId} ${e.state} ${e.ips.join(",")}`),
    [`${a.id} ready 10.242.0.1/32`, `${b.id} ready 10.242.0.2/32`],
  );
  const one = await agentGet(lab.dirs.socket, `/v1/endpoints/${b.id}`);
  assert.equal(one.status, 200);
  assert.equal((one.body as { hostIfindex: number }).hostIfindex > 0, true);
  assert.equal((await agentGet(lab.dirs.socket, "/v1/endpoints/nope")).status, 404);

  // Bad inputs through the plugin: CNI codes.
  const missing = await lab.cni("ADD", {
    id: "ctr-missing",
    name: "x",
    path: "/run/netns/fwt-nope",
  });
  assert.equal(missing.json?.code, 103, missing.stdout);

  for (const p of [a, b]) {
    const del = await lab.cni("DEL", p);
    assert.equal(del.code, 0, del.stdout + del.stderr);
  }
  assert.deepEqual(lab.leftovers(), CLEAN);
  assert.deepEqual(await lab.endpoints(), []);
  // DEL again, and DEL of what never existed, succeed.
  assert.equal((await lab.cni("DEL", a)).code, 0);
  assert.equal(
    (await lab.cni("DEL", { id: "ctr-never", name: "x", path: "/run/netns/fwt-nope" })).code,
    0,
  );

  assert.deepEqual(await lab.agent.stop("SIGTERM"), { code: 0, signal: null });
});

test("latency: 50 sequential ADDs through the real plugin and agent", async (t) => {
  const lab = await makeLab(t, "10.242.1.0/24");
  const pods = Array.from({ length: 50 }, (_, i) => lab.pod(`l${i}`));
  const plugin: number[] = [];
  for (const p of pods) {
    const r = await lab.cni("ADD", p);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    plugin.push(r.ms);
  }
  const agent = agentAddMs(lab.agent.stderr);
  assert.equal(agent.length, 50);
  const fmt = (v: number[]) =>
    `p50 ${percentile(v, 50).toFixed(1)} ms, p90 ${percentile(v, 90).toFixed(1)} ms, max ${Math.max(...v).toFixed(1)} ms`;
  t.diagnostic(`ADD through the plugin (process exec + agent): ${fmt(plugin)}`);
  t.diagnostic(`ADD inside the agent: ${fmt(agent)}`);
  // Tens of ms inside the agent (generous bound for a loaded CI machine).
  assert.ok(percentile(agent, 50) < 50, `agent-side p50 ${percentile(agent, 50)} ms`);
  const addrs = new Set((await lab.endpoints()).map((e) => e.ips[0]));
  assert.equal(addrs.size, 50);
  assert.match(
    run("ip", ["-n", pods[49]!.name, "addr", "show", "eth0"]),
    /inet 10\.242\.1\.50\/32/,
  );
  for (const p of pods) assert.equal((await lab.cni("DEL", p)).code, 0);
  assert.deepEqual(lab.leftovers(), CLEAN);
});
