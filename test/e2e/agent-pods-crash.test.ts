// Crash safety: kill -9 the agent in the middle of a burst of 50 concurrent
// ADDs (50 plugin processes, as a runtime starting 50 pods), restart it, retry
// the ADDs that failed. Every pod must end with one unique address, nothing
// leaked (rows == pods == IPAM allocations == map entries == host veths), and
// a ping between two pods that were already running must not lose a packet
// while the agent is down.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { test } from "node:test";
import { requireRoot, run } from "../harness/index.ts";
import { addressOf, makeLab, type Pod } from "./agent-pods-lab.ts";
import { type PluginRun, waitFor } from "./cni-fixtures/harness.ts";

requireRoot();

const BURST = 50;

/** A ping every 50 ms from `from` to `ip`, until stop(); counts answered and unanswered probes. */
function pingLoop(from: Pod, ip: string): { stop(): Promise<{ sent: number; lost: number[] }> } {
  // -O reports every probe without an answer by the time the next is sent.
  const proc: ChildProcess = spawn(
    "ip",
    ["netns", "exec", from.name, "ping", "-O", "-i", "0.05", "-W", "1", ip],
    {
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return {
    async stop() {
      const closed = new Promise((r) => proc.once("close", r));
      proc.kill("SIGINT");
      await closed;
      const lost = [...out.matchAll(/no answer yet for icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
      const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
      return { sent, lost };
    },
  };
}

test("kill -9 during 50 concurrent ADDs: restart, retry; unique addresses, nothing leaked, no ping lost", async (t) => {
  const lab = await makeLab(t, "10.242.2.0/24");
  const first = lab.pod("ca");
  const second = lab.pod("cb");
  const ra = await lab.cni("ADD", first);
  const rb = await lab.cni("ADD", second);
  assert.equal(ra.code, 0, ra.stdout);
  assert.equal(rb.code, 0, rb.stdout);
  const loop = pingLoop(first, addressOf(rb));
  await new Promise((r) => setTimeout(r, 500));

  const pods = Array.from({ length: BURST }, (_, i) => lab.pod(`b${i}`));
  const doneBefore = () => lab.agent.stderr.split('"msg":"CNI ADD"').length - 1;
  const started = doneBefore();
  const runs = pods.map((p) => lab.cni("ADD", p));
  // Kill once the burst is well under way: some ADDs answered, many in flight or queued.
  await waitFor(
    () => doneBefore() - started >= 8,
    60_000,
    () => "the burst never got going",
  );
  const killedAt = performance.now();
  lab.agent.proc.kill("SIGKILL");
  await lab.agent.exited;
  const results: PluginRun[] = await Promise.all(runs);
  const codes: Record<string, number> = {};
  for (const r of results) {
    const key = r.code === 0 ? "ok" : `cni ${String(r.json?.code ?? r.code)}`;
    codes[key] = (codes[key] ?? 0) + 1;
  }
  t.diagnostic(`burst outcome at kill: ${JSON.stringify(codes)}`);
  const failed = pods.filter((_, i) => results[i]!.code !== 0);
  assert.ok(failed.length > 0, "the kill interrupted some ADDs");
  for (const i of results.keys()) {
    const r = results[i]!;
    if (r.code !== 0)
      assert.equal(r.json?.code, 11, `a failed ADD says "try again later": ${r.stdout}`);
  }

  const killed = lab.agent;
  await lab.startAgent();
  const downMs = performance.now() - killedAt;
  const restoredLine = lab.agent.stderr
    .split("\n")
    .find((l) => l.includes('"msg":"endpoints restored"'));
  const report = JSON.parse(restoredLine ?? "{}") as {
    restored?: number;
    rolledBack?: string[];
    released?: string[];
    orphanLinks?: string[];
    failed?: string[];
  };
  t.diagnostic(
    `restart: ${report.restored} restored, ${report.rolledBack?.length} rolled back (crash mid-ADD), ` +
      `${report.released?.length} addresses released (allocated, no record), ${report.orphanLinks?.length} orphan veths removed; ` +
      `the killed agent logged ${killed.stderr.split('"msg":"CNI ADD"').length - 1 - started} ADDs of the burst before dying`,
  );
  assert.deepEqual(report.failed, [], "every endpoint restored or rolled back");
  // The two running pods and every answered ADD survive the crash (so may ADDs whose answer was lost).
  const answered = results.filter((r) => r.code === 0).length;
  assert.ok(
    (report.restored ?? 0) >= 2 + answered,
    `restored ${report.restored}, answered ${answered}`,
  );
  const retried = await Promise.all(failed.map((p) => lab.cni("ADD", p)));
  for (const r of retried) assert.equal(r.code, 0, r.stdout + r.stderr);
  const { sent, lost } = await loop.stop();
  t.diagnostic(`agent down ${downMs.toFixed(0)} ms; ping: ${sent} sent, ${lost.length} lost`);
  assert.ok(sent > 20, `the ping loop ran (${sent} probes)`);
  assert.deepEqual(lost, [], "no ping lost while the agent was down or restarting");

  // Every pod: one address, unique, the one its eth0 carries; the result of the
  // burst (when it got one) still holds.
  const all = [first, second, ...pods];
  const final = new Map<string, string>();
  for (const [i, p] of pods.entries()) {
    const r = results[i]!.code === 0 ? results[i]! : retried[failed.indexOf(p)]!;
    final.set(p.id, addressOf(r));
  }
  final.set(first.id, addressOf(ra));
  final.set(second.id, addressOf(rb));
  assert.equal(new Set(final.values()).size, all.length, "addresses are unique");
  for (const p of all) {
    const inPod = run("ip", ["-n", p.name, "-o", "-4", "addr", "show", "eth0"]);
    assert.match(inPod, new RegExp(`inet ${final.get(p.id)!.replaceAll(".", "\\.")}/32`), p.name);
  }
  const endpoints = await lab.endpoints();
  assert.equal(endpoints.length, all.length);
  assert.ok(endpoints.every((e) => e.state === "ready"));
  const left = lab.leftovers();
  assert.deepEqual(
    {
      links: left.links.length,
      entries: left.entries,
      rows: left.rows,
      allocations: left.allocations,
    },
    { links: all.length, entries: all.length, rows: all.length, allocations: all.length },
    "rows == pods == IPAM allocations == map entries == host veths",
  );

  const dels = await Promise.all(all.map((p) => lab.cni("DEL", p)));
  for (const d of dels) assert.equal(d.code, 0, d.stdout);
  assert.deepEqual(lab.leftovers(), { links: [], entries: 0, rows: 0, allocations: 0 });
});
