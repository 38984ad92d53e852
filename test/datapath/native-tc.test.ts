// The raw binding's tc attach/query/detach on a veth inside a throw-away network
// namespace, and the errors for a missing interface or namespace.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadNative, type NativeError } from "../../src/datapath/native/binding.ts";
import {
  bpfObject,
  cleanupFor,
  requireRoot,
  run,
  tempNetns,
  uniqueName,
} from "../harness/index.ts";

requireRoot();
const b = loadNative();

function nativeError(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    return err as NativeError;
  }
  assert.fail("expected a native error");
}

test("attach, query, replace, detach and destroy the hook on a veth in a netns", (t) => {
  const c = cleanupFor(t);
  const ns = tempNetns(c, "tc");
  const dev = uniqueName("v");
  run("ip", ["-n", ns.name, "link", "add", dev, "type", "veth", "peer", "name", uniqueName("p")]);
  const obj = b.openObject(bpfObject("native_ringbuf", "test"));
  c.defer(() => obj.close());
  obj.load();
  const progFd = obj.progFd("native_ringbuf");
  const target = { ifname: dev, netns: ns.path, priority: 1, handle: 1 };

  const ingress = b.tcAttach({ ...target, direction: "ingress", progFd });
  assert.equal(ingress.hookCreated, true, "the first attach creates clsact");
  assert.ok(ingress.progId > 0);
  assert.deepEqual(b.tcQuery({ ...target, direction: "ingress" }), {
    progId: ingress.progId,
    priority: 1,
    handle: 1,
  });
  assert.match(
    run("ip", ["netns", "exec", ns.name, "tc", "filter", "show", "dev", dev, "ingress"]),
    /native_ringbuf/,
  );

  const egress = b.tcAttach({ ...target, direction: "egress", progFd });
  assert.equal(egress.hookCreated, false, "clsact was already there");

  const dup = nativeError(() => b.tcAttach({ ...target, direction: "egress", progFd }));
  assert.equal(dup.code, "ETC");
  assert.equal(dup.errno, 17);
  b.tcAttach({ ...target, direction: "egress", progFd, replace: true });

  b.tcDetach({ ...target, direction: "ingress" });
  assert.equal(b.tcQuery({ ...target, direction: "ingress" }), null);
  const gone = nativeError(() => b.tcDetach({ ...target, direction: "ingress" }));
  assert.equal(gone.code, "ETC");
  assert.equal(gone.errno, 2, "ENOENT");
  assert.match(
    gone.message,
    new RegExp(`^cannot detach tc filter priority 1 handle 1 from ingress of interface "${dev}"`),
  );

  b.tcHookDestroy({ ifname: dev, netns: ns.path });
  assert.doesNotMatch(
    run("ip", ["netns", "exec", ns.name, "tc", "qdisc", "show", "dev", dev]),
    /clsact/,
  );
  assert.equal(b.tcQuery({ ...target, direction: "egress" }), null, "no qdisc: no filter");
  const noHook = nativeError(() => b.tcDetach({ ...target, direction: "egress" }));
  assert.equal(noHook.errno, 2, "no qdisc: ENOENT like a missing filter");
  assert.match(noHook.message, /Parent Qdisc doesn't exist/, "the kernel's own words are kept");
});

test("attaching to a missing interface names it and the namespace", (t) => {
  const c = cleanupFor(t);
  const ns = tempNetns(c, "tc");
  const err = nativeError(() =>
    b.tcAttach({ ifname: "fwtnope", netns: ns.path, direction: "ingress", progFd: 0 }),
  );
  assert.equal(err.code, "ETC");
  assert.equal(err.errno, 19, "ENODEV");
  assert.equal(err.syscall, "if_nametoindex");
  assert.equal(
    err.message,
    `interface "fwtnope" not found in network namespace ${ns.path}: No such device`,
  );
  const here = nativeError(() =>
    b.tcQuery({ ifname: "fwtnope", direction: "ingress", priority: 1, handle: 1 }),
  );
  assert.match(here.message, /^interface "fwtnope" not found in network namespace current/);
});

test("a missing namespace is ENETNS naming the path", () => {
  const path = "/run/netns/fwt-does-not-exist";
  const err = nativeError(() =>
    b.tcAttach({ ifname: "lo", netns: path, direction: "ingress", progFd: 0 }),
  );
  assert.equal(err.code, "ENETNS");
  assert.equal(err.errno, 2);
  assert.match(err.message, /\/run\/netns\/fwt-does-not-exist: No such file or directory/);
});

test("bad directions and priorities are argument errors", () => {
  assert.throws(() => b.tcAttach({ ifname: "lo", direction: "sideways" as "ingress", progFd: 0 }), {
    code: "EINVAL_ARG",
    message: 'tcAttach: direction must be "ingress" or "egress", got "sideways"',
  });
  assert.throws(
    () => b.tcAttach({ ifname: "lo", direction: "ingress", progFd: 0, priority: 70000 }),
    {
      code: "EINVAL_ARG",
    },
  );
});
