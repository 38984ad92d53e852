// Pod network setup/teardown: Fairway's rtnetlink (src/datapath/net) against
// iproute2, one `ip` process per step and `ip -batch`. A "pod network" is what
// the CNI plugin builds: netns, veth with the peer in the netns named eth0 (made
// there directly: `ip link add ... peer name eth0 netns X` does the same), link up,
// address, default route via 169.254.1.1 onlink, static neighbour for it, and a
// host route to the pod. Teardown: delete the host veth, delete the netns.
//
//   node --import tsx bench/netsetup.ts [--pods 200] [--concurrency 1,10,50]
//
// Writes bench/results/netsetup.json and prints a markdown table. Root only.
// Everything is named fwtb* and removed at the end, also on failure or Ctrl-C.

import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import * as net from "../src/datapath/net/index.ts";

const run = promisify(execFile);
const HOST_MAC = "ee:ee:ee:ee:ee:ee";
const GATEWAY = "169.254.1.1";

interface Pod {
  ns: string;
  host: string;
  ip: string;
}

interface Method {
  name: string;
  setup(p: Pod): Promise<void>;
  teardown(p: Pod): Promise<void>;
}

const fairway: Method = {
  name: "fairway-netlink",
  async setup(p) {
    const netns = await net.createNetns(p.ns);
    await net.createVeth({
      name: p.host,
      peerName: "eth0",
      peerNetns: netns,
      mac: HOST_MAC,
      up: true,
      peerUp: true,
    });
    await net.addAddress("eth0", `${p.ip}/32`, { netns });
    await net.addRoute({ dst: "default", gateway: GATEWAY, dev: "eth0", onlink: true }, { netns });
    await net.addNeighbour({ address: GATEWAY, lladdr: HOST_MAC, dev: "eth0" }, { netns });
    await net.addRoute({ dst: `${p.ip}/32`, dev: p.host });
  },
  async teardown(p) {
    await net.deleteLink(p.host);
    await net.deleteNetns(p.ns);
  },
};

const ipEach: Method = {
  name: "ip-per-command",
  async setup(p) {
    await run("ip", ["netns", "add", p.ns]);
    await run("ip", [
      "link",
      "add",
      p.host,
      "address",
      HOST_MAC,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      p.ns,
    ]);
    await run("ip", ["-n", p.ns, "link", "set", "eth0", "up"]);
    await run("ip", ["-n", p.ns, "addr", "add", `${p.ip}/32`, "dev", "eth0"]);
    await run("ip", [
      "-n",
      p.ns,
      "route",
      "add",
      "default",
      "via",
      GATEWAY,
      "dev",
      "eth0",
      "onlink",
    ]);
    await run("ip", [
      "-n",
      p.ns,
      "neigh",
      "add",
      GATEWAY,
      "lladdr",
      HOST_MAC,
      "dev",
      "eth0",
      "nud",
      "permanent",
    ]);
    await run("ip", ["link", "set", p.host, "up"]);
    await run("ip", ["route", "add", `${p.ip}/32`, "dev", p.host, "scope", "link"]);
  },
  async teardown(p) {
    await run("ip", ["link", "del", p.host]);
    await run("ip", ["netns", "del", p.ns]);
  },
};

/** Runs `ip [args] -batch -` with the commands on stdin. */
function ipBatch(args: string[], lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile("ip", [...args, "-batch", "-"], (err) =>
      err ? reject(err) : resolve(),
    );
    child.stdin!.end(`${lines.join("\n")}\n`);
  });
}

const ipBatched: Method = {
  name: "ip-batch",
  async setup(p) {
    await ipBatch(
      [],
      [
        `netns add ${p.ns}`,
        `link add ${p.host} address ${HOST_MAC} type veth peer name eth0 netns ${p.ns}`,
        `link set ${p.host} up`,
        `route add ${p.ip}/32 dev ${p.host} scope link`,
      ],
    );
    await ipBatch(
      ["-n", p.ns],
      [
        "link set eth0 up",
        `addr add ${p.ip}/32 dev eth0`,
        `route add default via ${GATEWAY} dev eth0 onlink`,
        `neigh add ${GATEWAY} lladdr ${HOST_MAC} dev eth0 nud permanent`,
      ],
    );
  },
  async teardown(p) {
    await ipBatch([], [`link del ${p.host}`, `netns del ${p.ns}`]);
  },
};

// --- measurement

interface Stats {
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

interface Result {
  method: string;
  concurrency: number;
  pods: number;
  setupMs: Stats;
  teardownMs: Stats;
  setupWallMs: number;
  podsPerSecond: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return {
    p50: r(at(0.5)),
    p99: r(at(0.99)),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
    max: r(s.at(-1) ?? 0),
  };
}

/** Runs fn over items with at most `limit` in flight; returns each item's duration in ms. */
async function timedPool<T>(
  items: T[],
  limit: number,
  fn: (x: T) => Promise<void>,
): Promise<number[]> {
  const times: number[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const t0 = performance.now();
      await fn(items[i]!);
      times[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return times;
}

const tag = process.pid.toString(36);
let round = 0;
const created = new Set<Pod>();

function makePods(n: number): Pod[] {
  round++;
  return Array.from({ length: n }, (_, i) => {
    const id = `${round.toString(36)}${i.toString(36).padStart(2, "0")}`;
    return { ns: `fwtb${tag}${id}`, host: `fwtb${tag}${id}`, ip: `10.250.${round}.${i}` };
  });
}

/** Live network namespaces, from the slab cache the kernel allocates them from. */
function liveNamespaces(): number {
  const line = readFileSync("/proc/slabinfo", "utf8")
    .split("\n")
    .find((l) => l.startsWith("net_namespace "));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let baseline = 0;

/**
 * The kernel frees deleted namespaces later, in a worker that takes RTNL; a round
 * measured while it runs pays for the previous round. Wait until the count is
 * back to where it was (or stops moving: others may own namespaces too).
 */
async function settle(): Promise<void> {
  let last = liveNamespaces();
  for (let waited = 0, still = 0; waited < 15000 && last > baseline && still < 5; waited += 200) {
    await sleep(200);
    const now = liveNamespaces();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  await sleep(200);
}

async function measure(m: Method, n: number, concurrency: number): Promise<Result> {
  if (n > 250) throw new Error("at most 250 pods per round (one /24 of pod IPs)");
  const pods = makePods(n);
  const t0 = performance.now();
  const setup = await timedPool(pods, concurrency, async (p) => {
    created.add(p);
    await m.setup(p);
  });
  const setupWallMs = performance.now() - t0;
  const teardown = await timedPool(pods, concurrency, async (p) => {
    await m.teardown(p);
    created.delete(p);
  });
  await settle();
  return {
    method: m.name,
    concurrency,
    pods: n,
    setupMs: stats(setup),
    teardownMs: stats(teardown),
    setupWallMs: Math.round(setupWallMs),
    podsPerSecond: Math.round((n / setupWallMs) * 1000),
  };
}

/** Best-effort removal of whatever a failed round left. */
function cleanupLeftovers(): void {
  net.closeNetlinkSockets();
  for (const p of created) {
    for (const args of [
      ["link", "del", p.host],
      ["netns", "del", p.ns],
    ]) {
      try {
        execFileSync("ip", args, { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  }
  created.clear();
}

function table(results: Result[]): string {
  const rows = [
    "| method | concurrency | setup p50 ms | setup p99 ms | teardown p50 ms | teardown p99 ms | pods/s | vs fairway (setup p50) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const order = (r: Result) =>
    r.concurrency * 10 + [fairway.name, "ip-batch", "ip-per-command"].indexOf(r.method);
  for (const r of [...results].sort((a, b) => order(a) - order(b))) {
    const base = results.find((x) => x.method === fairway.name && x.concurrency === r.concurrency);
    const ratio = base ? (r.setupMs.p50 / base.setupMs.p50).toFixed(1) : "-";
    rows.push(
      `| ${r.method} | ${r.concurrency} | ${r.setupMs.p50} | ${r.setupMs.p99} | ${r.teardownMs.p50} | ${r.teardownMs.p99} | ${r.podsPerSecond} | ${ratio}x |`,
    );
  }
  return rows.join("\n");
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error("bench/netsetup.ts needs root (network namespaces, links)");
  const { values } = parseArgs({
    options: {
      pods: { type: "string", default: "200" },
      concurrency: { type: "string", default: "1,10,50" },
    },
  });
  const n = Number(values.pods);
  const levels = values.concurrency.split(",").map(Number);
  const methods = [fairway, ipBatched, ipEach];
  process.on("SIGINT", () => {
    cleanupLeftovers();
    process.exit(130);
  });
  const results: Result[] = [];
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  baseline = liveNamespaces();
  try {
    for (const m of methods) await measure(m, 10, 1); // warm-up: page cache, first netns
    for (const [i, c] of levels.entries()) {
      // Rotate the order so that no method always runs first (or last) in a level.
      for (const m of [...methods.slice(i % 3), ...methods.slice(0, i % 3)]) {
        const r = await measure(m, n, c);
        results.push(r);
        console.error(`${m.name} c=${c}: setup p50 ${r.setupMs.p50} ms p99 ${r.setupMs.p99} ms`);
      }
    }
  } finally {
    cleanupLeftovers();
  }
  const ratios: Record<string, number> = {};
  for (const r of results) {
    const base = results.find((x) => x.method === fairway.name && x.concurrency === r.concurrency)!;
    if (r.method !== fairway.name) {
      ratios[`${r.method}/c${r.concurrency}/setup-p50`] =
        Math.round((r.setupMs.p50 / base.setupMs.p50) * 10) / 10;
      ratios[`${r.method}/c${r.concurrency}/setup-p99`] =
        Math.round((r.setupMs.p99 / base.setupMs.p99) * 10) / 10;
    }
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), "results/netsetup.json");
  mkdirSync(dirname(out), { recursive: true });
  const env = {
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
    node: process.version,
    iproute2: execFileSync("ip", ["-V"], { encoding: "utf8" }).trim(),
    cpus: cpus().length,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    /** The machine may be shared: load when the run started and when it ended. */
    loadavg: [loadAtStart, loadavg().map((x) => Math.round(x * 100) / 100)],
  };
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), env, pods: n, results, ratios }, null, 2)}\n`,
  );
  console.log(table(results));
  console.log(
    `\n${n} pods per round; ${env.cpus} CPUs; ${env.kernel}; ${env.iproute2}. JSON: ${out}`,
  );
}

await main();
