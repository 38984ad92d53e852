// The raw binding's BPF object life cycle: open, inspect (maps, programs,
// globals from BTF), adjust before load, load, pin and reuse, and the failed
// load that must carry the verifier log and leave nothing behind.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadNative, type NativeError } from "../../src/datapath/native/binding.ts";
import { bpfObject, cleanupFor, requireRoot, tempPinDir } from "../harness/index.ts";

requireRoot();
const b = loadNative();
const globalsObj = bpfObject("native_globals", "test");
const rejectObj = bpfObject("native_reject", "test");

function u32(n: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(n);
  return buf;
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Runs fn, expecting a native error; returns it for further checks. */
function nativeError(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Error);
    return err as NativeError;
  }
  assert.fail("expected a native error");
}

test("globals() lists every data section's variables from BTF", (t) => {
  const pins = tempPinDir(cleanupFor(t), "obj");
  const obj = b.openObject(globalsObj, { pinRoot: pins });
  t.after(() => obj.close());
  assert.deepEqual(obj.globals(), [
    { section: ".bss", name: "last_len", offset: 0, size: 4 },
    { section: ".data", name: "runs", offset: 0, size: 8 },
    { section: ".rodata", name: "cfg_verdict", offset: 0, size: 4 },
    { section: ".rodata", name: "cfg_mac", offset: 4, size: 6 },
  ]);
  assert.deepEqual(obj.programs(), [{ name: "native_globals", section: "tc", type: 3, fd: -1 }]);
  const counts = obj.maps().find((m) => m.name === "counts");
  assert.deepEqual(counts, {
    name: "counts",
    type: 1,
    keySize: 4,
    valueSize: 8,
    maxEntries: 64,
    flags: 0,
    fd: -1,
    pinPath: join(pins, "counts"),
    reused: false,
  });
});

test("setGlobal before load reaches the program; .data is readable after load", (t) => {
  const pins = tempPinDir(cleanupFor(t), "obj");
  const obj = b.openObject(globalsObj, { pinRoot: pins });
  t.after(() => obj.close());
  obj.setGlobal("cfg_verdict", u32(7));
  obj.setGlobal("cfg_mac", Buffer.from([0, 0, 0, 0, 0, 3]));
  obj.load();

  const run = b.progTestRun(obj.progFd("native_globals"), { data: Buffer.alloc(64), repeat: 3 });
  assert.equal(run.retval, 7 + 3, "the program returns cfg_verdict + cfg_mac[5]");
  const runs = Buffer.alloc(8);
  assert.equal(b.mapLookup(obj.mapFd(".data"), u32(0), runs), true);
  assert.equal(
    runs.readBigUInt64LE(),
    5n + 3n,
    ".data starts at its initial value, then counts runs",
  );
});

test("setGlobal refuses a wrong size, an unknown name, and any call after load", (t) => {
  const pins = tempPinDir(cleanupFor(t), "obj");
  const obj = b.openObject(globalsObj, { pinRoot: pins });
  t.after(() => obj.close());

  const wrongSize = nativeError(() => obj.setGlobal("cfg_mac", Buffer.alloc(4)));
  assert.equal(wrongSize.code, "EINVAL_ARG");
  assert.match(wrongSize.message, /"cfg_mac" in \.rodata is 6 bytes, value has 4/);

  const unknown = nativeError(() => obj.setGlobal("no_such_var", Buffer.alloc(4)));
  assert.equal(unknown.code, "EINVAL_ARG");
  assert.match(unknown.message, /no global named "no_such_var"/);

  obj.load();
  const late = nativeError(() => obj.setGlobal("cfg_verdict", u32(1)));
  assert.equal(late.code, "EINVAL_ARG");
  assert.match(late.message, /already loaded/);
  assert.throws(() => obj.setMaxEntries("counts", 8), /already loaded/);
});

test("openObject of a missing file names the path", () => {
  const err = nativeError(() => b.openObject("/nonexistent/fwt.o"));
  assert.equal(err.code, "EBPF_OPEN");
  assert.equal(err.errno, 2);
  assert.equal(err.syscall, "bpf_object__open_file");
  assert.match(
    err.message,
    /^cannot open BPF object \/nonexistent\/fwt\.o: No such file or directory/,
  );
  assert.match(err.libbpf ?? "", /failed to open/);
});

test("a map pinned by name is reused by the next load, with its contents", (t) => {
  const pins = tempPinDir(cleanupFor(t), "obj");
  const first = b.openObject(globalsObj, { pinRoot: pins });
  first.load();
  assert.equal(first.maps().find((m) => m.name === "counts")?.reused, false);
  b.mapUpdate(first.mapFd("counts"), u32(1), Buffer.from("2a00000000000000", "hex"), 0);
  first.close();
  assert.ok(existsSync(join(pins, "counts")), "closing the object keeps the pin");

  const second = b.openObject(globalsObj, { pinRoot: pins });
  t.after(() => second.close());
  second.load();
  assert.equal(second.maps().find((m) => m.name === "counts")?.reused, true);
  const value = Buffer.alloc(8);
  assert.equal(b.mapLookup(second.mapFd("counts"), u32(1), value), true);
  assert.equal(value.readBigUInt64LE(), 42n, "the value written through the first load");
});

test("setPinPath, setMaxEntries and setAutoload shape the load", (t) => {
  const pins = tempPinDir(cleanupFor(t), "obj");
  const obj = b.openObject(rejectObj, { pinRoot: pins });
  t.after(() => obj.close());
  const exact = join(pins, "exact_state");
  obj.setPinPath("reject_state", exact);
  obj.setMaxEntries("reject_state", 4);
  obj.setAutoload("native_bad", false);
  obj.load();

  assert.ok(existsSync(exact));
  assert.equal(b.mapInfo(obj.mapFd("reject_state")).maxEntries, 4);
  assert.ok(obj.progFd("native_good") > 0);
  assert.equal(obj.programs().find((p) => p.name === "native_bad")?.fd, -1);
  assert.throws(() => obj.progFd("native_bad"), /was not loaded/);
  assert.throws(() => obj.mapFd("nope"), /no map named "nope"/);
});

test("close() releases every fd and is idempotent", (t) => {
  const pinRoot = tempPinDir(cleanupFor(t), "obj");
  const before = openFds();
  const obj = b.openObject(rejectObj, { pinRoot });
  obj.setAutoload("native_bad", false);
  obj.load();
  assert.ok(openFds() > before);
  obj.close();
  obj.close();
  assert.equal(openFds(), before);
  assert.throws(() => obj.maps(), /is closed/);
});

test("a verifier rejection carries the log, names the program, and leaves no pin or fd", (t) => {
  const c = cleanupFor(t);
  const pinRoot = join(tempPinDir(c, "obj"), "fresh"); // libbpf creates it while loading
  const before = openFds();
  const obj = b.openObject(rejectObj, { pinRoot });
  const err = nativeError(() => obj.load());

  assert.equal(err.code, "EBPF_LOAD");
  assert.equal(err.errno, 13, "EACCES: the verifier said no");
  assert.equal(err.syscall, "bpf_object__load");
  assert.match(err.verifierLog ?? "", /invalid access to packet/);
  assert.doesNotMatch(err.verifierLog ?? "", /native_good/, "only the failing program's log");
  assert.match(err.message, /^program "native_bad" of BPF object .*native_reject\.o was rejected/);
  assert.match(err.message, /verifier log \(last lines\):\n(.|\n)*invalid access to packet/);
  assert.match(err.libbpf ?? "", /prog 'native_bad': BPF program load failed/);

  assert.equal(existsSync(pinRoot), false, "the pin and the directory libbpf made are gone");
  assert.equal(openFds(), before, "every fd of the failed load is closed");
  assert.throws(() => obj.maps(), /failed to load/);
  obj.close();
});

test("a failed load keeps pins it reused (they belong to someone else)", (t) => {
  const pins = tempPinDir(cleanupFor(t), "obj");
  const owner = b.openObject(rejectObj, { pinRoot: pins });
  owner.setAutoload("native_bad", false);
  owner.load();
  b.mapUpdate(owner.mapFd("reject_state"), u32(0), Buffer.from("0700000000000000", "hex"), 0);
  owner.close();

  const failing = b.openObject(rejectObj, { pinRoot: pins });
  assert.throws(() => failing.load(), { code: "EBPF_LOAD" });
  assert.ok(existsSync(join(pins, "reject_state")), "the earlier pin survives");
  const fd = b.objGet(join(pins, "reject_state"));
  t.after(() => b.closeFd(fd));
  const value = Buffer.alloc(8);
  assert.equal(b.mapLookup(fd, u32(0), value), true);
  assert.equal(value.readBigUInt64LE(), 7n);
});

test("logLevel 2 gives the failing program's detailed log", (t) => {
  const pinRoot = tempPinDir(cleanupFor(t), "obj");
  const obj = b.openObject(rejectObj, { pinRoot });
  const err = nativeError(() => obj.load({ logLevel: 2, logSize: 1 << 20 }));
  assert.equal(err.code, "EBPF_LOAD");
  assert.match(err.message, /program "native_bad"/);
  assert.match(err.verifierLog ?? "", /invalid access to packet/);
  assert.deepEqual(readdirSync(pinRoot), []);

  const other = b.openObject(rejectObj, { pinRoot });
  t.after(() => other.close());
  assert.throws(() => other.load({ logLevel: 3 }), { code: "EINVAL_ARG" });
});

test("a verifier log larger than logSize still shows its end and says so", (t) => {
  const pinRoot = tempPinDir(cleanupFor(t), "obj");
  const obj = b.openObject(rejectObj, { pinRoot });
  const err = nativeError(() => obj.load({ logSize: 1024 }));
  assert.equal(err.errno, 28, "ENOSPC: the kernel fails a load whose log was truncated");
  assert.match(err.message, /its log did not fit in logSize 1024/);
  assert.match(
    err.verifierLog ?? "",
    /invalid access to packet/,
    "the kernel keeps the log's tail",
  );
});
