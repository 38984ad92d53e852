// Ring-buffer drain rate: events produced in the kernel (bench_ringbuf_produce
// run through BPF_PROG_TEST_RUN at a paced, offered rate) and drained into
// JavaScript by Fairway's batched consumer, side by side with a plain libbpf
// consumer in C (the ceiling), in one run. Reports delivered events/s, losses
// (failed reservations + per-CPU sequence gaps) and JS calls per event.
//   node --import tsx bench/ringbuf.ts [--seconds 3] [--rates 250000,500000,1000000,2000000]
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { config, maps } from "../src/datapath/generated/bench.ts";
import {
  BpfMap,
  BpfObject,
  encodeGlobals,
  RingBuffer,
  testRunAsync,
} from "../src/datapath/index.ts";
import { buildTool, fmt, repoRoot, table, writeResult } from "./lib/report.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rates: { type: "string", default: "250000,500000,1000000,2000000,4000000" },
  },
});
const seconds = Number(args.seconds);
const rates = args.rates.split(",").map(Number);
const EVENTS_PER_RUN = 64;
const RING_BYTES = 64 << 20;

interface Sample {
  consumer: "fairway-js" | "libbpf-c";
  offered: number;
  produced: number;
  received: number;
  reserveFailures: number;
  gaps: number;
  deliveredPerSec: number;
  jsCalls?: number;
}

function loadBench(pinDir: string): BpfObject {
  return BpfObject.load(join(repoRoot, "build/bpf/bench.o"), {
    globals: encodeGlobals(config, { cfg_events_per_run: EVENTS_PER_RUN }),
    maxEntries: { bench_events: RING_BYTES, bench_hash: 1024 },
    pinPaths: { bench_events: join(pinDir, "bench_events") },
  });
}

/** Runs the producer at `rate` events/s for `seconds`; returns program runs made. */
async function produce(obj: BpfObject, rate: number): Promise<number> {
  const prog = obj.program("bench_ringbuf_produce");
  const data = Buffer.alloc(64);
  data.writeUInt16BE(0x0800, 12);
  const runsPerMs = rate / EVENTS_PER_RUN / 1000;
  const start = performance.now();
  let runs = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= seconds * 1000) return runs;
    const due = Math.floor(elapsed * runsPerMs) - runs;
    if (due <= 0) {
      await sleep(1);
      continue;
    }
    // Cap one call so pacing stays smooth (~1 ms of work at most).
    const repeat = Math.min(due, 256);
    await testRunAsync(prog, { data, repeat });
    runs += repeat;
  }
}

function lost(obj: BpfObject): number {
  return Number(BpfMap.of(obj.map("bench_lost"), maps.bench_lost).lookup(0) ?? 0n);
}

async function runFairway(obj: BpfObject, rate: number): Promise<Sample> {
  const nextSeq = new Map<number, number>();
  let received = 0;
  let gaps = 0;
  let jsCalls = 0;
  const ring = RingBuffer.open(obj.map("bench_events"), (batch) => {
    jsCalls++;
    batch.forEachOffset((buf, off) => {
      // bench_event: seq (u64) at 16, cpu (u32) at 24; seq stays below 2^32 here.
      const seq = buf.readUInt32LE(off + 16);
      const cpu = buf.readUInt32LE(off + 24);
      const want = nextSeq.get(cpu);
      if (want !== undefined && seq !== want) gaps++;
      nextSeq.set(cpu, seq + 1);
      received++;
    });
  });
  const start = performance.now();
  const runs = await produce(obj, rate);
  const produced = runs * EVENTS_PER_RUN;
  for (let i = 0; i < 200 && received + lost(obj) < produced; i++) await sleep(5);
  const elapsed = (performance.now() - start) / 1000;
  ring.close();
  const reserveFailures = lost(obj);
  return {
    consumer: "fairway-js",
    offered: rate,
    produced,
    received,
    reserveFailures,
    gaps,
    deliveredPerSec: received / elapsed,
    jsCalls,
  };
}

async function runC(obj: BpfObject, rate: number, tool: string, ringPath: string): Promise<Sample> {
  const child = spawn(tool, [ringPath], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  while (!out.includes("ready")) await sleep(5);
  const start = performance.now();
  const runs = await produce(obj, rate);
  const produced = runs * EVENTS_PER_RUN;
  await sleep(200);
  const elapsed = (performance.now() - start) / 1000;
  const done = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  await done;
  const result = JSON.parse(out.split("\n").find((l) => l.startsWith("{")) ?? "{}") as {
    received: number;
    gaps: number;
  };
  return {
    consumer: "libbpf-c",
    offered: rate,
    produced,
    received: result.received,
    reserveFailures: lost(obj),
    gaps: result.gaps,
    deliveredPerSec: result.received / elapsed,
  };
}

async function main(): Promise<void> {
  const tool = buildTool("ringbuf_drain", ["-lbpf"]);
  const pinDir = `/sys/fs/bpf/fairway-bench-${process.pid}`;
  mkdirSync(pinDir, { recursive: true });
  const samples: Sample[] = [];
  try {
    for (const rate of rates) {
      for (const consumer of ["fairway-js", "libbpf-c"] as const) {
        const obj = loadBench(pinDir);
        try {
          const s =
            consumer === "fairway-js"
              ? await runFairway(obj, rate)
              : await runC(obj, rate, tool, join(pinDir, "bench_events"));
          samples.push(s);
          console.error(
            `${consumer} offered ${fmt(rate)}/s: delivered ${fmt(s.deliveredPerSec)}/s, lost ${s.reserveFailures}, gaps ${s.gaps}`,
          );
        } finally {
          obj.close();
          rmSync(join(pinDir, "bench_events"), { force: true });
        }
      }
    }
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
  const zeroLoss = (c: Sample["consumer"]) =>
    Math.max(
      0,
      ...samples
        .filter(
          (s) =>
            s.consumer === c &&
            s.reserveFailures === 0 &&
            s.gaps === 0 &&
            s.received === s.produced,
        )
        .map((s) => s.offered),
    );
  const rows = samples.map((s) => [
    s.consumer,
    fmt(s.offered),
    fmt(s.produced),
    fmt(s.received),
    fmt(s.reserveFailures + s.gaps),
    fmt(s.deliveredPerSec),
    s.jsCalls === undefined ? "-" : fmt(s.received / Math.max(1, s.jsCalls), 0),
  ]);
  const fw = zeroLoss("fairway-js");
  const c = zeroLoss("libbpf-c");
  const path = writeResult("ringbuf", {
    seconds,
    eventsPerRun: EVENTS_PER_RUN,
    samples,
    zeroLossMax: { fairwayJs: fw, libbpfC: c },
  });
  console.log(
    table(
      [
        "consumer",
        "offered ev/s",
        "produced",
        "received",
        "lost",
        "delivered ev/s",
        "events per JS call",
      ],
      rows,
    ),
  );
  console.log(
    `\nhighest offered rate with zero loss: Fairway JS ${fmt(fw)}/s, libbpf C ${fmt(c)}/s (ratio ${(fw / Math.max(1, c)).toFixed(2)})`,
  );
  console.log(`results: ${path}`);
}

await main();
