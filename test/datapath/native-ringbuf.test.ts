// The raw binding's ring-buffer consumer: records produced by a tc program run
// with BPF_PROG_TEST_RUN arrive on the event loop in batches, in order, none lost.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { type TestContext, test } from "node:test";
import { loadNative, type NativeRingBuffer } from "../../src/datapath/native/binding.ts";
import { bpfObject, requireRoot } from "../harness/index.ts";

requireRoot();
const b = loadNative();
const RECORD_SIZE = 13; // struct event in native_ringbuf.c, packed
const PACKET = Buffer.alloc(64);

interface Fixture {
  mapFd: number;
  progFd: number;
  produce(n: number): void;
}

function loadRingbuf(t: TestContext): Fixture {
  const obj = b.openObject(bpfObject("native_ringbuf", "test"));
  t.after(() => obj.close());
  obj.load();
  const progFd = obj.progFd("native_ringbuf");
  return {
    mapFd: obj.mapFd("events"),
    progFd,
    produce: (n) => void b.progTestRun(progFd, { data: PACKET, repeat: n }),
  };
}

/** Decodes a batch: [u32 len][bytes] per record, each padded to 8. */
function records(batch: Buffer, count: number): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    const len = batch.readUInt32LE(off);
    out.push(batch.subarray(off + 4, off + 4 + len));
    off += (4 + len + 7) & ~7;
  }
  assert.equal(off, batch.length, "the batch holds exactly `count` records");
  return out;
}

function seqs(batch: Buffer, count: number): number[] {
  return records(batch, count).map((r) => r.readUInt32LE(0));
}

test("records arrive on the event loop, one call per batch, padded to 8", async (t) => {
  const f = loadRingbuf(t);
  const got: number[] = [];
  let calls = 0;
  let rb: NativeRingBuffer | undefined;
  const all = new Promise<void>((resolve) => {
    rb = b.openRingBuffer(f.mapFd, (batch, count) => {
      calls++;
      for (const r of records(batch, count)) {
        assert.equal(r.length, RECORD_SIZE);
        assert.equal(r.readUInt32LE(4), PACKET.length);
        assert.deepEqual([...r.subarray(8)], [1, 2, 3, 4, 5]);
        got.push(r.readUInt32LE(0));
      }
      if (got.length === 100) resolve();
    });
  });
  t.after(() => rb?.close());
  f.produce(100);
  await all;
  assert.deepEqual(got, [...Array(100).keys()]);
  assert.ok(calls >= 1 && calls <= 100);
  assert.equal(rb!.delivered, 100);
});

test("consume() drains synchronously and splits at maxBatch", (t) => {
  const f = loadRingbuf(t);
  const batches: number[][] = [];
  const rb = b.openRingBuffer(f.mapFd, (batch, count) => batches.push(seqs(batch, count)), {
    maxBatch: 10,
  });
  t.after(() => rb.close());
  f.produce(25);
  assert.equal(rb.consume(), 25);
  assert.deepEqual(
    batches.map((x) => x.length),
    [10, 10, 5],
  );
  assert.deepEqual(batches.flat(), [...Array(25).keys()]);
  assert.equal(rb.consume(), 0, "nothing left");
});

test("close() from inside onBatch stops delivery and leaves the rest in the ring", (t) => {
  const f = loadRingbuf(t);
  let calls = 0;
  const rb = b.openRingBuffer(
    f.mapFd,
    () => {
      calls++;
      rb.close();
      rb.close(); // idempotent, even here
    },
    { maxBatch: 10 },
  );
  f.produce(25);
  assert.equal(rb.consume(), 10);
  assert.equal(calls, 1);
  assert.equal(rb.delivered, 10);
  assert.equal(rb.consume(), 0, "closed: consume is a no-op");

  const later: number[] = [];
  const again = b.openRingBuffer(f.mapFd, (batch, count) => later.push(...seqs(batch, count)));
  t.after(() => again.close());
  assert.equal(again.consume(), 15, "the records not consumed stayed in the ring");
  assert.deepEqual(
    later,
    [...Array(15).keys()].map((i) => i + 10),
  );
});

test("an exception in onBatch propagates out of consume()", (t) => {
  const f = loadRingbuf(t);
  const rb = b.openRingBuffer(f.mapFd, () => {
    throw new Error("fwt boom");
  });
  t.after(() => rb.close());
  f.produce(3);
  assert.throws(() => rb.consume(), /fwt boom/);
  assert.equal(rb.delivered, 3, "the batch was delivered before the callback threw");
});

test("a ring that is not a ring buffer map is ERINGBUF", (t) => {
  const f = loadRingbuf(t);
  assert.throws(() => b.openRingBuffer(f.progFd, () => {}), {
    code: "ERINGBUF",
    syscall: "ring_buffer__new",
    message: /^cannot open ring buffer on map fd \d+: /,
  });
  assert.throws(() => b.openRingBuffer(f.mapFd, () => {}, { maxBatch: 0 }), { code: "EINVAL_ARG" });
});

test("a producer on the thread pool: every record drained on the loop, none lost", async (t) => {
  const f = loadRingbuf(t);
  const chunk = 250_000; // fits in the 16 MiB ring; four chunks do not
  const n = 4 * chunk;
  let next = 0;
  let gaps = 0;
  const rb = b.openRingBuffer(f.mapFd, (batch, count) => {
    for (let i = 0, off = 0; i < count; i++, off += 24 /* 4 + 13, padded to 8 */) {
      if (batch.readUInt32LE(off + 4) !== next) gaps++;
      next++;
    }
  });
  t.after(() => rb.close());
  // While a test run produces on a libuv worker thread, the loop drains.
  for (let i = 0; i < 4; i++) await b.progTestRunAsync(f.progFd, { data: PACKET, repeat: chunk });
  rb.consume();
  assert.equal(gaps, 0, "records in order, no sequence number missing");
  assert.equal(rb.delivered, n);
});

// The rate is measured by bench/ringbuf.ts (speed targets are benchmarks, not
// timed tests); this checks one big drain delivers every record.
test("one drain of half a million records delivers every one", (t) => {
  const f = loadRingbuf(t);
  const n = 500_000;
  let seen = 0;
  const rb = b.openRingBuffer(f.mapFd, (_batch, count) => {
    seen += count;
  });
  t.after(() => rb.close());
  f.produce(n);
  assert.equal(rb.consume(), n);
  assert.equal(seen, n);
});

// A child process that must end by itself: an open ring keeps the loop alive
// (like a socket), a closed one must not; exiting with one still open runs the
// env cleanup hook, which must not crash.
function runChild(body: string, onBatch = "() => {}"): { status: number | null; stderr: string } {
  const addon = createRequire(import.meta.url).resolve(
    "../../native/build/Release/fairway_native.node",
  );
  const script = `
    const b = require(${JSON.stringify(addon)});
    const obj = b.openObject(${JSON.stringify(bpfObject("native_ringbuf", "test"))});
    obj.load();
    const rb = b.openRingBuffer(obj.mapFd("events"), ${onBatch});
    ${body}`;
  const r = spawnSync(process.execPath, ["-e", script], { timeout: 10_000, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

test("a closed ring does not keep the process alive; exit with one open is clean", () => {
  assert.deepEqual(runChild("rb.close(); obj.close();"), { status: 0, stderr: "" });
  assert.deepEqual(runChild("setTimeout(() => process.exit(3), 50);"), { status: 3, stderr: "" });
});

test("an exception thrown by onBatch on the loop is an uncaught exception", () => {
  const produce = `b.progTestRun(obj.progFd("native_ringbuf"), { data: Buffer.alloc(64) });`;
  const r = runChild(produce, `() => { throw new Error("fwt from onBatch"); }`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Error: fwt from onBatch/);
});
