// The raw binding's map operations by fd: single elements, iteration, batches
// (with their size checks), map info, pins and fds.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { loadNative, type NativeError } from "../../src/datapath/native/binding.ts";
import { bpfObject, cleanupFor, requireRoot, tempPinDir } from "../harness/index.ts";

requireRoot();
const b = loadNative();
const BPF_NOEXIST = 1;
const ENDPOINT_SIZE = 16; // struct endpoint { u64 id; u32 ifindex; u32 flags; }

function u32(n: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(n);
  return buf;
}

function endpoint(id: number, ifindex: number): Buffer {
  const buf = Buffer.alloc(ENDPOINT_SIZE);
  buf.writeBigUInt64LE(BigInt(id));
  buf.writeUInt32LE(ifindex, 8);
  return buf;
}

/** The maps of native_maps.o, loaded for one test. */
function loadMaps(t: TestContext): (name: string) => number {
  const obj = b.openObject(bpfObject("native_maps", "test"));
  t.after(() => obj.close());
  obj.load();
  return (name) => obj.mapFd(name);
}

function keysOf(fd: number): number[] {
  const keys: number[] = [];
  const next = Buffer.alloc(4);
  let cur: Buffer | null = null;
  while (b.mapNextKey(fd, cur, next)) {
    keys.push(next.readUInt32LE());
    cur = Buffer.from(next);
  }
  return keys.sort((x, y) => x - y);
}

test("update, lookup, delete and next-key on a hash map", (t) => {
  const fd = loadMaps(t)("endpoints");
  const value = Buffer.alloc(ENDPOINT_SIZE);
  assert.equal(b.mapLookup(fd, u32(1), value), false, "missing key: false, not an error");
  b.mapUpdate(fd, u32(1), endpoint(100, 7), 0);
  b.mapUpdate(fd, u32(2), endpoint(200, 8), 0);
  assert.equal(b.mapLookup(fd, u32(1), value), true);
  assert.deepEqual(value, endpoint(100, 7));
  assert.deepEqual(keysOf(fd), [1, 2]);

  const exists = (() => {
    try {
      b.mapUpdate(fd, u32(1), endpoint(1, 1), BPF_NOEXIST);
    } catch (err) {
      return err as NativeError;
    }
    assert.fail("BPF_NOEXIST on an existing key must throw");
  })();
  assert.equal(exists.code, "EBPF_MAP");
  assert.equal(exists.errno, 17);
  assert.equal(exists.syscall, "bpf_map_update_elem");
  assert.match(exists.message, /^mapUpdate on map fd \d+ failed: File exists$/);

  assert.equal(b.mapDelete(fd, u32(1)), true);
  assert.equal(b.mapDelete(fd, u32(1)), false, "second delete: false");
  assert.deepEqual(keysOf(fd), [2]);
});

test("arguments of the wrong type are refused before any syscall", (t) => {
  const fd = loadMaps(t)("endpoints");
  assert.throws(() => b.mapLookup(fd, "key" as unknown as Uint8Array, Buffer.alloc(16)), {
    code: "EINVAL_ARG",
    message: "mapLookup: key must be a Uint8Array or Buffer",
  });
  assert.throws(() => b.mapUpdate(-1, u32(1), endpoint(1, 1), 0), { code: "EINVAL_ARG" });
});

test("batch update, lookup in pages until done, and batch delete", (t) => {
  const fd = loadMaps(t)("endpoints");
  const n = 100;
  const keys = Buffer.alloc(n * 4);
  const values = Buffer.alloc(n * ENDPOINT_SIZE);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(i + 1, i * 4);
    endpoint(1000 + i, i).copy(values, i * ENDPOINT_SIZE);
  }
  assert.equal(b.mapUpdateBatch(fd, keys, values, n, 0), n);

  const page = 16;
  const outKeys = Buffer.alloc(page * 4);
  const outValues = Buffer.alloc(page * ENDPOINT_SIZE);
  const token = Buffer.alloc(4);
  const seen = new Map<number, bigint>();
  let inBatch: Buffer | null = null;
  for (let round = 0; round < 100; round++) {
    const r = b.mapLookupBatch(fd, inBatch, token, outKeys, outValues, page);
    for (let i = 0; i < r.count; i++) {
      seen.set(outKeys.readUInt32LE(i * 4), outValues.readBigUInt64LE(i * ENDPOINT_SIZE));
    }
    if (r.done) break;
    inBatch = Buffer.from(token);
  }
  assert.equal(seen.size, n);
  assert.equal(seen.get(42), 1041n);

  assert.equal(b.mapDeleteBatch(fd, keys, 50), 50);
  assert.equal(keysOf(fd).length, 50);
  assert.equal(keysOf(fd)[0], 51);
});

test("batch calls refuse buffers shorter than count entries", (t) => {
  const fd = loadMaps(t)("endpoints");
  assert.throws(() => b.mapUpdateBatch(fd, Buffer.alloc(4 * 10), Buffer.alloc(16 * 9), 10, 0), {
    code: "EINVAL_ARG",
    message: "mapUpdateBatch: values has 144 bytes, needs at least 160",
  });
  assert.throws(() => b.mapDeleteBatch(fd, Buffer.alloc(7), 2), {
    code: "EINVAL_ARG",
    message: "mapDeleteBatch: keys has 7 bytes, needs at least 8",
  });
  assert.throws(
    () => b.mapLookupBatch(fd, null, Buffer.alloc(2), Buffer.alloc(40), Buffer.alloc(160), 10),
    { code: "EINVAL_ARG", message: "mapLookupBatch: outBatch has 2 bytes, needs at least 4" },
  );
});

test("per-CPU values are one 8-byte slot per possible CPU", (t) => {
  const fd = loadMaps(t)("percpu");
  const cpus = b.possibleCpus();
  assert.ok(cpus >= 1);
  const value = Buffer.alloc(8 * cpus);
  for (let c = 0; c < cpus; c++) value.writeUInt32LE(c + 10, c * 8);
  b.mapUpdate(fd, u32(2), value, 0);
  const out = Buffer.alloc(8 * cpus);
  assert.equal(b.mapLookup(fd, u32(2), out), true);
  assert.deepEqual(out, value);
  assert.throws(
    () => b.mapLookupBatch(fd, null, Buffer.alloc(4), Buffer.alloc(16), Buffer.alloc(16), 4),
    { message: `mapLookupBatch: values has 16 bytes, needs at least ${4 * 8 * cpus}` },
  );
});

test("array maps: out-of-range lookup is false, delete is an error", (t) => {
  const fd = loadMaps(t)("slots");
  assert.equal(b.mapLookup(fd, u32(99), Buffer.alloc(8)), false);
  assert.throws(() => b.mapDelete(fd, u32(0)), { code: "EBPF_MAP", errno: 22 });
});

test("mapInfo, objPin, objGet and closeFd", (t) => {
  const pins = tempPinDir(cleanupFor(t), "map");
  const fd = loadMaps(t)("endpoints");
  const info = b.mapInfo(fd);
  assert.deepEqual(
    { ...info, id: 0 },
    {
      id: 0,
      name: "endpoints",
      type: 1,
      keySize: 4,
      valueSize: ENDPOINT_SIZE,
      maxEntries: 1024,
      flags: 0,
    },
  );

  const pin = join(pins, "endpoints");
  b.objPin(fd, pin);
  const again = b.objGet(pin);
  assert.notEqual(again, fd);
  assert.equal(b.mapInfo(again).id, info.id, "the pin is the same map");
  b.closeFd(again);
  assert.throws(() => b.closeFd(again), { code: "EIO_FD", errno: 9 });
  assert.throws(() => b.objGet(join(pins, "missing")), {
    code: "EIO_FD",
    errno: 2,
    message: new RegExp(
      `^cannot open pinned BPF object ${pins}/missing: No such file or directory`,
    ),
  });
});

// Update rates are measured by bench/maps.ts (speed targets are benchmarks, not
// timed tests); this checks many single updates through one reused buffer.
test("many single updates through reused buffers land as written", (t) => {
  const fd = loadMaps(t)("endpoints");
  const key = Buffer.alloc(4);
  const value = endpoint(1, 1);
  for (let i = 0; i < 200_000; i++) {
    key.writeUInt32LE(i & 511);
    b.mapUpdate(fd, key, value, 0);
  }
  const out = Buffer.alloc(value.length);
  key.writeUInt32LE(511);
  assert.equal(b.mapLookup(fd, key, out), true);
  assert.deepEqual(out, value);
});
