import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/base/log.ts";
import { IpamCode, ipamModule, podCidrsFromNode, StateCode } from "../../src/ipam/index.ts";
import { startIpam, tempStateDir } from "./ipam-fixtures.ts";

const owner = (containerId: string) => ({ containerId, ifname: "eth0" });

test("config: canonical, frozen, defaults; one error lists every problem", () => {
  const config = ipamModule.config({
    ipam: { podCIDRs: ["10.0.0.0/24", "FD00::/64"], stateDir: "/var/lib/fairway" },
  });
  assert.deepEqual(config, {
    podCIDRs: ["10.0.0.0/24", "fd00::/64"],
    nodeName: undefined,
    stateDir: "/var/lib/fairway",
    durability: "process",
  });
  assert.equal(Object.isFrozen(config), true);
  assert.throws(
    () =>
      ipamModule.config({
        ipam: { podCIDRs: ["10.0.0.1/24", "10.0.0.0/16", "10.0.0.0/8", "x"], stateDir: "rel" },
      }),
    (e: { code: string; message: string; details: { problems: string[] } }) => {
      assert.equal(e.code, IpamCode.badConfig);
      assert.deepEqual(e.details.problems, [
        'ipam.stateDir: "rel" must be an absolute path',
        'ipam.podCIDRs.0: invalid CIDR "10.0.0.1/24": host bits are set; did you mean 10.0.0.0/24?',
        "ipam.podCIDRs.2: 10.0.0.0/8 overlaps 10.0.0.0/16",
        'ipam.podCIDRs.3: invalid CIDR "x": missing "/prefix-length"',
      ]);
      return true;
    },
  );
  assert.throws(
    () => ipamModule.config({ ipam: { podCIDRs: [], stateDir: "/s", extra: 1 } }),
    (e: { details: { problems: string[] } }) =>
      e.details.problems.length >= 1 && e.details.problems.some((p) => /Unrecognized key/.test(p)),
  );
  assert.throws(() => ipamModule.config({}), /ipam\.podCIDRs/);
  assert.throws(
    () => ipamModule.config({ ipam: { podCIDRs: [], stateDir: "/s" } }),
    /ipam\.podCIDRs: empty, and no nodeName/,
  );
  assert.equal(
    ipamModule.config({ ipam: { podCIDRs: [], stateDir: "/s", nodeName: "n1" } }).nodeName,
    "n1",
  );
});

test("pod CIDRs from the Node object", () => {
  assert.deepEqual(
    podCidrsFromNode({ spec: { podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"] } }),
    ["10.244.1.0/24", "fd00:10:244:1::/64"],
  );
  assert.deepEqual(podCidrsFromNode({ spec: { podCIDR: "10.244.2.0/24" } }), ["10.244.2.0/24"]);
  assert.throws(
    () => podCidrsFromNode({ metadata: { name: "n1" }, spec: {} }),
    /node n1 has no spec\.podCIDRs/,
  );
  assert.throws(
    () => podCidrsFromNode({ metadata: { name: "n1" }, spec: { podCIDRs: ["10.0.0.1/8"] } }),
    /node n1: .*host bits/,
  );
});

test("create() does no I/O; start opens the db; stop releases it and is idempotent", async (t) => {
  const stateDir = join(tempStateDir(t), "nested", "state");
  const ipam = ipamModule.create({
    config: ipamModule.config({ ipam: { podCIDRs: ["10.0.0.0/24"], stateDir } }),
    log: silentLogger(),
    deps: {},
  });
  assert.equal(existsSync(stateDir), false, "create must not touch the disk");
  await assert.rejects(
    ipam.allocate(owner("a"), 4),
    (e: { code: string }) => e.code === IpamCode.notStarted,
  );
  await ipam.start();
  assert.equal(existsSync(join(stateDir, "fairway.db")), true);
  await ipam.allocate(owner("a"), 4);
  await ipam.stop();
  await ipam.stop();
  await assert.rejects(ipam.list(), (e: { code: string }) => e.code === IpamCode.notStarted);
  // IPAM reads the Node object's pod CIDRs from the cluster store when configured with none.
  assert.deepEqual(ipamModule.deps, ["cluster"]);
});

test("a restart keeps every allocation and the cursor", async (t) => {
  const dir = tempStateDir(t);
  const first = await startIpam(t, ["10.0.0.0/24", "fd00::/120"], dir);
  const a = await first.allocateAll(owner("a"));
  await first.allocateAll(owner("b"));
  await first.release(owner("b"));
  await first.stop();
  const second = await startIpam(t, ["10.0.0.0/24", "fd00::/120"], dir);
  assert.deepEqual(await second.allocateAll(owner("a")), a, "same addresses after restart");
  const c = await second.allocateAll(owner("c"));
  assert.deepEqual(
    c.map((x) => x.ip),
    ["10.0.0.3", "fd00::3"],
    "b's released addresses are not reused yet",
  );
  assert.equal((await second.list()).length, 4);
});

test("pod CIDR change: allocations outside the new CIDRs are reported, not silently kept", async (t) => {
  const dir = tempStateDir(t);
  const before = await startIpam(t, ["10.0.0.0/24"], dir);
  await before.allocate(owner("a"), 4); // 10.0.0.1
  await before.allocate(owner("b"), 4); // 10.0.0.2
  await before.stop();

  // A superset keeps them in a pool, and new addresses do not collide with them.
  const grown = await startIpam(t, ["10.0.0.0/23"], dir);
  assert.deepEqual(await grown.outOfPool(), []);
  assert.equal((await grown.allocate(owner("a"), 4)).cidr, "10.0.0.0/23");
  assert.equal((await grown.allocate(owner("c"), 4)).ip, "10.0.0.3");
  await grown.stop();

  const moved = await startIpam(t, ["10.1.0.0/24"], dir);
  assert.deepEqual(
    (await moved.outOfPool()).map((x) => x.ip),
    ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
  );
  await assert.rejects(moved.allocate(owner("a"), 4), (e: { code: string; message: string }) => {
    assert.equal(e.code, IpamCode.outOfPool);
    assert.match(
      e.message,
      /a\/eth0 holds 10\.0\.0\.1, which none of the configured pod CIDRs \(10\.1\.0\.0\/24\)/,
    );
    return true;
  });
  await moved.release(owner("a")); // CNI DEL, then the runtime's retried ADD:
  assert.equal((await moved.allocate(owner("a"), 4)).ip, "10.1.0.1");
  const report = await moved.reconcile(["a", "b"]);
  assert.deepEqual(
    report.released.map((x) => x.containerId),
    ["c"],
  );
  assert.deepEqual(
    report.outOfPool.map((x) => `${x.containerId} ${x.ip} ${x.cidr}`),
    ["b 10.0.0.2 10.0.0.0/24"],
  );
});

test("start fails clearly when the state dir cannot be used, and holds nothing", async (t) => {
  const file = join(tempStateDir(t), "not-a-dir");
  writeFileSync(file, "");
  const ipam = ipamModule.create({
    config: ipamModule.config({ ipam: { podCIDRs: ["10.0.0.0/24"], stateDir: file } }),
    log: silentLogger(),
    deps: {},
  });
  await assert.rejects(ipam.start(), (e: { code: string; message: string }) => {
    return e.code === StateCode.open && e.message.includes(file);
  });
  await assert.rejects(ipam.list(), (e: { code: string }) => e.code === IpamCode.notStarted);
  await ipam.stop();
});
