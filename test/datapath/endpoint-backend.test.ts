// The endpoint module as the agent's CNI backend, in-process, on real kernel
// objects: a throw-away node namespace (host veths, pinned maps, tc filters),
// pod namespaces, a real IPAM on a temp fairway.db. Every test ends by
// checking that nothing is left: no link, route, tc filter, map entry, row or
// allocation.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import type { CniRequest, CniResult } from "../../src/base/api.ts";
import { silentLogger } from "../../src/base/log.ts";
import { closeNetlinkSocket } from "../../src/datapath/net/index.ts";
import { EndpointService, hostIfnameFor, parseEndpointConfig } from "../../src/endpoint/index.ts";
import { IpamService, parseIpamConfig } from "../../src/ipam/index.ts";
import {
  type Cleanup,
  cleanupFor,
  requireRoot,
  run,
  tempNetns,
  tempPinDir,
} from "../harness/index.ts";

requireRoot();

const execFileAsync = promisify(execFile);
const PREFIX = "fwtep";
const NETWORK = "fairway";

interface Node {
  c: Cleanup;
  ns: { name: string; path: string };
  pinRoot: string;
  stateDir: string;
  ipam: IpamService;
  svc: EndpointService;
  /** stops the service and starts a new one on the same state and pins (an agent restart) */
  restart(): Promise<EndpointService>;
}

async function makeNode(c: Cleanup, podCIDRs: string[]): Promise<Node> {
  const ns = tempNetns(c, "nd");
  c.defer(() => closeNetlinkSocket(ns.path));
  const bpffsRoot = tempPinDir(c, "ep");
  const stateDir = mkdtempSync(join(tmpdir(), "fwt-ep-"));
  c.defer(() => rmSync(stateDir, { recursive: true, force: true }));
  const log = silentLogger();
  const ipam = new IpamService(parseIpamConfig({ podCIDRs, stateDir }), log);
  await ipam.start();
  c.defer(() => ipam.stop());
  const config = parseEndpointConfig({
    nodeName: "node-a",
    bpffsRoot,
    datapath: { mode: "veth", hostIfPrefix: PREFIX },
  });
  const make = () => new EndpointService({ config, ipam, log, netns: ns.path });
  const node: Node = {
    c,
    ns,
    pinRoot: config.pinRoot,
    stateDir,
    ipam,
    svc: make(),
    async restart() {
      await node.svc.stop();
      node.svc = make();
      await node.svc.start();
      return node.svc;
    },
  };
  await node.svc.start();
  c.defer(() => node.svc.stop());
  return node;
}

function request(
  id: string,
  netns: string | undefined,
  extra: Partial<CniRequest> = {},
): CniRequest {
  return {
    network: NETWORK,
    cniVersion: "1.1.0",
    containerId: id,
    ifname: "eth0",
    ...(netns === undefined ? {} : { netns }),
    pod: { namespace: "default", name: `pod-${id}` },
    args: {},
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  assert.fail("expected a rejection");
}

const bareIp = (r: CniResult, i = 0) => r.ips![i]!.address.split("/")[0]!;

async function pings(from: string, ip: string, count = 2): Promise<boolean> {
  try {
    await execFileAsync("ip", [
      "netns",
      "exec",
      from,
      "ping",
      "-c",
      String(count),
      "-i",
      "0.2",
      "-W",
      "1",
      ip,
    ]);
    return true;
  } catch {
    return false;
  }
}

/** Everything the node's kernel, the table and IPAM still hold for pods. */
async function leftovers(node: Node): Promise<Record<string, unknown>> {
  const links = run("ip", ["-n", node.ns.name, "-o", "link", "show"])
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0])
    .filter((n): n is string => !!n && n.startsWith(PREFIX));
  const routes = run("ip", ["-n", node.ns.name, "route", "show"])
    .split("\n")
    .filter((l) => l.includes(PREFIX));
  const neigh = run("ip", ["-n", node.ns.name, "neigh", "show"])
    .split("\n")
    .filter((l) => l.includes(PREFIX));
  const entries = JSON.parse(
    run("bpftool", ["-j", "map", "dump", "pinned", join(node.pinRoot, "fw_endpoints")]),
  ) as unknown[];
  const stats = JSON.parse(
    run("bpftool", ["-j", "map", "dump", "pinned", join(node.pinRoot, "fw_ep_stats")]),
  ) as unknown[];
  return {
    links,
    routes,
    neigh,
    entries: entries.length,
    stats: stats.length,
    rows: (await node.svc.listEndpoints()).length,
    allocations: (await node.ipam.list()).map((a) => a.ip),
  };
}

const CLEAN = { links: [], routes: [], neigh: [], entries: 0, stats: 0, rows: 0, allocations: [] };

test("ADD plumbs a fresh netns: address, route, datapath; pods ping each other; repeated ADD is the same", async (t) => {
  const c = cleanupFor(t);
  const node = await makeNode(c, ["10.243.0.0/24"]);
  const podA = tempNetns(c, "pa");
  const podB = tempNetns(c, "pb");
  const t0 = performance.now();
  const a = await node.svc.add(
    request("ctr-a", podA.path, { dns: { nameservers: ["10.96.0.10"] } }),
  );
  const addMs = performance.now() - t0;
  const b = await node.svc.add(request("ctr-b", podB.path));
  t.diagnostic(`first ADD ${addMs.toFixed(1)} ms`);

  const hostA = hostIfnameFor(PREFIX, "ctr-a", "eth0");
  assert.equal(hostA.length, 15);
  assert.equal(a.cniVersion, "1.1.0");
  assert.equal(a.interfaces![0]!.name, hostA);
  assert.equal(a.interfaces![1]!.name, "eth0");
  assert.equal(a.interfaces![1]!.sandbox, podA.path);
  assert.match(a.interfaces![1]!.mac!, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, "locally administered");
  assert.deepEqual(a.ips, [{ address: "10.243.0.1/32", gateway: "169.254.1.1", interface: 1 }]);
  assert.deepEqual(a.routes, [{ dst: "0.0.0.0/0", gw: "169.254.1.1" }]);
  assert.deepEqual(a.dns, { nameservers: ["10.96.0.10"] });
  assert.equal(bareIp(b), "10.243.0.2");

  // Inside the pod: the address, the default route, the static gateway neighbour.
  assert.match(run("ip", ["-n", podA.name, "addr", "show", "eth0"]), /inet 10\.243\.0\.1\/32/);
  assert.match(run("ip", ["-n", podA.name, "route"]), /default via 169\.254\.1\.1 dev eth0/);
  assert.match(
    run("ip", ["-n", podA.name, "neigh"]),
    /169\.254\.1\.1 dev eth0 lladdr \S+ PERMANENT/,
  );
  // On the node: the /32 route, the filter.
  assert.match(
    run("ip", ["-n", node.ns.name, "route"]),
    new RegExp(`10\\.243\\.0\\.1 dev ${hostA}`),
  );
  assert.match(
    run("tc", ["-n", node.ns.name, "filter", "show", "dev", hostA, "ingress"]),
    /from_container/,
  );
  assert.ok(await pings(podA.name, bareIp(b)), "pod A pings pod B");
  assert.ok(await pings(podB.name, bareIp(a)), "pod B pings pod A");

  // Repeated ADD: the same result, nothing new made.
  const again = await node.svc.add(
    request("ctr-a", podA.path, { dns: { nameservers: ["10.96.0.10"] } }),
  );
  assert.deepEqual(again, a);
  assert.equal((await node.svc.listEndpoints()).length, 2);
  assert.equal((await node.ipam.list()).length, 2);

  // CHECK agrees with ADD's result and notices a difference.
  await node.svc.check(request("ctr-a", podA.path, { prevResult: a }));
  const wrong = structuredClone(a);
  wrong.ips![0]!.address = "10.243.0.77/32";
  const failed = await codeOf(node.svc.check(request("ctr-a", podA.path, { prevResult: wrong })));
  assert.equal(failed.code, "E_CHECK_FAILED");
  assert.match(failed.message, /10\.243\.0\.77\/32/);
  run("ip", ["-n", podA.name, "link", "set", "eth0", "down"]);
  const down = await codeOf(node.svc.check(request("ctr-a", podA.path, { prevResult: a })));
  assert.equal(down.code, "E_CHECK_FAILED");
  assert.match(down.message, /eth0 is down/);
  run("ip", ["-n", podA.name, "link", "set", "eth0", "up"]);

  // The reader: by id, by containerId, by containerId:ifname; counters saw the pings.
  const listed = await node.svc.listEndpoints();
  const byId = await node.svc.getEndpoint(listed[0]!.id);
  assert.equal(byId?.containerId, "ctr-a");
  assert.equal((await node.svc.getEndpoint("ctr-b"))?.ips[0], "10.243.0.2/32");
  assert.equal(
    (await node.svc.getEndpoint("ctr-b:eth0"))?.hostIfname,
    hostIfnameFor(PREFIX, "ctr-b", "eth0"),
  );
  assert.equal(byId?.state, "ready");
  assert.equal(byId?.pod?.name, "pod-ctr-a");
  assert.ok((byId?.counters?.egress.packets ?? 0) >= 2, JSON.stringify(byId?.counters));

  await node.svc.del(request("ctr-a", podA.path));
  await node.svc.del(request("ctr-b", podB.path));
  assert.deepEqual(await leftovers(node), CLEAN);
  // The pods' ends went with the pairs.
  assert.doesNotMatch(run("ip", ["-n", podA.name, "link"]), /eth0/);
});

test("DEL frees everything; is idempotent; succeeds for unknown containers and a missing netns", async (t) => {
  const c = cleanupFor(t);
  const node = await makeNode(c, ["10.243.1.0/24"]);
  const pod = tempNetns(c, "pd");
  const r = await node.svc.add(request("ctr-d", pod.path));
  assert.equal(bareIp(r), "10.243.1.1");
  const before = await leftovers(node);
  assert.equal((before.links as string[]).length, 1);
  assert.equal(before.entries, 1);
  await node.svc.del(request("ctr-d", pod.path));
  assert.deepEqual(await leftovers(node), CLEAN);
  await node.svc.del(request("ctr-d", pod.path)); // again
  await node.svc.del(request("never-added", undefined)); // unknown, no netns
  await node.svc.del(request("never-added", "/run/netns/fwt-does-not-exist"));

  // The netns vanishes under a live endpoint (the runtime deleted it first).
  const gone = tempNetns(c, "pg");
  await node.svc.add(request("ctr-g", gone.path));
  run("ip", ["netns", "del", gone.name]);
  run("ip", ["netns", "add", gone.name]); // leave something for the harness's cleanup to delete
  await node.svc.del(request("ctr-g", gone.path));
  assert.deepEqual(await leftovers(node), CLEAN);
  // The freed address is not handed out again before the pool wraps.
  const next = await node.svc.add(request("ctr-e", pod.path));
  assert.equal(bareIp(next), "10.243.1.3");
  await node.svc.del(request("ctr-e", pod.path));
  assert.deepEqual(await leftovers(node), CLEAN);
});

test("bad input: right codes, messages naming the culprit, nothing left behind", async (t) => {
  const c = cleanupFor(t);
  const node = await makeNode(c, ["10.243.2.0/24"]);
  const pod = tempNetns(c, "pt");

  const missing = "/run/netns/fwt-no-such-netns";
  const e1 = await codeOf(node.svc.add(request("ctr-m", missing)));
  assert.equal(e1.code, "E_NETNS_NOT_FOUND");
  assert.match(e1.message, /\/run\/netns\/fwt-no-such-netns/);

  const notNs = join(node.stateDir, "not-a-netns");
  run("touch", [notNs]);
  assert.equal((await codeOf(node.svc.add(request("ctr-f", notNs)))).code, "E_NETNS_NOT_FOUND");

  // (no dummy driver in this kernel: a veth pair inside the pod takes the name)
  run("ip", ["-n", pod.name, "link", "add", "eth0", "type", "veth", "peer", "name", "other0"]);
  const e2 = await codeOf(node.svc.add(request("ctr-t", pod.path)));
  assert.equal(e2.code, "E_IFNAME_TAKEN");
  assert.match(e2.message, /eth0/);
  assert.match(e2.message, new RegExp(pod.path));
  // Another name in the same netns works.
  const ok = await node.svc.add(request("ctr-t", pod.path, { ifname: "net1" }));
  assert.equal(ok.interfaces![1]!.name, "net1");
  await node.svc.del(request("ctr-t", pod.path, { ifname: "net1" }));

  for (const [bad, field] of [
    [{ containerId: "bad id!" }, /containerId/],
    [{ containerId: "" }, /containerId/],
    [{ ifname: "much-too-long-ifname" }, /ifname/],
    [{ ifname: "a/b" }, /ifname/],
    [{ netns: "relative/path" }, /netns/],
    [{ network: "" }, /network/],
  ] as const) {
    const e = await codeOf(node.svc.add({ ...request("ctr-b", pod.path), ...bad }));
    assert.equal(e.code, "E_BAD_REQUEST", JSON.stringify(bad));
    assert.match(e.message, field);
  }
  const noNetns = await codeOf(node.svc.add(request("ctr-n", undefined)));
  assert.equal(noNetns.code, "E_BAD_REQUEST");
  const unknown = await codeOf(
    node.svc.check(request("ctr-u", pod.path, { prevResult: { cniVersion: "1.1.0" } })),
  );
  assert.equal(unknown.code, "E_CONTAINER_UNKNOWN");

  assert.deepEqual(await leftovers(node), CLEAN);
});

test("a /30 pool: two pods, then E_IPAM_EXHAUSTED with nothing half-made; STATUS says so", async (t) => {
  const c = cleanupFor(t);
  const node = await makeNode(c, ["10.243.3.0/30"]);
  const pods = [tempNetns(c, "x1"), tempNetns(c, "x2"), tempNetns(c, "x3")];
  assert.deepEqual(await node.svc.status(), { ready: true });
  const r1 = await node.svc.add(request("ctr-1", pods[0]!.path));
  const r2 = await node.svc.add(request("ctr-2", pods[1]!.path));
  assert.deepEqual([bareIp(r1), bareIp(r2)], ["10.243.3.1", "10.243.3.2"]);
  const status = await node.svc.status();
  assert.equal(status.ready, false);
  assert.match(status.reason!, /10\.243\.3\.0\/30/);
  const e = await codeOf(node.svc.add(request("ctr-3", pods[2]!.path)));
  assert.equal(e.code, "E_IPAM_EXHAUSTED");
  assert.match(e.message, /10\.243\.3\.0\/30/);
  assert.doesNotMatch(run("ip", ["-n", pods[2]!.name, "link"]), /eth0/);
  const held = await leftovers(node);
  assert.equal(held.rows, 2);
  assert.equal((held.links as string[]).length, 2);
  await node.svc.del(request("ctr-1", pods[0]!.path));
  const r3 = await node.svc.add(request("ctr-3", pods[2]!.path));
  assert.equal(bareIp(r3), "10.243.3.1");
  await node.svc.del(request("ctr-2", pods[1]!.path));
  await node.svc.del(request("ctr-3", pods[2]!.path));
  assert.deepEqual(await leftovers(node), CLEAN);
});

test("restart: endpoints restored in place, orphans removed; GC releases what the runtime no longer has", async (t) => {
  const c = cleanupFor(t);
  const node = await makeNode(c, ["10.243.4.0/24"]);
  const podA = tempNetns(c, "ra");
  const podB = tempNetns(c, "rb");
  const podC = tempNetns(c, "rc");
  const a = await node.svc.add(request("ctr-a", podA.path));
  const b = await node.svc.add(request("ctr-b", podB.path));
  const cc = await node.svc.add(request("ctr-c", podC.path));
  const ifindexA = Number(
    run("ip", ["-n", node.ns.name, "-o", "link", "show", a.interfaces![0]!.name]).split(":")[0],
  );

  // While "the agent is down": an orphan veth with our prefix and pod C's netns vanishes.
  await node.svc.stop();
  run("ip", [
    "-n",
    node.ns.name,
    "link",
    "add",
    `${PREFIX}0123456789`,
    "type",
    "veth",
    "peer",
    "name",
    "fwtorph",
  ]);
  run("ip", ["netns", "del", podC.name]);
  run("ip", ["netns", "add", podC.name]);
  assert.ok(await pings(podA.name, bareIp(b)), "traffic flows with the agent stopped");
  await node.restart();
  const after = (await node.svc.listEndpoints()).map((e) => `${e.containerId}:${e.state}`);
  assert.deepEqual(after, ["ctr-a:ready", "ctr-b:ready"]);
  assert.equal(
    Number(
      run("ip", ["-n", node.ns.name, "-o", "link", "show", a.interfaces![0]!.name]).split(":")[0],
    ),
    ifindexA,
    "not re-plumbed",
  );
  assert.doesNotMatch(run("ip", ["-n", node.ns.name, "link"]), /fwtep0123456789|fwtorph/);
  assert.deepEqual(
    (await node.ipam.list()).map((x) => x.ip),
    [bareIp(a), bareIp(b)],
  );
  assert.ok(!(await node.ipam.list()).some((x) => x.ip === bareIp(cc)));
  assert.ok(await pings(podA.name, bareIp(b)), "traffic after the restart");
  const again = await node.svc.add(request("ctr-a", podA.path));
  assert.deepEqual(again, a, "repeated ADD after restart gives the same result");

  await node.svc.gc({
    network: NETWORK,
    cniVersion: "1.1.0",
    validAttachments: [{ containerId: "ctr-a", ifname: "eth0" }],
  });
  assert.deepEqual(
    (await node.svc.listEndpoints()).map((e) => e.containerId),
    ["ctr-a"],
  );
  assert.deepEqual(
    (await node.ipam.list()).map((x) => x.ip),
    [bareIp(a)],
  );
  assert.doesNotMatch(run("ip", ["-n", podB.name, "link"]), /eth0/);
  await node.svc.gc({ network: NETWORK, cniVersion: "1.1.0", validAttachments: [] });
  assert.deepEqual(await leftovers(node), CLEAN);
});

test("dual-stack: one address per family, both in the result, both ping", async (t) => {
  const c = cleanupFor(t);
  const node = await makeNode(c, ["10.243.5.0/24", "fd00:243:5::/64"]);
  const podA = tempNetns(c, "da");
  const podB = tempNetns(c, "db");
  const a = await node.svc.add(request("ctr-a", podA.path));
  const b = await node.svc.add(request("ctr-b", podB.path));
  assert.deepEqual(a.ips, [
    { address: "10.243.5.1/32", gateway: "169.254.1.1", interface: 1 },
    { address: "fd00:243:5::1/128", gateway: "fe80::1", interface: 1 },
  ]);
  assert.deepEqual(a.routes, [
    { dst: "0.0.0.0/0", gw: "169.254.1.1" },
    { dst: "::/0", gw: "fe80::1" },
  ]);
  assert.ok(await pings(podA.name, bareIp(b, 0)), "IPv4");
  assert.ok(await pings(podA.name, bareIp(b, 1)), "IPv6");
  await node.svc.check(request("ctr-b", podB.path, { prevResult: b }));
  await node.svc.del(request("ctr-a", podA.path));
  await node.svc.del(request("ctr-b", podB.path));
  assert.deepEqual(await leftovers(node), CLEAN);
});
