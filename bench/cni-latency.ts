// CNI ADD/DEL latency as a runtime sees it: the plugin exec'd once per
// operation (process start-up included) with CNI_* env and the netconf on
// stdin, into network namespaces created beforehand, at concurrency 1, 10 and
// 50. Fairway (fairway-agent running, its installed fairway-cni) and Debian's
// reference plugins (bridge + host-local) run interleaved in one run, round by
// round, so both see the same machine load; ratios are reported.
//
//   sudo node --import tsx bench/cni-latency.ts [--ops 200] [--rounds 4] [--levels 1,10,50]
//
// Writes bench/results/cni-latency.json and prints a markdown table.
// Target: Fairway ADD p50 <= 50 ms and p99 <= 150 ms at concurrency 10.

import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { fairwayNetwork } from "./cni/fairway.ts";
import { nodeFloor } from "./cni/floor.ts";
import { NetnsSet } from "./cni/netns.ts";
import { type Attachment, type BenchNetwork, cniAdd, cniDel } from "./cni/plugin.ts";
import { REFERENCE_LABEL, referenceNetwork } from "./cni/reference.ts";
import { type RoundSamples, runRound, verifyAttachment } from "./cni/round.ts";
import { type LatencyStats, latencyStats } from "./cni/stats.ts";
import { fmt, table, writeResult } from "./lib/report.ts";

const { values: opts } = parseArgs({
  options: {
    ops: { type: "string", default: "200" },
    rounds: { type: "string", default: "4" },
    levels: { type: "string", default: "1,10,50" },
    "log-level": { type: "string", default: "info" },
    /** a subset of "fairway", "reference" (bridge+host-local), "floor" (empty Node script) */
    networks: { type: "string", default: "fairway,reference,floor" },
  },
});
const OPS = Number(opts.ops);
const ROUNDS = Number(opts.rounds);
const LEVELS = opts.levels.split(",").map(Number);
const WANT = new Set(opts.networks.split(","));
const TARGET = { concurrency: 10, addP50: 50, addP99: 150 };

if (process.getuid?.() !== 0) {
  console.error("cni-latency needs root: it creates network namespaces and veths");
  process.exit(1);
}

const netns = new NetnsSet();
const networks: BenchNetwork[] = [];
const release = async (): Promise<void> => {
  netns.removeAll();
  for (const n of networks.splice(0).reverse()) await n.close();
};
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void release().finally(() => process.exit(130));
  });
}

interface Cell {
  network: string;
  concurrency: number;
  add: LatencyStats;
  del: LatencyStats;
  addOpsPerSec: number;
  delOpsPerSec: number;
}

async function main(): Promise<Cell[]> {
  if (WANT.has("fairway")) {
    networks.push(await fairwayNetwork({ podCIDR: "10.246.1.0/24", logLevel: opts["log-level"] }));
  }
  if (WANT.has("reference")) networks.push(referenceNetwork("10.246.2.0/24"));
  if (WANT.has("floor")) networks.push(nodeFloor());
  for (const net of networks) await warmUp(net);

  const cells: Cell[] = [];
  for (const c of LEVELS) {
    const batch = Math.max(Math.ceil(OPS / ROUNDS), c);
    const acc = new Map<string, RoundSamples[]>();
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? networks : [...networks].reverse();
      for (const net of order) {
        const samples = await runRound(net, netns, batch, c);
        acc.set(net.label, [...(acc.get(net.label) ?? []), samples]);
      }
    }
    for (const net of networks) {
      const rounds = acc.get(net.label)!;
      const all = (k: "add" | "del") => rounds.flatMap((s) => s[k]);
      const errors = (k: "addErrors" | "delErrors") => rounds.reduce((a, s) => a + s[k], 0);
      const wall = (k: "addWallMs" | "delWallMs") => rounds.reduce((a, s) => a + s[k], 0);
      const n = rounds.reduce((a, s) => a + s.add.length + s.addErrors, 0);
      cells.push({
        network: net.label,
        concurrency: c,
        add: latencyStats(all("add"), errors("addErrors")),
        del: latencyStats(all("del"), errors("delErrors")),
        addOpsPerSec: Math.round((n / wall("addWallMs")) * 1000),
        delOpsPerSec: Math.round((n / wall("delWallMs")) * 1000),
      });
      const cell = cells.at(-1)!;
      console.error(
        `c=${c} ${net.label}: ADD p50 ${cell.add.p50} p99 ${cell.add.p99} ms, DEL p50 ${cell.del.p50} p99 ${cell.del.p99} ms (${cell.add.errors + cell.del.errors} errors)`,
      );
    }
  }
  return cells;
}

/** A few ADD/DEL pairs before measuring, and a check that ADD really plumbed eth0. */
async function warmUp(net: BenchNetwork): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const [path] = netns.create(1);
    const a: Attachment = { containerId: randomBytes(32).toString("hex"), netns: path! };
    const add = await cniAdd(net, a);
    if (add.code !== 0)
      throw new Error(`${net.label} warm-up ADD failed: ${add.stdout}${add.stderr}`);
    a.result = add.json;
    if (i === 0 && net.plumbs !== false) verifyAttachment(net, a);
    const del = await cniDel(net, a);
    if (del.code !== 0)
      throw new Error(`${net.label} warm-up DEL failed: ${del.stdout}${del.stderr}`);
    netns.remove([path!]);
  }
}

function report(cells: Cell[]): void {
  const ref = (c: Cell) =>
    cells.find((x) => x.concurrency === c.concurrency && x.network === REFERENCE_LABEL);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
  const rows = cells.map((c) => {
    const r = ref(c) ?? c;
    const isRef = c === r;
    return [
      c.network,
      c.concurrency,
      `${fmt(c.add.p50, 1)} / ${fmt(c.add.p99, 1)}`,
      `${fmt(c.del.p50, 1)} / ${fmt(c.del.p99, 1)}`,
      `${c.addOpsPerSec} / ${c.delOpsPerSec}`,
      isRef ? "1x" : `${ratio(c.add.p50, r.add.p50)} / ${ratio(c.add.p99, r.add.p99)}`,
      isRef ? "1x" : `${ratio(c.del.p50, r.del.p50)} / ${ratio(c.del.p99, r.del.p99)}`,
      c.add.errors + c.del.errors,
    ];
  });
  console.log(
    table(
      [
        "plugin",
        "concurrency",
        "ADD p50 / p99 (ms)",
        "DEL p50 / p99 (ms)",
        "ops/s ADD / DEL",
        "ADD vs reference (p50 / p99)",
        "DEL vs reference (p50 / p99)",
        "errors",
      ],
      rows,
    ),
  );
  const t = cells.find((c) => c.network === "fairway" && c.concurrency === TARGET.concurrency);
  if (t) {
    const met = t.add.p50 <= TARGET.addP50 && t.add.p99 <= TARGET.addP99;
    console.log(
      `\nTarget at concurrency ${TARGET.concurrency}: ADD p50 <= ${TARGET.addP50} ms and p99 <= ${TARGET.addP99} ms: ` +
        `${met ? "**met**" : "**not met**"} (p50 ${t.add.p50} ms, p99 ${t.add.p99} ms)`,
    );
  }
}

try {
  const cells = await main();
  const path = writeResult("cni-latency", {
    command: `node --import tsx bench/cni-latency.ts --ops ${OPS} --rounds ${ROUNDS} --levels ${LEVELS.join(",")}`,
    target: TARGET,
    method:
      "plugin exec'd per operation (process start included), CNI env + netconf on stdin, into pre-created netns; networks interleaved round by round",
    networks: networks.map((n) => ({ label: n.label, plugin: n.plugin, conflist: n.conflist })),
    cells,
  });
  report(cells);
  console.log(`\nwrote ${path}`);
} finally {
  await release();
}
