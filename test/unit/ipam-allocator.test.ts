import assert from "node:assert/strict";
import { test } from "node:test";
import { IpamCode } from "../../src/ipam/index.ts";
import { startIpam, tempStateDir } from "./ipam-fixtures.ts";

const owner = (containerId: string, ifname = "eth0") => ({ containerId, ifname });
const code = (c: string) => (e: { code?: string }) => e.code === c;

test("a repeated ADD for the same container and ifname returns the same address", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/24"]);
  const a = await ipam.allocate({ ...owner("c1"), podNamespace: "default", podName: "web" }, 4);
  assert.deepEqual(
    { ip: a.ip, prefixLen: a.prefixLen, cidr: a.cidr, podName: a.podName },
    { ip: "10.0.0.1", prefixLen: 24, cidr: "10.0.0.0/24", podName: "web" },
  );
  assert.deepEqual(await ipam.allocate(owner("c1"), 4), a);
  assert.deepEqual(await ipam.allocateAll(owner("c1")), [a]);
  const other = await ipam.allocate(owner("c1", "net1"), 4);
  assert.equal(other.ip, "10.0.0.2", "another ifname of the same container is another attachment");
  assert.equal((await ipam.list()).length, 2);
});

test("release frees the owner's addresses, is idempotent, and releaseByIp frees one", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/24"]);
  await ipam.allocate(owner("c1"), 4);
  const b = await ipam.allocate(owner("c2"), 4);
  assert.deepEqual(
    (await ipam.release(owner("c1"))).map((x) => x.ip),
    ["10.0.0.1"],
  );
  assert.deepEqual(await ipam.release(owner("c1")), [], "a second DEL is not an error");
  assert.deepEqual(await ipam.release(owner("never-added")), []);
  assert.equal((await ipam.releaseByIp("10.0.0.2"))?.containerId, b.containerId);
  assert.equal(await ipam.releaseByIp("10.0.0.2"), null);
  assert.deepEqual(await ipam.list(), []);
});

test("a released address is not reused until the pool wraps", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/29"]); // .1 - .6
  await ipam.allocate(owner("a"), 4);
  await ipam.allocate(owner("b"), 4);
  await ipam.release(owner("a"));
  assert.equal((await ipam.allocate(owner("c"), 4)).ip, "10.0.0.3", "not .1, just released");
  for (const id of ["d", "e", "f"]) await ipam.allocate(owner(id), 4);
  assert.equal((await ipam.allocate(owner("g"), 4)).ip, "10.0.0.1", "after .6 the pool wraps");
  await ipam.release(owner("d")); // .4
  assert.equal((await ipam.allocate(owner("h"), 4)).ip, "10.0.0.4", "the only free one");
});

test("exhaustion fails with E_IPAM_EXHAUSTED naming the pool and its size", async (t) => {
  const ipam = await startIpam(t, ["10.9.0.0/30"]);
  await ipam.allocate(owner("a"), 4);
  await ipam.allocate(owner("b"), 4);
  await assert.rejects(
    ipam.allocate(owner("c"), 4),
    (e: { code: string; message: string; kind: string }) => {
      assert.equal(e.code, IpamCode.exhausted);
      assert.equal(e.kind, "expected");
      assert.equal(
        e.message,
        "IPv4 pool 10.9.0.0/30 (2 usable addresses) is exhausted: every address is allocated",
      );
      return true;
    },
  );
  assert.deepEqual(await ipam.get(owner("c")), [], "the failed ADD left nothing behind");
  await ipam.release(owner("a"));
  assert.equal((await ipam.allocate(owner("c"), 4)).ip, "10.9.0.1");
});

test("several pools of one family are used in order; exhaustion names them all", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/31", "10.0.1.0/32"]);
  const ips = [];
  for (const id of ["a", "b", "c"]) ips.push((await ipam.allocate(owner(id), 4)).ip);
  assert.deepEqual(ips, ["10.0.0.0", "10.0.0.1", "10.0.1.0"]);
  await assert.rejects(
    ipam.allocate(owner("d"), 4),
    /every IPv4 pool is exhausted: 10\.0\.0\.0\/31 \(2 usable addresses\), 10\.0\.1\.0\/32 \(1 usable addresses\)/,
  );
});

test("dual-stack allocates one address per family in one transaction", async (t) => {
  const ipam = await startIpam(t, ["fd00:10::/120", "10.0.0.0/30"]);
  const got = await ipam.allocateAll({ ...owner("a"), podName: "p" });
  assert.deepEqual(
    got.map((a) => [a.family, a.ip, a.cidr]),
    [
      [4, "10.0.0.1", "10.0.0.0/30"],
      [6, "fd00:10::1", "fd00:10::/120"],
    ],
    "IPv4 first whatever the config order",
  );
  assert.deepEqual(await ipam.allocateAll(owner("a")), got);
  await ipam.allocateAll(owner("b"));
  // IPv4 is now full: the IPv6 half of c must not be kept either.
  await assert.rejects(ipam.allocateAll(owner("c")), code(IpamCode.exhausted));
  assert.deepEqual(await ipam.get(owner("c")), [], "all or nothing");
  assert.equal((await ipam.usage()).find((u) => u.family === 6)?.used, 2);
  await assert.rejects(
    (await startIpam(t, ["10.0.0.0/24"])).allocate(owner("x"), 6),
    (e: { code: string; message: string }) =>
      e.code === IpamCode.noPool &&
      /no IPv6 pod CIDR is configured \(podCIDRs: 10\.0\.0\.0\/24\)/.test(e.message),
  );
});

test("usage per pool: size, used, free (bigint sizes for IPv6)", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/24", "fd00::/64"]);
  await ipam.allocateAll(owner("a"));
  await ipam.allocate(owner("b"), 4);
  assert.deepEqual(await ipam.usage(), [
    { cidr: "10.0.0.0/24", family: 4, size: 254n, used: 2, free: 252n },
    { cidr: "fd00::/64", family: 6, size: 2n ** 64n - 1n, used: 1, free: 2n ** 64n - 2n },
  ]);
});

test("no duplicates under 50 concurrent allocations", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/24", "fd00::/120"]);
  const ids = Array.from({ length: 50 }, (_, i) => `c${i}`);
  // Each id twice: concurrent repeats of one ADD must not get a second address.
  const results = await Promise.all([...ids, ...ids].map((id) => ipam.allocateAll(owner(id))));
  const byId = new Map<string, string>();
  for (const r of results) {
    const key = r.map((a) => a.ip).join(",");
    const seen = byId.get(r[0]!.containerId);
    if (seen) assert.equal(key, seen);
    byId.set(r[0]!.containerId, key);
  }
  const ips = (await ipam.list()).map((a) => a.ip);
  assert.equal(ips.length, 100);
  assert.equal(new Set(ips).size, 100);
});

test("invalid input is refused with E_IPAM_BAD_OWNER / E_IPAM_BAD_FAMILY / E_IPAM_BAD_IP", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/24"]);
  const bad: [unknown, RegExp][] = [
    [{ containerId: "", ifname: "eth0" }, /containerId "": must be a non-empty string/],
    [{ containerId: "a b", ifname: "eth0" }, /containerId "a b": must be at most/],
    [{ containerId: "a", ifname: "" }, /ifname ""/],
    [{ containerId: "a", ifname: "a-very-long-ifname" }, /longer than 15 bytes/],
    [{ containerId: "a", ifname: "eth0/1" }, /must not be/],
    [{ containerId: "a", ifname: ".." }, /must not be/],
    [{ containerId: "a", ifname: "eth0", podName: "" }, /podName ""/],
    [{ ifname: "eth0" }, /containerId undefined/],
    [null, /invalid owner null/],
  ];
  for (const [o, want] of bad) {
    await assert.rejects(
      ipam.allocate(o as never, 4),
      (e: { code: string; message: string }) =>
        e.code === IpamCode.badOwner && want.test(e.message),
      JSON.stringify(o),
    );
  }
  await assert.rejects(ipam.release({ containerId: "", ifname: "eth0" }), code(IpamCode.badOwner));
  await assert.rejects(ipam.allocate(owner("a"), 5 as never), code(IpamCode.badFamily));
  await assert.rejects(ipam.releaseByIp("10.0.0"), code(IpamCode.badIp));
  await assert.rejects(ipam.gc([{ containerId: "ok", ifname: "" }]), code(IpamCode.badOwner));
  assert.deepEqual(await ipam.list(), []);
});

test("GC frees every allocation whose attachment the runtime no longer has", async (t) => {
  let now = Date.parse("2025-01-01T00:00:00Z");
  const ipam = await startIpam(t, ["10.0.0.0/24"], tempStateDir(t), { now: () => now });
  await ipam.allocate(owner("a"), 4);
  await ipam.allocate(owner("b"), 4);
  await ipam.allocate(owner("b", "net1"), 4);
  await ipam.allocate(owner("c"), 4);
  const released = await ipam.gc([owner("a"), owner("c"), owner("gone")]);
  assert.deepEqual(released.map((a) => `${a.containerId}/${a.ifname}`).sort(), [
    "b/eth0",
    "b/net1",
  ]);
  assert.deepEqual(
    (await ipam.list()).map((a) => a.containerId),
    ["a", "c"],
  );
  assert.deepEqual(await ipam.gc([owner("a"), owner("c")]), [], "nothing left to collect");
  // minAgeMs keeps an allocation that may have raced the runtime's snapshot.
  await ipam.allocate(owner("d"), 4);
  now += 1_000;
  assert.deepEqual(await ipam.gc([owner("a"), owner("c")], { minAgeMs: 60_000 }), []);
  now += 60_000;
  assert.deepEqual(
    (await ipam.gc([owner("a"), owner("c")], { minAgeMs: 60_000 })).map((a) => a.containerId),
    ["d"],
  );
});

test("reconcile at start frees addresses of containers the kernel no longer has", async (t) => {
  const ipam = await startIpam(t, ["10.0.0.0/24", "fd00::/120"]);
  await ipam.allocateAll(owner("live"));
  await ipam.allocateAll(owner("dead"));
  await ipam.allocate(owner("dead", "net1"), 4);
  const report = await ipam.reconcile(["live", "not-ours"]);
  assert.deepEqual(report.released.map((a) => `${a.containerId}/${a.ifname}/${a.ip}`).sort(), [
    "dead/eth0/10.0.0.2",
    "dead/eth0/fd00::2",
    "dead/net1/10.0.0.3",
  ]);
  assert.deepEqual(report.outOfPool, []);
  assert.deepEqual(
    (await ipam.list()).map((a) => a.containerId),
    ["live", "live"],
  );
});

test("a /16 fills without duplicates, then reports exhaustion", async (t) => {
  const ipam = await startIpam(t, ["10.20.0.0/16"]);
  const started = performance.now();
  let last = "";
  for (let i = 0; i < 65534; i += 1) last = (await ipam.allocate(owner(`c${i}`), 4)).ip;
  const ms = performance.now() - started;
  assert.equal(last, "10.20.255.254");
  await assert.rejects(ipam.allocate(owner("one-too-many"), 4), /65534 usable addresses/);
  const [u] = await ipam.usage();
  assert.equal(u!.used, 65534);
  t.diagnostic(`65534 allocations in ${ms.toFixed(0)} ms`);
});

test("a nearly full pool finds its last hole and a huge IPv6 pool never enumerates", async (t) => {
  const ipam = await startIpam(t, ["10.30.0.0/22", "fd00:1::/64"]);
  for (let i = 0; i < 1022; i += 1) await ipam.allocate(owner(`c${i}`), 4);
  await ipam.release(owner("c17")); // 10.30.0.18
  assert.equal((await ipam.allocate(owner("late"), 4)).ip, "10.30.0.18");
  const v6 = await ipam.allocate(owner("v6"), 6);
  assert.equal(v6.ip, "fd00:1::1");
  assert.equal(v6.prefixLen, 64);
});
