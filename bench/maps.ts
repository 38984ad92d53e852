// Map update throughput: single updates (typed BpfMap.update and the raw
// binding), batched updates (BPF_MAP_UPDATE_BATCH through BpfMap.updateBatch),
// and bpftool's batch mode (a C tool doing one syscall per update) as the peer.
// Rounds are interleaved; medians and ratios are reported.
//   node --import tsx bench/maps.ts [--entries 100000] [--rounds 3]
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type BenchHashValue, maps } from "../src/datapath/generated/bench.ts";
import { BpfMap, BpfObject } from "../src/datapath/index.ts";
import { loadNative } from "../src/datapath/native/binding.ts";
import { fmt, median, repoRoot, table, writeResult } from "./lib/report.ts";

const { values: args } = parseArgs({
  options: {
    entries: { type: "string", default: "100000" },
    rounds: { type: "string", default: "3" },
  },
});
const N = Number(args.entries);
const ROUNDS = Number(args.rounds);

function value(i: number): BenchHashValue {
  return { counter: BigInt(i), stamp_ns: BigInt(i * 2) };
}

type Method = "typed single" | "raw single" | "typed batch" | "bpftool batch (C)";

function timeIt(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function main(): void {
  const pinDir = `/sys/fs/bpf/fairway-bench-maps-${process.pid}`;
  mkdirSync(pinDir, { recursive: true });
  const obj = BpfObject.load(join(repoRoot, "build/bpf/bench.o"), {
    maxEntries: { bench_hash: Math.max(N * 2, 1024), bench_events: 4096 },
    pinPaths: { bench_hash: join(pinDir, "bench_hash") },
  });
  const results: Record<Method, number[]> = {
    "typed single": [],
    "raw single": [],
    "typed batch": [],
    "bpftool batch (C)": [],
  };
  try {
    const map = BpfMap.of(obj.map("bench_hash"), maps.bench_hash);
    const entries = Array.from({ length: N }, (_, i) => [i, value(i)] as const);
    const b = loadNative();
    const keys = new Uint8Array(4 * N);
    const vals = new Uint8Array(16 * N);
    entries.forEach(([k, v], i) => {
      maps.bench_hash.keyCodec.encode(k, keys, i * 4);
      maps.bench_hash.valueCodec.encode(v, vals, i * 16);
    });
    // bpftool reads one command per line; hex bytes for key and value.
    const hex = (buf: Uint8Array, off: number, len: number) =>
      [...buf.subarray(off, off + len)].map((x) => x.toString()).join(" ");
    const batchFile = join(tmpdir(), `fairway-bench-maps-${process.pid}.txt`);
    writeFileSync(
      batchFile,
      entries
        .map(
          (_, i) =>
            `map update pinned ${join(pinDir, "bench_hash")} key ${hex(keys, i * 4, 4)} value ${hex(vals, i * 16, 16)}`,
        )
        .join("\n"),
    );
    for (let r = 0; r < ROUNDS; r++) {
      map.clear();
      results["typed single"].push(
        N /
          timeIt(() => {
            for (const [k, v] of entries) map.update(k, v);
          }),
      );
      map.clear();
      results["raw single"].push(
        N /
          timeIt(() => {
            const fd = map.fd;
            for (let i = 0; i < N; i++)
              b.mapUpdate(
                fd,
                keys.subarray(i * 4, i * 4 + 4),
                vals.subarray(i * 16, i * 16 + 16),
                0,
              );
          }),
      );
      map.clear();
      results["typed batch"].push(N / timeIt(() => map.updateBatch(entries)));
      map.clear();
      results["bpftool batch (C)"].push(
        N /
          timeIt(() => execFileSync("bpftool", ["batch", "file", batchFile], { stdio: "ignore" })),
      );
      if ([...map.keys()].length !== N) throw new Error("bpftool did not write every entry");
    }
    rmSync(batchFile, { force: true });
  } finally {
    obj.close();
    rmSync(pinDir, { recursive: true, force: true });
  }
  const peer = median(results["bpftool batch (C)"]);
  const single = median(results["typed single"]);
  const rows = (Object.keys(results) as Method[]).map((m) => [
    m,
    fmt(median(results[m])),
    (median(results[m]) / peer).toFixed(2),
    (median(results[m]) / single).toFixed(2),
  ]);
  const path = writeResult("maps", { entries: N, rounds: ROUNDS, updatesPerSec: results });
  console.log(table(["method", "updates/s (median)", "× bpftool", "× typed single"], rows));
  console.log(`results: ${path}`);
}

main();
