// The raw binding's BPF_PROG_TEST_RUN, synchronous and on the thread pool.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { loadNative } from "../../src/datapath/native/binding.ts";
import { bpfObject, requireRoot } from "../harness/index.ts";

requireRoot();
const b = loadNative();
const TC_ACT_OK = 0;

function loadProg(t: TestContext): number {
  const obj = b.openObject(bpfObject("native_ringbuf", "test"));
  t.after(() => obj.close());
  obj.load();
  return obj.progFd("native_ringbuf");
}

function packet(len: number): Buffer {
  return Buffer.from(Array.from({ length: len }, (_, i) => i & 0xff));
}

test("a run returns retval, duration and the packet as the program left it", (t) => {
  const fd = loadProg(t);
  const data = packet(60);
  const r = b.progTestRun(fd, { data, repeat: 10 });
  assert.equal(r.retval, TC_ACT_OK);
  assert.ok(r.duration >= 0);
  assert.deepEqual(r.dataOut, data, "dataOut is trimmed to what the kernel wrote");
  assert.equal(r.ctxOut, null);
});

test("too small a dataOutSize is ETESTRUN/ENOSPC naming both sizes", (t) => {
  const fd = loadProg(t);
  assert.throws(() => b.progTestRun(fd, { data: packet(60), dataOutSize: 10 }), {
    code: "ETESTRUN",
    errno: 28,
    syscall: "bpf_prog_test_run_opts",
    message:
      /^test run of program fd \d+ failed \(output is 60 bytes, dataOutSize was 10\): No space left on device$/,
  });
});

test("the async run resolves like the sync one; its input is copied first", async (t) => {
  const fd = loadProg(t);
  const data = packet(60);
  const pending = b.progTestRunAsync(fd, { data, repeat: 1000 });
  data.fill(0xee); // the worker must not see this
  const r = await pending;
  assert.equal(r.retval, TC_ACT_OK);
  assert.deepEqual(r.dataOut, packet(60));
});

test("the async run rejects with the same error shape", async () => {
  await assert.rejects(b.progTestRunAsync(999_999, { data: packet(60) }), {
    code: "ETESTRUN",
    errno: 9,
    message: /^test run of program fd 999999 failed: Bad file descriptor$/,
  });
});
