// CNI ADD/DEL latency as a runtime sees it: the plugin exec'd once per
// operation (process start-up included) with CNI_* env and the netconf on
// stdin, into network namespaces created beforehand, at concurrency 1, 10 and
// 50. Fairway (fairway-agent running, its installed fairway-cni: the C front
// end; and the same agent through the JS plugin beside it), Debian's
// reference plugins (bridge + host-local) and an empty Node script (the
// start-up floor) run interleaved in one run, round by round, so all see the
// same machine load; ratios are reported.
//
//   sudo node --import tsx bench/cni-latency.ts [--ops 200] [--rounds 4] [--levels 1,10,50]
//       [--networks fairway,fairway-js,reference,floor] [--log-level info]
//
// Writes bench/results/cni-latency.json and prints markdown tables.
// Target: Fairway ADD p50 <= 50 ms and p99 <= 150 ms at concurrency 10.

import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { fairwayNetwork } from "./cni/fairway.ts";
import { nodeFloor } from "./cni/floor.ts";
import { NetnsSet } from "./cni/netns.ts";
import { type Attachment, type BenchNetwork, cniAdd, cniDel } from "./cni/plugin.ts";
import { referenceNetwork } from "./cni/reference.ts";
import {
  breakdownTable,
  type Cell,
  latencyTable,
  TARGET,
  targetLine,
  toCell,
} from "./cni/report.ts";
import { type RoundSamples, runRound, verifyAttachment } from "./cni/round.ts";
import { writeResult } from "./lib/report.ts";

const { values: opts } = parseArgs({
  options: {
    ops: { type: "string", default: "200" },
    rounds: { type: "string", default: "4" },
    levels: { type: "string", default: "1,10,50" },
    "log-level": { type: "string", default: "info" },
    /**
     * a subset of "fairway" (the installed fairway-cni: the C front end when built),
     * "fairway-js" (the same agent through the JS plugin; needs "fairway"),
     * "reference" (bridge+host-local), "floor" (empty Node script)
     */
    networks: { type: "string", default: "fairway,fairway-js,reference,floor" },
  },
});
const OPS = Number(opts.ops);
const ROUNDS = Number(opts.rounds);
const LEVELS = opts.levels.split(",").map(Number);
const WANT = new Set(opts.networks.split(","));

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

/** Pod ranges of this run: 10.246.<n>.0/24 from the pid, apart from a concurrent run's. */
const cidr = (slot: number) => `10.246.${(process.pid * 2 + slot) % 256}.0/24`;

async function main(): Promise<Cell[]> {
  if (WANT.has("fairway")) {
    const fairway = await fairwayNetwork({ podCIDR: cidr(0), logLevel: opts["log-level"] });
    networks.push(fairway);
    if (WANT.has("fairway-js")) networks.push(fairway.jsPlugin());
  }
  if (WANT.has("reference")) networks.push(referenceNetwork(cidr(1)));
  if (WANT.has("floor")) networks.push(nodeFloor());
  for (const net of networks) await warmUp(net);

  const cells: Cell[] = [];
  for (const c of LEVELS) {
    // At least `c` per round, so every round reaches the concurrency.
    const batch = Math.max(Math.ceil(OPS / ROUNDS), c);
    const acc = new Map<BenchNetwork, RoundSamples[]>(networks.map((n) => [n, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? networks : [...networks].reverse();
      for (const net of order) acc.get(net)!.push(await runRound(net, netns, batch, c));
    }
    for (const net of networks) {
      const cell = toCell(net.label, c, acc.get(net)!);
      cells.push(cell);
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
    if (add.code !== 0) {
      throw new Error(`${net.label} warm-up ADD failed: ${add.stdout}${add.stderr}`);
    }
    a.result = add.json;
    if (i === 0 && net.plumbs !== false) verifyAttachment(net, a);
    const del = await cniDel(net, a);
    if (del.code !== 0) {
      throw new Error(`${net.label} warm-up DEL failed: ${del.stdout}${del.stderr}`);
    }
    netns.remove([path!]);
  }
}

try {
  const cells = await main();
  const path = writeResult("cni-latency", {
    command: `node --import tsx bench/cni-latency.ts --ops ${OPS} --rounds ${ROUNDS} --levels ${LEVELS.join(",")} --networks ${[...WANT].join(",")}`,
    target: TARGET,
    method:
      "plugin exec'd per operation (process start included), CNI env + netconf on stdin, into pre-created netns; networks interleaved round by round; latency = spawn to exit",
    networks: networks.map((n) => ({ label: n.label, plugin: n.plugin, conflist: n.conflist })),
    cells,
  });
  console.log(latencyTable(cells));
  console.log(`\nWhere Fairway's ADD time goes (p50, ms):\n\n${breakdownTable(cells)}`);
  console.log(`\n${targetLine(cells)}`);
  console.log(`\nwrote ${path}`);
} finally {
  await release();
}
