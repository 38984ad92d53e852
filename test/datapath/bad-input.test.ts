// Bad input gets a clear error and leaves nothing behind: a program the
// verifier rejects (the message carries the verifier log, nothing stays
// pinned), a missing object file, attaching to a missing interface or
// namespace, a map layout that does not match the kernel map.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { FairwayError } from "../../src/base/errors.ts";
import { maps } from "../../src/datapath/generated/diag.ts";
import { attachTc, BpfMap, BpfObject } from "../../src/datapath/index.ts";
import {
  bpfObject,
  cleanupFor,
  requireRoot,
  run,
  tempNetns,
  tempPinDir,
  uniqueName,
} from "../harness/index.ts";

requireRoot();

test("a program the verifier rejects fails the load with the verifier log, and pins nothing", (t) => {
  const c = cleanupFor(t);
  const pinRoot = tempPinDir(c, "rej");
  const err = (() => {
    try {
      BpfObject.load(bpfObject("verifier_reject", "test"), { pinRoot });
    } catch (e) {
      return e;
    }
    assert.fail("load should have failed");
  })();
  assert.ok(err instanceof FairwayError);
  assert.equal(err.code, "E_BPF_LOAD");
  assert.match(err.message, /verifier_reject/);
  // The kernel's own words about the unchecked packet access.
  assert.match(err.message, /invalid access to packet/);
  assert.match(String(err.details.verifierLog), /invalid access to packet/);
  assert.deepEqual(readdirSync(pinRoot), [], "no map left pinned after a failed load");
});

test("a missing object file is named", () => {
  assert.throws(
    () => BpfObject.load("/nonexistent/fairway.o"),
    (e: FairwayError) => e.code === "E_BPF_OPEN" && e.message.includes("/nonexistent/fairway.o"),
  );
});

test("attaching to a missing interface or namespace names it and attaches nothing", (t) => {
  const c = cleanupFor(t);
  const ns = tempNetns(c, "bad");
  const obj = BpfObject.load(bpfObject("diag"), { pinRoot: tempPinDir(c, "bad") });
  c.defer(() => obj.close());
  const program = obj.program("diag_count");
  const missing = uniqueName("nx");
  assert.throws(
    () => attachTc({ program, ifname: missing, netns: ns.path, direction: "ingress" }),
    (e: FairwayError) => e.message.includes(`"${missing}"`) && e.message.includes(ns.path),
  );
  assert.throws(
    () =>
      attachTc({ program, ifname: "lo", netns: "/run/netns/fwt-no-such-ns", direction: "ingress" }),
    (e: FairwayError) => e.message.includes("/run/netns/fwt-no-such-ns"),
  );
  assert.equal(
    run("ip", ["netns", "exec", ns.name, "tc", "qdisc", "show", "dev", "lo"]).includes("clsact"),
    false,
  );
});

test("a map layout that does not match the kernel map is refused with both sizes", (t) => {
  const c = cleanupFor(t);
  const obj = BpfObject.load(bpfObject("diag"), { pinRoot: tempPinDir(c, "lay") });
  c.defer(() => obj.close());
  assert.throws(
    () => BpfMap.of(obj.map("diag_drops"), maps.diag_events_lost),
    (e: FairwayError) =>
      e.code === "E_BPF_MAP_LAYOUT" &&
      e.message.includes("(8 bytes)") &&
      e.message.includes("value 16 bytes"),
  );
  assert.throws(() => obj.map("no_such_map"), /has no map "no_such_map"/);
});
