// The raw binding's cgroup attach through BPF links: a connect4 program on a
// fresh cgroup sees the connects of a process in it, until the link is detached.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadNative } from "../../src/datapath/native/binding.ts";
import {
  bpfObject,
  cgroupRoot,
  cleanupFor,
  requireRoot,
  run,
  tempPinDir,
  uniqueName,
} from "../harness/index.ts";

requireRoot();
const b = loadNative();

/** Runs a shell in `cgroup` that connects a UDP socket to 127.0.0.1:9 once. */
function connectFrom(cgroup: string): void {
  run("bash", ["-c", `echo $$ > ${join(cgroup, "cgroup.procs")} && exec 3<>/dev/udp/127.0.0.1/9`]);
}

test("connect4 on a fresh cgroup: attach, pin, see connects, detach", (t) => {
  const c = cleanupFor(t);
  const cgroup = join(cgroupRoot, uniqueName("cg"));
  mkdirSync(cgroup);
  c.defer(() => rmdirSync(cgroup)); // empty again once the shell has exited
  const pins = tempPinDir(c, "cg");
  const obj = b.openObject(bpfObject("native_cgroup", "test"));
  c.defer(() => obj.close());
  obj.load();
  const counter = obj.mapFd("connects");
  const key = Buffer.alloc(4);
  const count = (): bigint => {
    const v = Buffer.alloc(8);
    b.mapLookup(counter, key, v);
    return v.readBigUInt64LE();
  };

  const pin = join(pins, "connect4");
  const link = b.cgroupAttach(cgroup, obj.progFd("native_connect4"), "connect4", pin);
  c.defer(() => b.closeFd(link));
  assert.ok(existsSync(pin), "the link is pinned");
  connectFrom(cgroup);
  assert.equal(count(), 1n);

  // The agent after a restart has only the pin: detach through it.
  const fromPin = b.objGet(pin);
  b.linkDetach(fromPin);
  b.closeFd(fromPin);
  rmSync(pin);
  connectFrom(cgroup);
  assert.equal(count(), 1n, "detached: the second connect is not seen");
});

test("attach errors name the cgroup; unknown types are argument errors", (t) => {
  const c = cleanupFor(t);
  const obj = b.openObject(bpfObject("native_cgroup", "test"));
  c.defer(() => obj.close());
  obj.load();
  const progFd = obj.progFd("native_connect4");
  const missing = join(cgroupRoot, "fwt-missing");
  assert.throws(() => b.cgroupAttach(missing, progFd, "connect4"), {
    code: "ECGROUP",
    errno: 2,
    syscall: "open",
    message: `cannot open cgroup ${missing}: No such file or directory`,
  });
  assert.throws(() => b.cgroupAttach(cgroupRoot, progFd, "connect5" as "connect4"), {
    code: "EINVAL_ARG",
    message: 'cgroupAttach: unknown attach type "connect5"',
  });
  // A connect4 program cannot serve as an egress filter: the kernel refuses it.
  const cgroup = join(cgroupRoot, uniqueName("cg"));
  mkdirSync(cgroup);
  c.defer(() => rmdirSync(cgroup));
  assert.throws(() => b.cgroupAttach(cgroup, progFd, "egress"), {
    code: "ECGROUP",
    syscall: "bpf_link_create",
    message: new RegExp(`^cannot attach program fd ${progFd} as egress to cgroup ${cgroup}: `),
  });
});
