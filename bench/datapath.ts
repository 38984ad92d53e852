// Pod-to-pod on one node: what the datapath costs a request/response and a bulk
// transfer, four ways side by side in one run:
//
//   veth-pair       two namespaces joined by a bare veth pair: no node at all,
//                   the ceiling every pod datapath is measured against;
//   bridge          the reference `bridge` CNI plugin's setup: a Linux bridge in
//                   the node namespace (gateway IP on it), both pods' veths
//                   enslaved, pods in one /24 (br_netfilter as the kernel has it);
//   fairway-legacy  Fairway's plumbing (plumbPod) with the programs in
//                   veth-legacy mode: the host routing table forwards;
//   fairway-veth    the same plumbing in veth mode: bpf_redirect_peer.
//
// Request/response: bench/tools/tcp_rr.c (compiled here with gcc), one 1-byte
// transaction in flight over one TCP connection, like netperf TCP_RR: its
// rate is 1/RTT, and Node's own overhead would hide the differences.
// Throughput: iperf3, one stream. Client and server are pinned to the same
// CPU (--cpu, default the last one): the whole transaction then runs on one
// CPU and the rate measures the datapath's CPU cost per packet. Pinned apart,
// a small VM measures its cross-CPU wakeups instead (on the 2-vCPU VM this
// was written on: 4.5k trans/s with a 4 ms p99, against 45k and 0.1 ms).
// Rounds interleave the configurations (order rotated each round): many short
// TCP_RR rounds, a few iperf3 rounds. The table reports medians over rounds;
// a ratio to the ceiling is the median of same-round ratios, because on a
// shared machine two runs seconds apart see the same background load and two
// runs a minute apart do not.
//
//   node --import tsx bench/datapath.ts [--rr-rounds 40] [--rr-seconds 0.5]
//        [--tput-rounds 5] [--tput-seconds 3] [--bytes 1] [--cpu N]   (BENCH_VERBOSE=1: every round)
//
// Root only. Writes bench/results/datapath.json and prints a markdown table.
// Everything is named fwbd* and removed at the end, also on failure or Ctrl-C.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as net from "../src/datapath/net/index.ts";
import { plumbPod, VethDatapath, type VethMode } from "../src/datapath/veth/index.ts";
import { writeBarChart } from "./lib/plot.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RR_PORT = 9000;
const IPERF_PORT = 9001;
let cpu = String(cpus().length - 1);
// Not "fwt": the test suite's leftover check removes those, even while a bench runs.
const tag = `fwbd${process.pid.toString(36)}`;

interface Setup {
  name: string;
  client: string; // netns name
  server: string;
  serverIp: string;
}

// --- resources, released at the end whatever happens

const namespaces: string[] = [];
const pinDirs: string[] = [];
const processes: ChildProcess[] = [];
const datapaths: VethDatapath[] = [];

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${e.stderr?.trim() || e.message}`);
  }
}

function netns(suffix: string): string {
  const name = `${tag}${suffix}`;
  sh("ip", ["netns", "add", name]);
  namespaces.push(name);
  sh("ip", ["-n", name, "link", "set", "lo", "up"]);
  return name;
}

function cleanup(): void {
  for (const p of processes) p.kill("SIGKILL");
  for (const d of datapaths) d.close();
  net.closeNetlinkSockets();
  for (const n of namespaces) {
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
  for (const d of pinDirs) rmSync(d, { recursive: true, force: true });
}

// --- the four configurations

/** `ip -n <ns> <words...>`; the command is one string of space-separated words. */
const ipn = (ns: string, cmd: string) => sh("ip", ["-n", ns, ...cmd.split(" ")]);

function vethPair(): Setup {
  const [a, b] = [netns("c1"), netns("c2")];
  ipn(a, `link add eth0 type veth peer name eth0 netns ${b}`);
  ipn(a, "addr add 10.250.0.1/24 dev eth0");
  ipn(b, "addr add 10.250.0.2/24 dev eth0");
  ipn(a, "link set eth0 up");
  ipn(b, "link set eth0 up");
  return { name: "veth-pair", client: a, server: b, serverIp: "10.250.0.2" };
}

function bridge(): Setup {
  const node = netns("bn");
  sh("ip", ["netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  ipn(node, "link add br0 type bridge");
  ipn(node, "addr add 10.251.0.1/24 dev br0");
  ipn(node, "link set br0 up");
  const pods = ["b1", "b2"].map((s, i) => {
    const pod = netns(s);
    ipn(node, `link add veth${s} type veth peer name eth0 netns ${pod}`);
    ipn(node, `link set veth${s} master br0 up`);
    ipn(pod, `addr add 10.251.0.${i + 2}/24 dev eth0`);
    ipn(pod, "link set eth0 up");
    ipn(pod, "route add default via 10.251.0.1");
    return pod;
  });
  return { name: "bridge", client: pods[0]!, server: pods[1]!, serverIp: "10.251.0.3" };
}

async function fairway(mode: VethMode, subnet: number): Promise<Setup> {
  const suffix = mode === "veth" ? "v" : "l";
  const node = netns(`${suffix}n`);
  const nodePath = `/run/netns/${node}`;
  const pinRoot = `/sys/fs/bpf/${tag}${suffix}`;
  pinDirs.push(pinRoot);
  const dp = VethDatapath.load({ mode, pinRoot, netns: nodePath });
  datapaths.push(dp);
  const pods: string[] = [];
  for (const [i, s] of ["1", "2"].entries()) {
    const pod = netns(`${suffix}${s}`);
    const p = await plumbPod(
      {
        netnsPath: `/run/netns/${pod}`,
        hostIfname: `${tag}${suffix}${s}`,
        podIps: [`10.${subnet}.0.${i + 2}`],
      },
      { netns: nodePath },
    );
    dp.attachEndpoint({
      endpointId: i + 1,
      hostIfindex: p.hostIfindex,
      podIps: p.podIps,
      podMac: p.podMac,
      hostMac: p.hostMac,
    });
    pods.push(pod);
  }
  return {
    name: `fairway-${mode === "veth" ? "veth" : "legacy"}`,
    client: pods[0]!,
    server: pods[1]!,
    serverIp: `10.${subnet}.0.3`,
  };
}

// --- measurement

function compileRr(): string {
  const out = join(ROOT, "build/bench/tcp_rr");
  mkdirSync(dirname(out), { recursive: true });
  sh("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", out, join(ROOT, "bench/tools/tcp_rr.c")]);
  return out;
}

function startServers(s: Setup, rr: string): void {
  const pin = ["netns", "exec", s.server, "taskset", "-c", cpu];
  for (const args of [
    [...pin, rr, "server", String(RR_PORT)],
    [...pin, "iperf3", "-s", "-p", String(IPERF_PORT)],
  ]) {
    processes.push(spawn("ip", args, { stdio: "ignore" }));
  }
}

async function waitListening(s: Setup): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = sh("ip", ["netns", "exec", s.server, "ss", "-Hltn"]);
    if (out.includes(`:${RR_PORT}`) && out.includes(`:${IPERF_PORT}`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${s.name}: servers did not start listening`);
}

function clientCmd(s: Setup, args: string[]): string {
  return sh("ip", ["netns", "exec", s.client, "taskset", "-c", cpu, ...args]);
}

interface RrSample {
  rate: number;
  p50: number;
  p99: number;
}

function measureRr(s: Setup, rr: string, seconds: number, bytes: number): RrSample {
  const args = [rr, "client", s.serverIp, String(RR_PORT), String(seconds), String(bytes)];
  const r = JSON.parse(clientCmd(s, args)) as { rate: number; p50_us: number; p99_us: number };
  return { rate: r.rate, p50: r.p50_us, p99: r.p99_us };
}

function measureGbps(s: Setup, seconds: number): number {
  const iperf = ["iperf3", "-c", s.serverIp, "-p", String(IPERF_PORT), "-t", String(seconds)];
  const r = JSON.parse(clientCmd(s, [...iperf, "-J"])) as {
    end: { sum_received: { bits_per_second: number } };
  };
  return r.end.sum_received.bits_per_second / 1e9;
}

/**
 * Runs `fn` for every setup, `rounds` times, the order rotated each round, and
 * returns the samples per setup in round order (samples[setup][round]).
 */
function interleave<T>(
  setups: Setup[],
  rounds: number,
  fn: (s: Setup) => T,
  log: (s: Setup, x: T) => string,
): Map<string, T[]> {
  const out = new Map<string, T[]>(setups.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const k = r % setups.length;
    for (const s of [...setups.slice(k), ...setups.slice(0, k)]) {
      const x = fn(s);
      out.get(s.name)!.push(x);
      if (process.env.BENCH_VERBOSE)
        console.error(`round ${r + 1}/${rounds} ${s.name}: ${log(s, x)}`);
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Median over rounds of value/ceiling in the same round: both saw the same background load. */
function pairedRatio(xs: number[], ceiling: number[]): number {
  return round2(median(xs.map((x, i) => x / ceiling[i]!)));
}

interface Summary {
  name: string;
  /** TCP_RR transactions/s, median over rounds */
  rrRate: number;
  /** median over rounds of this setup's rate / the ceiling's rate in the same round */
  rrVsCeiling: number;
  p50us: number;
  p99us: number;
  gbps: number;
  gbpsVsCeiling: number;
  rr: RrSample[];
  gbpsSamples: number[];
}

function summarize(
  name: string,
  rr: RrSample[],
  gbps: number[],
  ceiling: { rr: RrSample[]; gbps: number[] },
): Summary {
  return {
    name,
    rrRate: Math.round(median(rr.map((x) => x.rate))),
    rrVsCeiling: pairedRatio(
      rr.map((x) => x.rate),
      ceiling.rr.map((x) => x.rate),
    ),
    p50us: round2(median(rr.map((x) => x.p50))),
    p99us: round2(median(rr.map((x) => x.p99))),
    gbps: round2(median(gbps)),
    gbpsVsCeiling: pairedRatio(gbps, ceiling.gbps),
    rr,
    gbpsSamples: gbps.map(round2),
  };
}

function table(rows: Summary[]): string {
  const out = [
    "| setup | TCP_RR trans/s | vs ceiling | p50 µs | p99 µs | iperf3 Gbit/s | vs ceiling |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    out.push(
      `| ${r.name} | ${r.rrRate} | ${r.rrVsCeiling.toFixed(2)}x | ${r.p50us} | ${r.p99us} | ${r.gbps} | ${r.gbpsVsCeiling.toFixed(2)}x |`,
    );
  }
  return out.join("\n");
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench/datapath.ts needs root (namespaces, BPF)");
  const { values } = parseArgs({
    options: {
      "rr-rounds": { type: "string", default: "40" },
      "rr-seconds": { type: "string", default: "0.5" },
      "tput-rounds": { type: "string", default: "5" },
      "tput-seconds": { type: "string", default: "3" },
      bytes: { type: "string", default: "1" },
      cpu: { type: "string" },
    },
  });
  const rrRounds = Number(values["rr-rounds"]);
  const rrSeconds = Number(values["rr-seconds"]);
  const tputRounds = Number(values["tput-rounds"]);
  const tputSeconds = Number(values["tput-seconds"]);
  const bytes = Number(values.bytes);
  if (values.cpu !== undefined) cpu = values.cpu;
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  const loadAtStart = loadavg().map(round2);
  let summaries: Summary[];
  try {
    const rr = compileRr();
    const setups = [
      vethPair(),
      bridge(),
      await fairway("veth-legacy", 252),
      await fairway("veth", 253),
    ];
    for (const s of setups) startServers(s, rr);
    for (const s of setups) await waitListening(s);
    for (const s of setups) measureRr(s, rr, 1, bytes); // warm-up: caches, neighbours
    const rrs = interleave(
      setups,
      rrRounds,
      (s) => measureRr(s, rr, rrSeconds, bytes),
      (_, x) => `${Math.round(x.rate)} trans/s, p50 ${x.p50} µs`,
    );
    const tput = interleave(
      setups,
      tputRounds,
      (s) => measureGbps(s, tputSeconds),
      (_, x) => `${round2(x)} Gbit/s`,
    );
    const ceiling = { rr: rrs.get("veth-pair")!, gbps: tput.get("veth-pair")! };
    summaries = setups.map((s) => summarize(s.name, rrs.get(s.name)!, tput.get(s.name)!, ceiling));
  } finally {
    cleanup();
  }
  const by = (n: string) => summaries.find((s) => s.name === n)!;
  const veth = by("fairway-veth");
  const target = {
    rule: "fairway-veth TCP_RR >= 0.9x the veth-pair ceiling, and ahead of bridge and fairway-legacy",
    met:
      veth.rrVsCeiling >= 0.9 &&
      veth.rrRate > by("bridge").rrRate &&
      veth.rrRate > by("fairway-legacy").rrRate,
  };
  const env = {
    kernel: sh("uname", ["-r"]).trim(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "",
    iperf3: sh("iperf3", ["--version"]).split("\n")[0]!.trim(),
    /** Bridged traffic goes through netfilter's hooks when this is 1 (br_netfilter). */
    bridgeNfCallIptables: sh("cat", ["/proc/sys/net/bridge/bridge-nf-call-iptables"]).trim(),
    loadavg: [loadAtStart, loadavg().map(round2)],
  };
  const out = join(ROOT, "bench/results/datapath.json");
  mkdirSync(dirname(out), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    env,
    params: { rrRounds, rrSeconds, tputRounds, tputSeconds, bytes, cpu },
    results: summaries,
    target,
  };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  const charts = plot(summaries, dirname(out));
  console.log(table(summaries));
  console.log(`plot: ${charts.join(", ")}`);
  console.log(
    `\nTCP_RR (${bytes} byte): medians of ${rrRounds} interleaved rounds of ${rrSeconds} s; ` +
      `iperf3: ${tputRounds} rounds of ${tputSeconds} s; ratios are medians of same-round ratios; ` +
      `client and server on CPU ${cpu} of ${env.cpus}; ${env.kernel}. Target (${target.rule}): ${target.met ? "met" : "NOT met"}. JSON: ${out}`,
  );
}

/** Ratio to the ceiling, p50 latency and throughput side by side (PNG via rsvg-convert). */
function plot(
  summaries: { name: string; rrVsCeiling: number; p50us: number; gbps: number }[],
  dir: string,
): string[] {
  const label: Record<string, string> = {
    "veth-pair": "veth pair",
    bridge: "bridge",
    "fairway-legacy": "veth-legacy",
    "fairway-veth": "Fairway veth",
  };
  const bars = (value: (s: (typeof summaries)[number]) => number) =>
    summaries.map((s) => ({
      label: label[s.name] ?? s.name,
      value: value(s),
      highlight: s.name === "fairway-veth",
    }));
  return writeBarChart(join(dir, "datapath"), "pod-to-pod, same node; bench/datapath.ts", [
    {
      title: "TCP_RR vs bare veth pair",
      unit: "ratio to ceiling",
      bars: bars((s) => s.rrVsCeiling),
      reference: { value: 0.9, label: "target 0.9x" },
    },
    { title: "TCP_RR latency p50", unit: "µs", bars: bars((s) => s.p50us) },
    { title: "iperf3 throughput", unit: "Gbit/s", bars: bars((s) => s.gbps) },
  ]);
}

await main();
