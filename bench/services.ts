// Service load balancing at scale (issue 4). For N ClusterIP services (two
// endpoints each; default N = 1, 1,000, 5,000, 10,000), in one run:
//   - the new-connection rate and the connect+request latency (p50, p99)
//     through one ClusterIP from a pod (bench/tools/connrate.c, compiled here);
//   - the time to program all N services from scratch;
//   - the time from one service change (its backend set) to its effect.
// Implementations, side by side:
//   fairway-sock     Fairway's socket LB              } bench/services-fairway.ts
//   fairway-tc       Fairway's tc LB, socket LB off   }
//   iptables-nft     kube-proxy's iptables mode: the rules it writes
//   iptables-legacy  (bench/lib/kube-proxy-iptables.ts) loaded with
//                    iptables-restore, nf_tables or legacy backend
//                    (`--impl iptables` means both)
//
// Topology, one per implementation so that rules never mix:
//
//   client pod  10.247.0.2 ─veth─┐  node netns: ip_forward, /32 routes and static
//   backend b1  10.247.0.3 ─veth─┤  neighbours to the pods (Fairway's plumbPod:
//   backend b2  10.247.0.4 ─veth─┘  a routed CNI); iptables rules here
//
// The runner attaches no programs: the iptables implementations forward through
// the node's stack (as kube-proxy needs, like Fairway's veth-legacy mode); an
// implementation may attach its own (Fairway's load the veth datapath), so
// Fairway's figures include its forwarding as well as its load balancing.
//
// Services get 10.97.x.y:80. The measured one (in the middle of the list, so in
// the middle of KUBE-SERVICES: kube-proxy writes services in Go map order, and
// the middle is the expected position) has b1 and b2 at :8080, where
// `connrate server` answers; the others point at 10.248.x.y:8080, pods
// nobody serves. The client runs in the client pod's netns and in a cgroup of
// its own (Topology.clientCgroup, for the socket LB).
//
// Per N: every implementation is reset and programmed (timed, repeated within
// a budget), probed (both backends answer), measured in interleaved rounds
// (order rotated each round), then its change latency is taken: the measured
// service alternates between {b1} and {b1, b2}, and each change is timed until
// the implementation says it is in effect. A probe before that checks that a
// change really takes effect ({b2} only, then both).
// The client and both servers are pinned to one CPU (--cpu, default the last
// one), as in bench/datapath.ts: the rate then measures what a connection
// costs in CPU, and the other CPU's background noise stays out (unpinned, on
// the 2-vCPU VM this was written on, rounds spread over ±15% instead of ±7%).
//
//   sudo node --import tsx bench/services.ts [--impl fairway-sock,fairway-tc,iptables]
//        [--services 1,1000,5000,10000] [--rounds 5] [--seconds 2] [--warmup 0.5]
//        [--concurrency <cpus>] [--changes 100] [--change-budget 20]
//        [--program-repeats 3] [--program-budget 30] [--cpu N|all] [--timeout-ms 1000]
//        (BENCH_VERBOSE=1: every round)
//
// Root only. Writes bench/results/services.json and services.{svg,png}, prints
// a markdown table. Everything is named fwbs<pid> and removed at the end, also
// on failure or Ctrl-C.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as net from "../src/datapath/net/index.ts";
import { plumbPod } from "../src/datapath/veth/index.ts";
import {
  activeServiceChains,
  changeSyncRules,
  fullSyncRules,
  isLargeCluster,
  isServiceChain,
  jumpRules,
  type KubeService,
  RESTORE_ARGS,
  savedChains,
  serviceChainName,
  servicePortName,
} from "./lib/kube-proxy-iptables.ts";
import { writeLineChart } from "./lib/plot.ts";
import { benchRoot, buildTool, median, percentile, table, writeResult } from "./lib/report.ts";
import { FairwaySockLb, FairwayTcLb } from "./services-fairway.ts";

// --- the interface an implementation provides

/** One ClusterIP service port and its endpoints (IPv4, TCP), as kube-proxy sees it. */
export type BenchService = KubeService;

export interface Pod {
  /** netns name (ip netns) and path (/run/netns/<name>) */
  netns: string;
  netnsPath: string;
  ip: string;
  /** the pod's veth in the node netns (plumbPod's result) */
  hostIfname: string;
  hostIfindex: number;
  hostMac: string;
  podMac: string;
}

export interface Topology {
  /** Prefix for anything the implementation creates (pin dirs, names); unique to this run and implementation. */
  tag: string;
  node: { netns: string; netnsPath: string };
  client: Pod;
  backends: readonly [Pod, Pod];
  /** cgroup v2 directory every client process of this implementation runs in. */
  clientCgroup: string;
  podCIDR: string;
  serviceCIDR: string;
}

/** What an implementation reports beside the runner's own wall-clock timing of the call. */
export interface Timing {
  detail?: Record<string, number | string>;
}

export interface LbImpl {
  readonly name: string;
  /** Once, before anything else: load, attach, prepare. Not timed. */
  setup(topo: Topology): Promise<void>;
  /** Removes every service (not timed), so that the next program() starts from scratch. */
  reset(): Promise<void>;
  /** Programs exactly these services; resolves when all are in effect in the datapath. Timed. */
  program(services: readonly BenchService[]): Promise<Timing>;
  /** Replaces one programmed service (same key, new endpoints); resolves when in effect. Timed. */
  change(service: BenchService): Promise<Timing>;
  /** Optional facts after the rounds (rule counts, map sizes...), put in the JSON. */
  describe?(measured: BenchService): Promise<Record<string, unknown>>;
  /** Releases everything setup() and the rest created. */
  teardown(): Promise<void>;
}

// --- options

const IPTABLES = ["iptables-nft", "iptables-legacy"];

const { values: opts } = parseArgs({
  options: {
    impl: { type: "string", default: "fairway-sock,fairway-tc,iptables" },
    services: { type: "string", default: "1,1000,5000,10000" },
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "2" },
    warmup: { type: "string", default: "0.5" },
    concurrency: { type: "string", default: String(cpus().length) },
    changes: { type: "string", default: "100" },
    "change-budget": { type: "string", default: "20" },
    "program-repeats": { type: "string", default: "3" },
    "program-budget": { type: "string", default: "30" },
    "timeout-ms": { type: "string", default: "1000" },
    /** taskset CPU list for the client and the servers; "all": not pinned */
    cpu: { type: "string", default: String(cpus().length - 1) },
  },
});
const P = {
  impls: opts.impl.split(",").flatMap((i) => (i === "iptables" ? IPTABLES : [i])),
  sizes: opts.services.split(",").map(Number),
  rounds: Number(opts.rounds),
  seconds: Number(opts.seconds),
  warmup: Number(opts.warmup),
  concurrency: Number(opts.concurrency),
  changes: Number(opts.changes),
  changeBudgetMs: Number(opts["change-budget"]) * 1000,
  programRepeats: Number(opts["program-repeats"]),
  programBudgetMs: Number(opts["program-budget"]) * 1000,
  timeoutMs: Number(opts["timeout-ms"]),
  cpu: opts.cpu,
};

/** The command prefix that pins a process to --cpu, if given. */
const pin = (): string[] => (P.cpu === "all" ? [] : ["taskset", "-c", P.cpu]);

// --- addresses

const TAG = `fwbs${process.pid.toString(36)}`;
const POD_CIDR = "10.247.0.0/16";
const SERVICE_CIDR = "10.97.0.0/16";
const CLIENT_IP = "10.247.0.2";
const BACKEND_IPS = ["10.247.0.3", "10.247.0.4"] as const;
const SERVICE_PORT = 80;
const TARGET_PORT = 8080;
const CGROUP_ROOT = "/sys/fs/cgroup/unified";
const KP = { clusterCIDR: POD_CIDR };

/** 10.<a>.x.y, the i-th host address of a /16 (i from 0, skipping .0.0). */
const nth = (a: number, i: number) => `10.${a}.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`;

function buildServices(n: number): { services: BenchService[]; measured: number } {
  const measured = Math.floor(n / 2);
  const services = Array.from({ length: n }, (_, i) => ({
    namespace: "fwbs",
    name: `svc-${i}`,
    portName: "http",
    protocol: "TCP" as const,
    clusterIP: nth(97, i),
    port: SERVICE_PORT,
    endpoints: (i === measured ? [...BACKEND_IPS] : [nth(248, 2 * i), nth(248, 2 * i + 1)]).map(
      (ip) => ({ ip, port: TARGET_PORT }),
    ),
  }));
  return { services, measured };
}

const withBackends = (s: BenchService, ips: readonly string[]): BenchService => ({
  ...s,
  endpoints: ips.map((ip) => ({ ip, port: TARGET_PORT })),
});

// --- resources, released at the end whatever happens

const namespaces: string[] = [];
const cgroups: string[] = [];
const children = new Set<ChildProcess>();
const impls: LbImpl[] = [];

const log = (msg: string) => console.error(`[services] ${msg}`);
const verbose = (msg: string) => process.env.BENCH_VERBOSE && log(msg);

/** Runs a command; resolves with stdout, rejects with stderr in the message. */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    children.add(p);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on("data", (d: Buffer) => out.push(d));
    p.stderr.on("data", (d: Buffer) => err.push(d));
    p.stdin.on("error", () => undefined); // it may exit before reading all input
    p.on("error", reject);
    p.on("close", (code, signal) => {
      children.delete(p);
      if (code === 0) return resolve(Buffer.concat(out).toString());
      const why = Buffer.concat(err).toString().trim().slice(0, 2000);
      reject(
        new Error(`${cmd} ${args.slice(0, 6).join(" ")}: ${signal ?? `exit ${code}`}: ${why}`),
      );
    });
    p.stdin.end(input ?? "");
  });
}

let cleaning: Promise<void> | undefined;
let interrupted = false;

/** Releases everything; called from main's finally and on SIGINT/SIGTERM, runs once. */
function cleanup(): Promise<void> {
  cleaning ??= release();
  return cleaning;
}

async function release(): Promise<void> {
  for (const p of children) p.kill("SIGKILL");
  for (const impl of impls.splice(0).reverse()) {
    await impl.teardown().catch((e: Error) => log(`teardown ${impl.name}: ${e.message}`));
  }
  net.closeNetlinkSockets();
  for (const n of namespaces.splice(0)) {
    await run("ip", ["netns", "del", n]).catch(() => undefined);
  }
  // A cgroup can be removed once the processes in it are gone.
  for (const cg of cgroups.splice(0)) {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(cg);
        break;
      } catch (err) {
        if (i === 50) {
          log(`could not remove ${cg}: ${(err as Error).message}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

// --- topology

async function netns(name: string): Promise<{ netns: string; netnsPath: string }> {
  await run("ip", ["netns", "add", name]);
  namespaces.push(name);
  await run("ip", ["-n", name, "link", "set", "lo", "up"]);
  return { netns: name, netnsPath: `/run/netns/${name}` };
}

async function pod(tag: string, nodePath: string, suffix: string, ip: string): Promise<Pod> {
  const ns = await netns(`${tag}${suffix}`);
  const p = await plumbPod(
    { netnsPath: ns.netnsPath, hostIfname: `${tag}${suffix}`, podIps: [ip] },
    { netns: nodePath },
  );
  const { hostIfname, hostIfindex, hostMac, podMac } = p;
  return { ...ns, ip, hostIfname, hostIfindex, hostMac, podMac };
}

async function topology(index: number, tool: string): Promise<Topology> {
  const tag = `${TAG}${index}`;
  const node = await netns(`${tag}n`);
  net.writeSysctl("net/ipv4/ip_forward", 1, { netns: node.netnsPath });
  const client = await pod(tag, node.netnsPath, "c", CLIENT_IP);
  const b1 = await pod(tag, node.netnsPath, "b1", BACKEND_IPS[0]);
  const b2 = await pod(tag, node.netnsPath, "b2", BACKEND_IPS[1]);
  const clientCgroup = join(CGROUP_ROOT, tag);
  mkdirSync(clientCgroup);
  cgroups.push(clientCgroup);
  for (const b of [b1, b2]) {
    const args = [
      "netns",
      "exec",
      b.netns,
      ...pin(),
      tool,
      "server",
      "--port",
      String(TARGET_PORT),
    ];
    const p = spawn("ip", args, { stdio: ["ignore", "ignore", "inherit"] });
    children.add(p);
  }
  for (const b of [b1, b2]) await waitListening(b.netns);
  const backends = [b1, b2] as const;
  return {
    tag,
    node,
    client,
    backends,
    clientCgroup,
    podCIDR: POD_CIDR,
    serviceCIDR: SERVICE_CIDR,
  };
}

async function waitListening(ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await run("ip", ["netns", "exec", ns, "ss", "-Hltn"])).includes(`:${TARGET_PORT}`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`connrate server in ${ns} did not start listening`);
}

// --- kube-proxy's iptables mode

/** kube-proxy's default --iptables-sync-period: how often large clusters look for stale chains. */
const SYNC_PERIOD_MS = 30_000;

/**
 * The rules kube-proxy writes, restored the way it restores them. program()
 * is its first full sync (EnsureRule jumps are put in by setup/reset, as
 * kube-proxy does before it); change() is a partial sync (kube-proxy >= 1.27):
 * KUBE-SERVICES rewritten in full plus the changed service's chains, and
 * `iptables-save -t nat` first to find stale chains when kube-proxy would
 * (always below 1,000 endpoints, else once per sync period). "In effect" =
 * iptables-restore returned: the commit is atomic.
 */
class IptablesLb implements LbImpl {
  readonly name: string;
  private node = "";
  private services: BenchService[] = [];
  private index = new Map<string, number>();
  private lastCleanup = 0;

  constructor(private readonly backend: "nft" | "legacy") {
    this.name = `iptables-${backend}`;
  }

  private ipt(tool: "" | "-save" | "-restore", args: readonly string[], input?: string) {
    const cmd = `iptables-${this.backend}${tool}`;
    return run("ip", ["netns", "exec", this.node, cmd, ...args], input);
  }

  async setup(topo: Topology): Promise<void> {
    this.node = topo.node.netns;
    await this.ipt("-restore", RESTORE_ARGS, jumpRules());
  }

  async reset(): Promise<void> {
    for (const table of ["nat", "filter"]) {
      await this.ipt("", ["-w", "-t", table, "-F"]);
      await this.ipt("", ["-w", "-t", table, "-X"]);
    }
    await this.ipt("-restore", RESTORE_ARGS, jumpRules());
    this.services = [];
    this.index.clear();
  }

  async program(services: readonly BenchService[]): Promise<Timing> {
    const t0 = performance.now();
    const stale = await this.staleChains(services, true);
    const t1 = performance.now();
    const text = fullSyncRules(services, KP);
    const t2 = performance.now();
    await this.ipt("-restore", RESTORE_ARGS, text);
    const t3 = performance.now();
    this.services = [...services];
    this.index = new Map(services.map((s, i) => [servicePortName(s), i]));
    const rules = text.split("\n-A ").length - 1;
    return {
      detail: {
        ...ms({ saveMs: t1 - t0, generateMs: t2 - t1, restoreMs: t3 - t2 }),
        rules,
        stale: stale.length,
        bytes: text.length,
      },
    };
  }

  async change(service: BenchService): Promise<Timing> {
    const i = this.index.get(servicePortName(service));
    if (i === undefined)
      throw new Error(`${this.name}: ${servicePortName(service)} is not programmed`);
    this.services[i] = service;
    const t0 = performance.now();
    const stale = await this.staleChains(this.services, false);
    const t1 = performance.now();
    const text = changeSyncRules(this.services, service, KP, stale);
    const t2 = performance.now();
    await this.ipt("-restore", RESTORE_ARGS, text);
    const t3 = performance.now();
    return {
      detail: {
        ...ms({ saveMs: t1 - t0, generateMs: t2 - t1, restoreMs: t3 - t2 }),
        stale: stale.length,
      },
    };
  }

  /** kube-proxy's stale-chain hunt: iptables-save, unless a large cluster cleaned up recently. */
  private async staleChains(services: readonly BenchService[], first: boolean): Promise<string[]> {
    const due = first || Date.now() - this.lastCleanup > SYNC_PERIOD_MS;
    if (isLargeCluster(services) && !due) return [];
    const active = activeServiceChains(services);
    const saved = savedChains(await this.ipt("-save", ["-t", "nat"]));
    this.lastCleanup = Date.now();
    return saved.filter((c) => isServiceChain(c) && !active.has(c));
  }

  /** Packets that went through the measured service's SVC → SEP jumps: one per NATed connection. */
  async describe(measured: BenchService): Promise<Record<string, unknown>> {
    const save = await this.ipt("-save", ["-c", "-t", "nat"]);
    const svc = serviceChainName(measured);
    let natEvaluations = 0;
    let natRules = 0;
    for (const line of save.split("\n")) {
      const m = /^\[(\d+):\d+\] -A (\S+) .*-j (\S+)/.exec(line);
      if (!m) continue;
      natRules++;
      if (m[2] === svc && m[3]!.startsWith("KUBE-SEP-")) natEvaluations += Number(m[1]);
    }
    const ctCount = Number(
      net.readSysctl("net/netfilter/nf_conntrack_count", { netns: `/run/netns/${this.node}` }),
    );
    const version = (await this.ipt("", ["--version"])).trim();
    return {
      natEvaluations,
      conntrackEntries: ctCount,
      version,
      natRules,
    };
  }

  async teardown(): Promise<void> {
    // The rules go with the node netns.
  }
}

const ms = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 100) / 100]));

// --- the client

interface ClientResult {
  connections: number;
  errors: number;
  errors_by: Record<string, number>;
  /** connections tried, warm-up included */
  attempts: number;
  seconds: number;
  rate: number;
  mean_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  backends: Record<string, number>;
}

let tool = "";

async function connrate(
  topo: Topology,
  vip: string,
  o: { seconds: number; warmup: number; concurrency: number },
): Promise<ClientResult> {
  const args = [
    ...["client", "--addr", vip, "--port", String(SERVICE_PORT)],
    ...["--seconds", String(o.seconds), "--warmup", String(o.warmup)],
    ...["--concurrency", String(o.concurrency), "--timeout-ms", String(P.timeoutMs)],
  ];
  // Into the cgroup first (the socket LB's attach point), then into the pod's netns.
  const script = `echo $$ > ${topo.clientCgroup}/cgroup.procs && exec ip netns exec ${topo.client.netns} ${[...pin(), tool, ...args].join(" ")}`;
  return JSON.parse(await run("sh", ["-c", script])) as ClientResult;
}

interface Probe {
  ok: boolean;
  expected: string[];
  backends: Record<string, number>;
  errors: number;
  attempts: number;
}

/** A short run that must reach exactly `expected` backends without errors. */
async function probe(topo: Topology, vip: string, expected: readonly string[]): Promise<Probe> {
  const r = await connrate(topo, vip, { seconds: 0.3, warmup: 0, concurrency: 1 });
  const seen = Object.keys(r.backends).sort();
  const ok = r.errors === 0 && seen.join() === [...expected].sort().join();
  return {
    ok,
    expected: [...expected],
    backends: r.backends,
    errors: r.errors,
    attempts: r.attempts,
  };
}

// --- one N: program, probe, rounds, change

interface Entry {
  impl: LbImpl;
  topo: Topology;
}

interface Cell {
  impl: string;
  services: number;
  /** position of the measured service in the service list (and KUBE-SERVICES) */
  measuredIndex: number;
  programMs: number[];
  programDetail: Timing["detail"];
  reachable: Probe;
  rounds: ClientResult[];
  /** connections the client tried from programming to describe(): the reachability probe and the rounds */
  attempts: number;
  describe?: Record<string, unknown>;
  changeVerify: Probe[];
  changeMs: number[];
  changeDetail: Timing["detail"];
}

async function programAll(
  e: Entry,
  services: readonly BenchService[],
): Promise<Pick<Cell, "programMs" | "programDetail">> {
  const samples: number[] = [];
  let detail: Timing["detail"];
  const start = performance.now();
  for (let k = 0; k < P.programRepeats; k++) {
    await e.impl.reset();
    const t0 = performance.now();
    detail = (await e.impl.program(services)).detail;
    samples.push(performance.now() - t0);
    if (performance.now() - start > P.programBudgetMs) break;
  }
  return { programMs: samples, programDetail: detail };
}

/** The measured service's change loop: {b1} and {b1, b2} alternately, each change timed. */
async function changeLatency(
  e: Entry,
  measured: BenchService,
): Promise<Pick<Cell, "changeVerify" | "changeMs" | "changeDetail">> {
  const vip = measured.clusterIP;
  const [b1, b2] = BACKEND_IPS;
  // First, that a change does take effect: b2 alone, then both again.
  await e.impl.change(withBackends(measured, [b2]));
  const only = await probe(e.topo, vip, [b2]);
  await e.impl.change(measured);
  const both = await probe(e.topo, vip, BACKEND_IPS);
  const samples: number[] = [];
  let detail: Timing["detail"];
  const start = performance.now();
  for (let i = 0; i < P.changes; i++) {
    const next = i % 2 === 0 ? withBackends(measured, [b1]) : measured;
    const t0 = performance.now();
    detail = (await e.impl.change(next)).detail;
    samples.push(performance.now() - t0);
    if (i % 2 === 1 && performance.now() - start > P.changeBudgetMs) break;
  }
  if (samples.length % 2 === 1) await e.impl.change(measured);
  return { changeVerify: [only, both], changeMs: samples, changeDetail: detail };
}

async function measureSize(entries: Entry[], n: number): Promise<Cell[]> {
  const { services, measured } = buildServices(n);
  const svc = services[measured]!;
  const cells = new Map<string, Cell>();
  for (const e of entries) {
    log(`N=${n} ${e.impl.name}: programming`);
    const prog = await programAll(e, services);
    const reachable = await probe(e.topo, svc.clusterIP, BACKEND_IPS);
    log(
      `N=${n} ${e.impl.name}: programmed in ${prog.programMs.map(Math.round).join(", ")} ms; probe ${reachable.ok ? "ok" : `FAILED ${JSON.stringify(reachable)}`}`,
    );
    cells.set(e.impl.name, {
      impl: e.impl.name,
      services: n,
      measuredIndex: measured,
      ...prog,
      reachable,
      rounds: [],
      attempts: reachable.attempts,
      changeVerify: [],
      changeMs: [],
      changeDetail: undefined,
    });
  }
  const o = { seconds: P.seconds, warmup: P.warmup, concurrency: P.concurrency };
  for (let r = 0; r < P.rounds; r++) {
    const k = r % entries.length;
    for (const e of [...entries.slice(k), ...entries.slice(0, k)]) {
      const x = await connrate(e.topo, svc.clusterIP, o);
      const cell = cells.get(e.impl.name)!;
      cell.rounds.push(x);
      cell.attempts += x.attempts;
      verbose(
        `N=${n} round ${r + 1}/${P.rounds} ${e.impl.name}: ${Math.round(x.rate)} conn/s, p50 ${x.p50_us} µs, p99 ${x.p99_us} µs, errors ${x.errors}, ${JSON.stringify(x.backends)}`,
      );
    }
  }
  for (const e of entries) {
    const cell = cells.get(e.impl.name)!;
    if (e.impl.describe) cell.describe = await e.impl.describe(svc);
    log(`N=${n} ${e.impl.name}: change latency`);
    Object.assign(cell, await changeLatency(e, svc));
  }
  return [...cells.values()];
}

// --- summary and report

const round2 = (x: number) => Math.round(x * 100) / 100;

interface Summary {
  impl: string;
  services: number;
  /** connections/s, median over rounds */
  rate: number;
  /** medians over rounds of each round's p50 and p99, µs */
  p50us: number;
  p99us: number;
  connections: number;
  errors: number;
  /** b1's share of the replies over all rounds: 0.5 is an even split */
  b1Share: number;
  programMs: number;
  programRuns: number;
  changeP50Ms: number;
  changeP99Ms: number;
  changeCount: number;
  /** the probes after programming and around a change all passed */
  checksOk: boolean;
  /** iptables: connections NATed by the measured service's rules / connections tried (1.0: every one evaluated) */
  natPerAttempt?: number;
}

function summarize(c: Cell): Summary {
  const replies = (ip: string) => c.rounds.reduce((a, r) => a + (r.backends[ip] ?? 0), 0);
  const [b1, b2] = BACKEND_IPS.map(replies) as [number, number];
  const sorted = [...c.changeMs].sort((a, b) => a - b);
  return {
    impl: c.impl,
    services: c.services,
    rate: Math.round(median(c.rounds.map((r) => r.rate))),
    p50us: round2(median(c.rounds.map((r) => r.p50_us))),
    p99us: round2(median(c.rounds.map((r) => r.p99_us))),
    connections: c.rounds.reduce((a, r) => a + r.connections, 0),
    errors: c.rounds.reduce((a, r) => a + r.errors, 0),
    b1Share: round2(b1 / Math.max(1, b1 + b2)),
    programMs: round2(median(c.programMs)),
    programRuns: c.programMs.length,
    changeP50Ms: round2(percentile(sorted, 50)),
    changeP99Ms: round2(percentile(sorted, 99)),
    changeCount: c.changeMs.length,
    checksOk: c.reachable.ok && c.changeVerify.every((p) => p.ok),
    ...(typeof c.describe?.natEvaluations === "number"
      ? { natPerAttempt: round2(c.describe.natEvaluations / Math.max(1, c.attempts)) }
      : {}),
  };
}

/** Median over rounds of a's rate / b's rate in the same round: both saw the same load. */
function pairedRatio(a: Cell, b: Cell): number {
  const n = Math.min(a.rounds.length, b.rounds.length);
  return round2(median(a.rounds.slice(0, n).map((r, i) => r.rate / b.rounds[i]!.rate)));
}

interface Ratio {
  impl: string;
  services: number;
  /** rate at N / rate at the smallest N */
  vsSmallest?: number;
  /** paired ratio to each iptables backend at the same N */
  vsIptables: Record<string, number>;
}

function ratios(cells: Cell[], sums: Summary[]): Ratio[] {
  const smallest = Math.min(...P.sizes);
  const rate = (impl: string, n: number) =>
    sums.find((s) => s.impl === impl && s.services === n)?.rate;
  return cells.map((c) => {
    const base = rate(c.impl, smallest);
    const vsIptables: Record<string, number> = {};
    for (const ipt of cells.filter((x) => IPTABLES.includes(x.impl) && x.services === c.services)) {
      if (ipt.impl !== c.impl) vsIptables[ipt.impl] = pairedRatio(c, ipt);
    }
    const own = rate(c.impl, c.services)!;
    return {
      impl: c.impl,
      services: c.services,
      vsSmallest: base ? round2(own / base) : undefined,
      vsIptables,
    };
  });
}

interface Target {
  rule: string;
  value: string;
  met: boolean;
}

/** Issue 4's targets, for each Fairway implementation measured. */
function targets(sums: Summary[], rs: Ratio[]): Target[] {
  const out: Target[] = [];
  const fairway = [...new Set(sums.map((s) => s.impl))].filter((i) => !IPTABLES.includes(i));
  const at = <T extends { impl: string; services: number }>(xs: T[], impl: string, n: number) =>
    xs.find((x) => x.impl === impl && x.services === n);
  for (const f of fairway) {
    const r10k = at(rs, f, 10_000);
    if (r10k?.vsSmallest !== undefined && P.sizes.includes(1)) {
      out.push({
        rule: `${f}: rate at 10,000 >= 0.95x rate at 1`,
        value: `${r10k.vsSmallest}x`,
        met: r10k.vsSmallest >= 0.95,
      });
    }
    for (const [n, min] of [
      [5000, 2],
      [1, 1.3],
    ] as const) {
      for (const [ipt, v] of Object.entries(at(rs, f, n)?.vsIptables ?? {})) {
        out.push({ rule: `${f}: >= ${min}x ${ipt} at ${n}`, value: `${v}x`, met: v >= min });
      }
    }
    const p10k = at(sums, f, 10_000);
    if (p10k)
      out.push({
        rule: `${f}: all 10,000 programmed < 1 s`,
        value: `${p10k.programMs} ms`,
        met: p10k.programMs < 1000,
      });
    const worst = Math.max(...sums.filter((s) => s.impl === f).map((s) => s.changeP99Ms));
    out.push({
      rule: `${f}: one change in effect < 10 ms p99 (worst N)`,
      value: `${worst} ms`,
      met: worst < 10,
    });
  }
  return out;
}

function report(sums: Summary[], rs: Ratio[]): string {
  const rows = sums.map((s) => {
    const r = rs.find((x) => x.impl === s.impl && x.services === s.services)!;
    return [
      s.impl,
      s.services.toLocaleString("en-US"),
      s.rate.toLocaleString("en-US"),
      r.vsSmallest === undefined ? "" : `${r.vsSmallest.toFixed(2)}x`,
      s.p50us,
      s.p99us,
      s.errors,
      s.b1Share.toFixed(2),
      `${Math.round(s.programMs).toLocaleString("en-US")} (${s.programRuns})`,
      `${s.changeP50Ms} / ${s.changeP99Ms} (${s.changeCount})`,
      Object.entries(r.vsIptables)
        .map(([k, v]) => `${v.toFixed(2)}x ${k.replace("iptables-", "")}`)
        .join(", "),
      s.checksOk ? "ok" : "FAILED",
    ];
  });
  const headers = [
    "impl",
    "services",
    "conn/s",
    "vs smallest N",
    "p50 µs",
    "p99 µs",
    "errors",
    "b1 share",
    "program ms (runs)",
    "change p50 / p99 ms (n)",
    "vs iptables",
    "checks",
  ];
  return table(headers, rows);
}

function plot(sums: Summary[]): string[] {
  const names = [...new Set(sums.map((s) => s.impl))];
  const series = (value: (s: Summary) => number) =>
    names.map((impl) => ({
      label: impl,
      values: P.sizes.map((n) => {
        const s = sums.find((x) => x.impl === impl && x.services === n);
        return s ? value(s) : null;
      }),
      highlight: !IPTABLES.includes(impl),
    }));
  const base = join(benchRoot, "results/services");
  return writeLineChart(
    base,
    "one ClusterIP among N services, pod to pod on one node; bench/services.ts",
    [
      {
        title: "New connections through a ClusterIP",
        unit: "connections/s",
        xLabel: "services",
        x: P.sizes,
        series: series((s) => s.rate),
      },
      {
        title: "Connect + request latency p99",
        unit: "µs",
        xLabel: "services",
        x: P.sizes,
        series: series((s) => s.p99us),
      },
    ],
  );
}

/** Which iptables ran, and whether the rules NATed every connection the client tried. */
function iptablesNotes(cells: Cell[], sums: Summary[]): string {
  const versions = new Set(
    cells.flatMap((c) => (typeof c.describe?.version === "string" ? [c.describe.version] : [])),
  );
  const nat = sums
    .filter((s) => s.natPerAttempt !== undefined)
    .map((s) => `${s.impl}@${s.services} ${s.natPerAttempt}`);
  if (nat.length === 0) return "";
  return (
    `\n${[...versions].join(", ")}. Connections NATed by the measured service's KUBE-SVC rules / connections tried ` +
    `(1 = each new connection went through the rules, none rode an old conntrack entry): ${nat.join(", ")}.`
  );
}

// --- main

const IMPLS: Record<string, () => LbImpl> = {
  "fairway-sock": () => new FairwaySockLb(),
  "fairway-tc": () => new FairwayTcLb(),
  "iptables-nft": () => new IptablesLb("nft"),
  "iptables-legacy": () => new IptablesLb("legacy"),
};

/** Every problem with the options at once. */
function paramProblems(): string[] {
  const out: string[] = [];
  const unknown = P.impls.filter((i) => !IMPLS[i]);
  if (unknown.length > 0) {
    out.push(
      `--impl: unknown ${unknown.join(", ")} (known: ${Object.keys(IMPLS).join(", ")}, iptables)`,
    );
  }
  if (new Set(P.impls).size !== P.impls.length)
    out.push("--impl: an implementation is named twice");
  for (const n of P.sizes) {
    if (!Number.isInteger(n) || n < 1 || n > 32_000)
      out.push(`--services: ${n} is not an integer in 1..32000`);
  }
  const positive = {
    rounds: P.rounds,
    seconds: P.seconds,
    concurrency: P.concurrency,
    changes: P.changes,
    "program-repeats": P.programRepeats,
    "timeout-ms": P.timeoutMs,
  };
  for (const [k, v] of Object.entries(positive)) {
    if (!(v > 0)) out.push(`--${k}: must be a positive number, got ${v}`);
  }
  for (const [k, v] of Object.entries({
    warmup: P.warmup,
    "change-budget": P.changeBudgetMs,
    "program-budget": P.programBudgetMs,
  })) {
    if (!(v >= 0)) out.push(`--${k}: must be a number >= 0, got ${v}`);
  }
  if (P.cpu !== "all" && !/^\d+([-,]\d+)*$/.test(P.cpu))
    out.push(`--cpu: "${P.cpu}" is not a CPU list or "all"`);
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error("bench/services.ts needs root (namespaces, iptables, BPF)");
  const problems = paramProblems();
  if (problems.length > 0) throw new Error(`bench/services.ts: ${problems.join("; ")}`);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      interrupted = true;
      void cleanup().finally(() => process.exit(130));
    });
  }
  const loadAtStart = loadavg().map(round2);
  const cells: Cell[] = [];
  try {
    mkdirSync(join(benchRoot, "results"), { recursive: true });
    tool = buildTool("connrate", ["-pthread"]);
    const entries: Entry[] = [];
    for (const [i, name] of P.impls.entries()) {
      const impl = IMPLS[name]!();
      impls.push(impl);
      const topo = await topology(i, tool);
      log(`${name}: setup`);
      await impl.setup(topo);
      entries.push({ impl, topo });
    }
    for (const n of P.sizes) cells.push(...(await measureSize(entries, n)));
  } finally {
    await cleanup();
  }
  const sums = cells.map(summarize);
  const rs = ratios(cells, sums);
  const ts = targets(sums, rs);
  const path = writeResult("services", {
    params: P,
    loadavg: [loadAtStart, loadavg().map(round2)],
    layout: {
      measuredService:
        "index floor(N/2) of N in the service list and in KUBE-SERVICES (kube-proxy writes services in Go map order; the middle is the expected position)",
      iptablesSync:
        "program: kube-proxy's full sync (iptables-save -t nat for stale chains, then iptables-restore of filter + nat); change: partial sync (KUBE-SERVICES in full + the changed service's chains, --noflush), iptables-save first below 1,000 endpoints or once per 30 s sync period",
    },
    summaries: sums,
    ratios: rs,
    targets: ts,
    cells,
  });
  const charts = plot(sums);
  console.log(report(sums, rs));
  console.log("");
  for (const t of ts) console.log(`- ${t.met ? "met" : "NOT met"}: ${t.rule} (${t.value})`);
  console.log(iptablesNotes(cells, sums));
  console.log(
    `\nRates and latencies: medians of ${P.rounds} interleaved rounds of ${P.seconds} s (after ${P.warmup} s warm-up), ` +
      `concurrency ${P.concurrency}, client and servers on CPU ${P.cpu} of ${cpus().length}; "vs iptables" is the median of same-round ratios. ` +
      `The measured service is number floor(N/2) of N, the middle of KUBE-SERVICES. b1 share: b1's replies / all (0.5 = even). ` +
      `Program: median of runs from scratch; change: the measured service between {b1} and {b1, b2}, n changes. ` +
      `checks: both backends answer after programming, and a change to {b2} alone takes effect. ` +
      `JSON: ${path}; plot: ${charts.join(", ")}`,
  );
}

await main().catch(async (err) => {
  // Interrupted: the runs it killed failed; that is no news.
  if (!interrupted) throw err;
  await cleanup();
  process.exit(130);
});
