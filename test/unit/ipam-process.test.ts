// Cross-process safety and crash safety: child processes (ipam-worker.ts)
// allocate against the same fairway.db; some are killed with SIGKILL.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IpamCode } from "../../src/ipam/index.ts";
import {
  spawnWorker,
  startIpam,
  tempStateDir,
  type Worker,
  type WorkerLine,
} from "./ipam-fixtures.ts";

type Ok = Extract<WorkerLine, { ok: true }>;

async function runTogether(workers: Worker[]): Promise<WorkerLine[]> {
  for (const w of workers) assert.deepEqual(await w.next(), { ready: true });
  for (const w of workers) w.go(); // all start allocating at once
  const done = await Promise.all(workers.map((w) => w.done()));
  return done.flatMap((d) => d.lines.filter((l) => !("ready" in l)));
}

test("50 allocations from 5 processes at once: no duplicates", async (t) => {
  const stateDir = tempStateDir(t);
  const podCIDRs = ["10.0.0.0/24", "fd00::/120"];
  const workers = Array.from({ length: 5 }, (_, i) =>
    spawnWorker(t, { stateDir, podCIDRs, mode: "batch", prefix: `p${i}`, count: 10 }),
  );
  const lines = (await runTogether(workers)) as Ok[];
  assert.equal(lines.length, 50);
  assert.ok(
    lines.every((l) => l.ok),
    JSON.stringify(lines.filter((l) => !l.ok)),
  );
  const ips = lines.flatMap((l) => l.ips);
  assert.equal(new Set(ips).size, 100, "every address handed out once");
  const ipam = await startIpam(t, podCIDRs, stateDir);
  const stored = await ipam.list();
  assert.deepEqual(
    stored.map((a) => a.ip).sort(),
    [...ips].sort(),
    "the database agrees with what was returned",
  );
  // How much the processes interleaved (by address order): shown, not asserted, as it is timing.
  const v4 = stored.filter((a) => a.family === 4).map((a) => a.containerId.split("-")[0]);
  const switches = v4.filter((p, i) => i > 0 && p !== v4[i - 1]).length;
  t.diagnostic(`writer switched ${switches} times over 50 allocations`);
});

test("the same ADD from 5 processes at once gets one address", async (t) => {
  const stateDir = tempStateDir(t);
  const podCIDRs = ["10.0.0.0/24"];
  const workers = Array.from({ length: 5 }, () =>
    spawnWorker(t, {
      stateDir,
      podCIDRs,
      mode: "batch",
      prefix: "same",
      sameOwner: true,
      count: 3,
    }),
  );
  const lines = (await runTogether(workers)) as Ok[];
  assert.equal(lines.length, 15);
  assert.deepEqual([...new Set(lines.map((l) => l.ips.join(",")))], ["10.0.0.1"]);
});

test("processes racing for a small pool: exactly its size succeed, the rest get E_IPAM_EXHAUSTED", async (t) => {
  const stateDir = tempStateDir(t);
  const podCIDRs = ["10.0.0.0/28"]; // 14 usable
  const workers = Array.from({ length: 4 }, (_, i) =>
    spawnWorker(t, { stateDir, podCIDRs, mode: "batch", prefix: `q${i}`, count: 5 }),
  );
  const lines = await runTogether(workers);
  const ok = lines.filter((l): l is Ok => "ok" in l && l.ok);
  const failed = lines.filter((l) => "ok" in l && !l.ok);
  assert.equal(ok.length, 14);
  assert.equal(new Set(ok.flatMap((l) => l.ips)).size, 14);
  assert.equal(failed.length, 6);
  for (const f of failed) assert.equal((f as { code: string }).code, IpamCode.exhausted);
});

test("crash safety: an allocation returned just before SIGKILL is there after reopening", async (t) => {
  const stateDir = tempStateDir(t);
  const podCIDRs = ["10.0.0.0/16", "fd00::/64"];
  const w = spawnWorker(t, { stateDir, podCIDRs, mode: "batch", prefix: "one", count: 1 });
  assert.deepEqual(await w.next(), { ready: true });
  w.go();
  const got = (await w.next()) as Ok;
  w.child.kill("SIGKILL"); // right after the result arrived
  const { signal } = await w.done();
  assert.equal(signal, "SIGKILL");
  const ipam = await startIpam(t, podCIDRs, stateDir);
  assert.deepEqual(
    (await ipam.get({ containerId: "one-0", ifname: "eth0" })).map((a) => a.ip),
    got.ips,
  );
});

test("crash safety: SIGKILL in the middle of a stream of allocations loses none that were returned", async (t) => {
  const stateDir = tempStateDir(t);
  const podCIDRs = ["10.0.0.0/16", "fd00::/64"];
  for (const round of [0, 1, 2]) {
    const w = spawnWorker(t, { stateDir, podCIDRs, mode: "loop", prefix: `r${round}` });
    assert.deepEqual(await w.next(), { ready: true });
    const returned: Ok[] = [];
    const target = 50 + round * 37; // kill at a different point each round
    while (returned.length < target) returned.push((await w.next()) as Ok);
    w.child.kill("SIGKILL");
    await w.done();
    const ipam = await startIpam(t, podCIDRs, stateDir);
    const stored = await ipam.list();
    await ipam.stop();
    const byOwner = new Map<string, string[]>();
    for (const a of stored)
      byOwner.set(a.containerId, [...(byOwner.get(a.containerId) ?? []), a.ip]);
    for (const r of returned) assert.deepEqual(byOwner.get(r.containerId), r.ips, r.containerId);
    assert.equal(new Set(stored.map((a) => a.ip)).size, stored.length, "no duplicates");
    for (const a of stored) {
      assert.equal(
        byOwner.get(a.containerId)?.length,
        2,
        `${a.containerId}: both families or neither`,
      );
    }
  }
});
