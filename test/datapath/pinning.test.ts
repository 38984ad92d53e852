// Map pinning: a map declared LIBBPF_PIN_BY_NAME is pinned under the pin root at
// the first load and reused by the next one, also from another process (the
// agent restarting): an entry written before is still there.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { maps } from "../../src/datapath/generated/diag.ts";
import { BpfMap, BpfObject } from "../../src/datapath/index.ts";
import { bpfObject, cleanupFor, repoRoot, requireRoot, tempPinDir } from "../harness/index.ts";

requireRoot();

const key = { eth_proto: 0x86dd, family: 6, l4_proto: 58 };

test("a pinned map keeps its entries across a reload in the same process", (t) => {
  const c = cleanupFor(t);
  const pinRoot = tempPinDir(c, "pin");
  const first = BpfObject.load(bpfObject("diag"), { pinRoot });
  assert.equal(first.map("diag_proto_stats").reused, false);
  BpfMap.of(first.map("diag_proto_stats"), maps.diag_proto_stats).update(key, {
    packets: 42n,
    bytes: 4200n,
  });
  first.close();
  assert.ok(existsSync(join(pinRoot, "diag_proto_stats")), "pin outlives the object");

  const second = BpfObject.load(bpfObject("diag"), { pinRoot });
  c.defer(() => second.close());
  assert.equal(second.map("diag_proto_stats").reused, true);
  const stats = BpfMap.of(second.map("diag_proto_stats"), maps.diag_proto_stats);
  assert.deepEqual(stats.lookup(key), { packets: 42n, bytes: 4200n });
});

test("a pinned map keeps its entries across a process restart", (t) => {
  const c = cleanupFor(t);
  const pinRoot = tempPinDir(c, "pinp");
  // The writer runs in its own process and exits: nothing of it stays but the pins.
  const writer = `
    import { BpfMap, BpfObject } from "./src/datapath/index.ts";
    import { maps } from "./src/datapath/generated/diag.ts";
    const obj = BpfObject.load(${JSON.stringify(bpfObject("diag"))}, { pinRoot: ${JSON.stringify(pinRoot)} });
    BpfMap.of(obj.map("diag_proto_stats"), maps.diag_proto_stats).update(${JSON.stringify({ ...key, l4_proto: 17 })}, { packets: 7n, bytes: 700n });
  `;
  execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", writer], {
    cwd: repoRoot,
  });

  const pinned = BpfMap.openPinned(join(pinRoot, "diag_proto_stats"), maps.diag_proto_stats);
  c.defer(() => pinned.close());
  assert.deepEqual(pinned.lookup({ ...key, l4_proto: 17 }), { packets: 7n, bytes: 700n });

  const reloaded = BpfObject.load(bpfObject("diag"), { pinRoot });
  c.defer(() => reloaded.close());
  const stats = BpfMap.of(reloaded.map("diag_proto_stats"), maps.diag_proto_stats);
  assert.deepEqual(stats.lookup({ ...key, l4_proto: 17 }), { packets: 7n, bytes: 700n });
});

test("typed map operations: update flags, delete, iterate, batch", (t) => {
  const c = cleanupFor(t);
  const obj = BpfObject.load(bpfObject("diag"), { pinRoot: tempPinDir(c, "ops") });
  c.defer(() => obj.close());
  const stats = BpfMap.of(obj.map("diag_proto_stats"), maps.diag_proto_stats);
  const entries = Array.from({ length: 300 }, (_, i) => [
    { eth_proto: 0x0800, family: 4, l4_proto: i % 256 === i ? i : 0 },
    { packets: BigInt(i), bytes: BigInt(i * 10) },
  ]) as [typeof key, { packets: bigint; bytes: bigint }][];
  const unique = entries.slice(0, 256);
  stats.updateBatch(unique);
  assert.equal(stats.dump(64).length, 256, "batch lookup pages through every entry");
  assert.equal([...stats.keys()].length, 256);
  assert.throws(
    () => stats.update(unique[0]![0], { packets: 1n, bytes: 1n }, 1 /* NOEXIST */),
    /update on map diag_proto_stats/,
  );
  assert.equal(stats.delete(unique[0]![0]), true);
  assert.equal(stats.delete(unique[0]![0]), false);
  assert.equal(stats.deleteBatch(unique.slice(1).map(([k]) => k)), 255);
  assert.equal(stats.dump().length, 0);
});
