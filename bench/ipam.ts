// IPAM micro benchmark: allocations and releases per second on a /16, through
// the module's public API, with every call committed to fairway.db.
//   node --import tsx bench/ipam.ts [--power-ops N]
// Runs both durability settings side by side: "process" (WAL, synchronous=NORMAL,
// the default: survives kill -9) and "power" (synchronous=FULL: also survives a
// power cut, one fsync per commit). Writes bench/results/ipam.{json,md}.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../src/base/log.ts";
import { type Durability, IpamService, parseIpamConfig } from "../src/ipam/index.ts";

const CIDR = "10.64.0.0/16";
const POOL = 65534;
const powerOps = Number(process.argv[process.argv.indexOf("--power-ops") + 1]) || 2000;

interface Row {
  durability: Durability;
  synchronous: string;
  ops: number;
  allocPerSec: number;
  releasePerSec: number;
  churnPerSec: number;
  exhaustedMs: number | null;
}

const owner = (i: number) => ({ containerId: `bench-${i}`, ifname: "eth0" });

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1) await fn(i);
  return n / ((performance.now() - t0) / 1000);
}

async function run(durability: Durability, ops: number): Promise<Row> {
  const stateDir = mkdtempSync(join(tmpdir(), "fairway-bench-ipam-"));
  const ipam = new IpamService(
    parseIpamConfig({ podCIDRs: [CIDR], stateDir, durability }),
    silentLogger(),
  );
  await ipam.start();
  try {
    const allocPerSec = await timed(ops, (i) => ipam.allocate(owner(i), 4));
    let exhaustedMs: number | null = null;
    if (ops === POOL) {
      // Worst case of the next-free search: a full pool walked end to end.
      const t0 = performance.now();
      await ipam.allocate(owner(-1), 4).catch(() => undefined);
      exhaustedMs = performance.now() - t0;
    }
    const releasePerSec = await timed(ops, (i) => ipam.release(owner(i)));
    // Steady state: half the pool in use, one pod in, one pod out, per step.
    const half = Math.min(ops, POOL / 2);
    for (let i = 0; i < half; i += 1) await ipam.allocate(owner(i), 4);
    const churnPerSec =
      2 *
      (await timed(Math.min(ops, 20_000), async (i) => {
        await ipam.allocate(owner(half + i), 4);
        await ipam.release(owner(i));
      }));
    return {
      durability,
      synchronous: durability === "power" ? "FULL" : "NORMAL",
      ops,
      allocPerSec,
      releasePerSec,
      churnPerSec,
      exhaustedMs,
    };
  } finally {
    await ipam.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const rows = [await run("process", POOL), await run("power", powerOps)];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
for (const r of rows) {
  console.log(
    `ipam ${CIDR} durability=${r.durability} (WAL, synchronous=${r.synchronous}), ${r.ops} ops: ` +
      `${fmt(r.allocPerSec)} allocs/s, ${fmt(r.releasePerSec)} releases/s, ` +
      `${fmt(r.churnPerSec)} alloc+release ops/s at half full` +
      (r.exhaustedMs === null
        ? ""
        : `, full-pool exhaustion answered in ${r.exhaustedMs.toFixed(1)} ms`),
  );
}
const [p, f] = rows as [Row, Row];
console.log(`ratio process/power: ${(p.allocPerSec / f.allocPerSec).toFixed(1)}x allocs/s`);

const out = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "ipam.json"),
  `${JSON.stringify({ cidr: CIDR, date: new Date().toISOString(), rows }, null, 2)}\n`,
);
writeFileSync(
  join(out, "ipam.md"),
  [
    `# IPAM, ${CIDR}, one SQLite transaction per call`,
    "",
    "| durability | synchronous | ops | allocs/s | releases/s | churn ops/s | full-pool exhaustion |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.durability} | ${r.synchronous} | ${r.ops} | ${fmt(r.allocPerSec)} | ${fmt(r.releasePerSec)} | ` +
        `${fmt(r.churnPerSec)} | ${r.exhaustedMs === null ? "-" : `${r.exhaustedMs.toFixed(1)} ms`} |`,
    ),
    "",
  ].join("\n"),
);
