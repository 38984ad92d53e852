// from_container and from_netdev under BPF_PROG_TEST_RUN: hand-built frames,
// endpoint map entries seeded through VethDatapath, verdicts, rewritten bytes
// and counters checked.
//
// The FIB helper answers from the network namespace of the test run's device,
// and BPF_PROG_TEST_RUN takes its device from the caller's namespace. So the
// runs happen in a child process entered into a throw-away namespace with
// `nsenter --net` (not `ip netns exec`, which would hide bpffs behind a fresh
// /sys): the child loads the objects with the same pin directory (so it sees
// the parent's maps), runs the frames and prints the results as JSON.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { parseEnums } from "../../scripts/gen-codecs/c-source.ts";
import * as net from "../../src/datapath/net/index.ts";
import { EndpointFlags, VethDatapath } from "../../src/datapath/veth/index.ts";
import {
  bpfObject,
  type Cleanup,
  cleanupFor,
  repoRoot,
  requireRoot,
  run,
  tempNetns,
  tempPinDir,
  uniqueName,
} from "../harness/index.ts";

requireRoot();

const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;

// --- frames ---------------------------------------------------------------------

const mac = (s: string) => Buffer.from(s.replaceAll(":", ""), "hex");
const ip4 = (s: string) => Buffer.from(s.split(".").map(Number));
const ip6 = (s: string) => Buffer.from(net.parseIp(s).bytes);

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) + (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function eth(dst: string, src: string, type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  mac(dst).copy(h, 0);
  mac(src).copy(h, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

/** IPv4 + UDP 1234 -> 5678 with 8 bytes of payload. */
function ipv4Udp(src: string, dst: string, opts: { ttl?: number; ihl?: number } = {}): Buffer {
  const udp = Buffer.alloc(16);
  udp.writeUInt16BE(1234, 0);
  udp.writeUInt16BE(5678, 2);
  udp.writeUInt16BE(16, 4);
  const h = Buffer.alloc(20);
  h[0] = 0x40 | (opts.ihl ?? 5);
  h.writeUInt16BE(20 + udp.length, 2);
  h[8] = opts.ttl ?? 64;
  h[9] = 17;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, udp]);
}

/** IPv4 + a TCP header whose data offset is below 5: malformed. */
function ipv4BadTcp(src: string, dst: string): Buffer {
  const p = ipv4Udp(src, dst);
  p[9] = 6;
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(checksum(p.subarray(0, 20)), 10);
  const tcp = Buffer.alloc(20);
  tcp[12] = 4 << 4;
  return Buffer.concat([p.subarray(0, 20), tcp]);
}

function ipv6Udp(src: string, dst: string, hopLimit = 64): Buffer {
  const udp = Buffer.alloc(16);
  udp.writeUInt16BE(1234, 0);
  udp.writeUInt16BE(5678, 2);
  udp.writeUInt16BE(16, 4);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(udp.length, 4);
  h[6] = 17;
  h[7] = hopLimit;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return Buffer.concat([h, udp]);
}

function arpRequest(srcMac: string): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0);
  a.writeUInt16BE(0x0800, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(1, 6);
  mac(srcMac).copy(a, 8);
  return eth("ff:ff:ff:ff:ff:ff", srcMac, 0x0806, a);
}

// --- the child that runs frames inside the namespace ------------------------------

interface Run {
  data: Buffer;
  ifindex: number;
}
interface RunResult {
  retval: number;
  out: Buffer;
}

const CHILD = `
import { readFileSync } from "node:fs";
import { BpfObject } from ${JSON.stringify(pathToFileURL(join(repoRoot, "src/datapath/bpf/object.ts")).href)};
import { testRun } from ${JSON.stringify(pathToFileURL(join(repoRoot, "src/datapath/bpf/testrun.ts")).href)};
const req = JSON.parse(readFileSync(0, "utf8"));
const obj = BpfObject.load(req.object, { pinRoot: req.pinRoot, globals: { cfg_host_routing: Uint8Array.of(req.hostRouting) } });
const prog = obj.program(req.program);
const out = req.runs.map((r) => {
  const ctx = new Uint8Array(192);
  new DataView(ctx.buffer).setUint32(40, r.ifindex, true); // __sk_buff.ifindex
  const res = testRun(prog, { data: Buffer.from(r.data, "hex"), ctx });
  return { retval: res.retval, out: res.dataOut.toString("hex") };
});
obj.close();
process.stdout.write(JSON.stringify(out));
`;

function runInNetns(
  netnsPath: string,
  pinRoot: string,
  program: "from_container" | "from_netdev",
  runs: Run[],
  hostRouting = 1,
): RunResult[] {
  const object = bpfObject(program === "from_container" ? "lxc" : "host");
  const input = JSON.stringify({
    object,
    pinRoot,
    program,
    hostRouting,
    runs: runs.map((r) => ({ data: r.data.toString("hex"), ifindex: r.ifindex })),
  });
  const stdout = execFileSync(
    "nsenter",
    [`--net=${netnsPath}`, process.execPath, "--import", "tsx", "--input-type=module", "-e", CHILD],
    { cwd: repoRoot, input, encoding: "utf8" },
  );
  return (JSON.parse(stdout) as { retval: number; out: string }[]).map((r) => ({
    retval: r.retval,
    out: Buffer.from(r.out, "hex"),
  }));
}

// --- the namespace: two "host veths" for pods A and B, an uplink with a known
// neighbour, a route via an unresolved gateway and an unreachable route ---------

const A = { ip: "10.244.0.10", ip6: "fd00::10", mac: "02:00:00:00:0a:0a", id: 11 };
const B = { ip: "10.244.0.11", ip6: "fd00::11", mac: "02:00:00:00:0b:0b", id: 12 };
const NEIGH_MAC = "02:00:00:00:99:02";

interface Lab {
  ns: { name: string; path: string };
  pinRoot: string;
  dp: VethDatapath;
  hostA: { ifindex: number; mac: string };
  hostB: { ifindex: number; mac: string };
  uplink: { ifindex: number; mac: string };
}

async function link(name: string, netns: string): Promise<{ ifindex: number; mac: string }> {
  const l = await net.getLink(name, { netns });
  return { ifindex: l.index, mac: l.mac! };
}

async function makeLab(c: Cleanup, mode: "veth" | "veth-legacy" = "veth"): Promise<Lab> {
  const ns = tempNetns(c, "tr");
  c.defer(() => net.closeNetlinkSocket(ns.path));
  const pinRoot = tempPinDir(c, "tr");
  const [ha, hb, up] = [uniqueName("a"), uniqueName("b"), uniqueName("u")];
  const ipn = (...args: string[]) => run("ip", ["-n", ns.name, ...args]);
  // Quiet links: no IPv6 router solicitations or MLD reports that the
  // attached programs would count between our runs.
  for (const key of ["all", "default"]) {
    run("ip", ["netns", "exec", ns.name, "sysctl", "-qw", `net.ipv6.conf.${key}.disable_ipv6=1`]);
  }
  for (const name of [ha, hb, up]) {
    ipn("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
    ipn("link", "set", name, "up");
    ipn("link", "set", `${name}p`, "up");
  }
  ipn("addr", "add", "192.0.2.1/24", "dev", up);
  ipn("neigh", "replace", "192.0.2.2", "lladdr", NEIGH_MAC, "dev", up, "nud", "permanent");
  ipn("route", "add", "198.51.100.0/24", "via", "192.0.2.3", "dev", up);
  ipn("route", "add", "unreachable", "203.0.113.0/24");
  run("ip", ["netns", "exec", ns.name, "sysctl", "-qw", "net.ipv4.conf.all.forwarding=1"]);
  const dp = VethDatapath.load({ mode, pinRoot, netns: ns.path });
  c.defer(() => dp.close());
  const hostA = await link(ha, ns.path);
  const hostB = await link(hb, ns.path);
  const uplink = await link(up, ns.path);
  dp.attachEndpoint({
    endpointId: A.id,
    hostIfindex: hostA.ifindex,
    podIps: [A.ip, A.ip6],
    podMac: A.mac,
    hostMac: hostA.mac,
  });
  dp.attachEndpoint({
    endpointId: B.id,
    hostIfindex: hostB.ifindex,
    podIps: [B.ip, B.ip6],
    podMac: B.mac,
    hostMac: hostB.mac,
  });
  return { ns, pinRoot, dp, hostA, hostB, uplink };
}

/** A frame pod A sends: to its gateway's MAC (host veth A), arriving on host veth A. */
const fromA = (lab: Lab, l3: Buffer, type = 0x0800): Run => ({
  data: eth(lab.hostA.mac, A.mac, type, l3),
  ifindex: lab.hostA.ifindex,
});

const macAt = (frame: Buffer, off: number) =>
  [...frame.subarray(off, off + 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");

function assertRouted(frame: Buffer, dstMac: string, srcMac: string, ttl: number): void {
  assert.equal(macAt(frame, 0), dstMac, "destination MAC");
  assert.equal(macAt(frame, 6), srcMac, "source MAC");
  assert.equal(frame[14 + 8], ttl, "TTL");
  assert.equal(checksum(frame.subarray(14, 34)), 0, "IPv4 header checksum still valid");
}

test("from_container: local pod -> redirect_peer with routed MACs and TTL; counters per endpoint", async (t) => {
  const lab = await makeLab(cleanupFor(t));
  const [v4, v6] = runInNetns(lab.ns.path, lab.pinRoot, "from_container", [
    fromA(lab, ipv4Udp(A.ip, B.ip)),
    fromA(lab, ipv6Udp(A.ip6, B.ip6), 0x86dd),
  ]);
  assert.equal(v4!.retval, TC_ACT_REDIRECT);
  assertRouted(v4!.out, B.mac, lab.hostB.mac, 63);
  assert.equal(v6!.retval, TC_ACT_REDIRECT);
  assert.equal(macAt(v6!.out, 0), B.mac);
  assert.equal(macAt(v6!.out, 6), lab.hostB.mac);
  assert.equal(v6!.out[14 + 7], 63, "hop limit");

  assert.equal(lab.dp.pathStats().FORWARD_PATH_PEER?.packets, 2n);
  const a = lab.dp.endpointStats(A.id)!;
  const b = lab.dp.endpointStats(B.id)!;
  assert.equal(a.egress.packets, 2n);
  assert.equal(a.egress.bytes, BigInt(v4!.out.length + v6!.out.length));
  assert.equal(b.ingress.packets, 2n);
  assert.equal(b.egress.packets, 0n);
});

test("from_container: off the node by the FIB, or to the stack when the FIB says so", async (t) => {
  const lab = await makeLab(cleanupFor(t));
  const [known, unresolved, noRoute, unreachable, ttl1] = runInNetns(
    lab.ns.path,
    lab.pinRoot,
    "from_container",
    [
      fromA(lab, ipv4Udp(A.ip, "192.0.2.2")),
      fromA(lab, ipv4Udp(A.ip, "198.51.100.7")),
      fromA(lab, ipv4Udp(A.ip, "100.64.0.1")),
      fromA(lab, ipv4Udp(A.ip, "203.0.113.9")),
      fromA(lab, ipv4Udp(A.ip, B.ip, { ttl: 1 })),
    ],
  );
  assert.equal(known!.retval, TC_ACT_REDIRECT, "neighbour known: bpf_redirect");
  assertRouted(known!.out, NEIGH_MAC, lab.uplink.mac, 63);
  assert.equal(unresolved!.retval, TC_ACT_REDIRECT, "neighbour unknown: bpf_redirect_neigh");
  assert.equal(unresolved!.out[14 + 8], 63, "TTL decremented before the neighbour layer");

  const untouched = fromA(lab, ipv4Udp(A.ip, "100.64.0.1")).data;
  assert.equal(noRoute!.retval, TC_ACT_OK, "no route at all: the stack answers");
  assert.deepEqual(noRoute!.out, untouched, "handed over unchanged");
  assert.equal(unreachable!.retval, TC_ACT_OK, "unreachable route: the stack sends ICMP");
  assert.equal(ttl1!.retval, TC_ACT_OK, "TTL expiring: the stack sends time exceeded");
  assert.equal(ttl1!.out[14 + 8], 1, "TTL untouched");

  const paths = lab.dp.pathStats();
  assert.equal(paths.FORWARD_PATH_FIB?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_FIB_NEIGH?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_STACK_FIB_LOCAL?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_STACK_NO_ROUTE?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_STACK_TTL?.packets, 1n);
  const a = lab.dp.endpointStats(A.id)!;
  assert.equal(a.egress.packets, 2n);
  assert.equal(a.stack.packets, 3n);
});

test("from_container: malformed and spoofed frames are dropped and counted; ARP goes to the stack", async (t) => {
  const lab = await makeLab(cleanupFor(t));
  const [badIhl, badTcp, spoofed, arp] = runInNetns(lab.ns.path, lab.pinRoot, "from_container", [
    fromA(lab, ipv4Udp(A.ip, B.ip, { ihl: 4 })),
    fromA(lab, ipv4BadTcp(A.ip, B.ip)),
    fromA(lab, ipv4Udp(B.ip, "192.0.2.2")),
    { data: arpRequest(A.mac), ifindex: lab.hostA.ifindex },
  ]);
  assert.equal(badIhl!.retval, TC_ACT_SHOT);
  assert.equal(badTcp!.retval, TC_ACT_SHOT);
  assert.equal(spoofed!.retval, TC_ACT_SHOT, "B's address on A's veth");
  assert.equal(arp!.retval, TC_ACT_OK);
  const drops = lab.dp.dropStats();
  assert.deepEqual(Object.keys(drops).sort(), [
    "DROP_INVALID_IPV4_HDR_LEN",
    "DROP_INVALID_SOURCE",
    "DROP_INVALID_TCP_HDR_LEN",
  ]);
  assert.equal(lab.dp.pathStats().FORWARD_PATH_STACK_NOT_IP?.packets, 1n);
  assert.equal(
    lab.dp.endpointStats(A.id)!.drop.packets,
    2n,
    "malformed, with A's source: A's drops",
  );
  assert.equal(
    lab.dp.endpointStats(B.id)!.drop.packets,
    0n,
    "a spoofer is not charged to its victim",
  );
});

test("from_container in veth-legacy: counted, then every packet to the stack unchanged", async (t) => {
  const lab = await makeLab(cleanupFor(t), "veth-legacy");
  const frames = [fromA(lab, ipv4Udp(A.ip, B.ip)), fromA(lab, ipv4Udp(A.ip, B.ip, { ihl: 4 }))];
  const results = runInNetns(lab.ns.path, lab.pinRoot, "from_container", frames, 0);
  for (const [i, r] of results.entries()) {
    assert.equal(r.retval, TC_ACT_OK);
    assert.deepEqual(r.out, frames[i]!.data);
  }
  assert.deepEqual(Object.keys(lab.dp.pathStats()), ["FORWARD_PATH_STACK_LEGACY"]);
  assert.deepEqual(lab.dp.dropStats(), {});
  assert.equal(lab.dp.endpointStats(A.id)!.stack.packets, 2n);
});

test("from_netdev: traffic for a local pod goes into it, the node's own stays with the stack", async (t) => {
  const lab = await makeLab(cleanupFor(t));
  const onUplink = (l3: Buffer, dstMac = lab.uplink.mac): Run => ({
    data: eth(dstMac, NEIGH_MAC, 0x0800, l3),
    ifindex: lab.uplink.ifindex,
  });
  const [toPod, toNode, otherHost, malformed] = runInNetns(
    lab.ns.path,
    lab.pinRoot,
    "from_netdev",
    [
      onUplink(ipv4Udp("192.0.2.2", B.ip)),
      onUplink(ipv4Udp("192.0.2.2", "192.0.2.1")),
      onUplink(ipv4Udp("192.0.2.2", B.ip), "02:00:00:00:77:77"),
      onUplink(ipv4Udp("192.0.2.2", B.ip, { ihl: 4 })),
    ],
  );
  assert.equal(toPod!.retval, TC_ACT_REDIRECT);
  assertRouted(toPod!.out, B.mac, lab.hostB.mac, 63);
  assert.equal(toNode!.retval, TC_ACT_OK);
  assert.equal(
    otherHost!.retval,
    TC_ACT_OK,
    "not our MAC: the stack drops it, we do not forward it",
  );
  assert.equal(malformed!.retval, TC_ACT_OK, "the uplink never drops what it does not understand");
  const paths = lab.dp.pathStats();
  assert.equal(paths.FORWARD_PATH_PEER?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_STACK_NOT_ENDPOINT?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_STACK_NOT_UNICAST?.packets, 1n);
  assert.equal(paths.FORWARD_PATH_STACK_UNPARSED?.packets, 1n);
  assert.equal(lab.dp.endpointStats(B.id)!.ingress.packets, 1n);
  assert.deepEqual(lab.dp.dropStats(), {});
});

test("an endpoint marked viaStack is left to the host stack, from pods and from the uplink", async (t) => {
  const lab = await makeLab(cleanupFor(t));
  lab.dp.attachEndpoint({
    endpointId: B.id,
    hostIfindex: lab.hostB.ifindex,
    podIps: [B.ip],
    podMac: B.mac,
    hostMac: lab.hostB.mac,
    viaStack: true,
  });
  const [toB] = runInNetns(lab.ns.path, lab.pinRoot, "from_container", [
    fromA(lab, ipv4Udp(A.ip, B.ip)),
  ]);
  const [fromUplink] = runInNetns(lab.ns.path, lab.pinRoot, "from_netdev", [
    {
      data: eth(lab.uplink.mac, NEIGH_MAC, 0x0800, ipv4Udp("192.0.2.2", B.ip)),
      ifindex: lab.uplink.ifindex,
    },
  ]);
  assert.equal(toB!.retval, TC_ACT_OK);
  assert.equal(fromUplink!.retval, TC_ACT_OK);
  assert.equal(lab.dp.pathStats().FORWARD_PATH_STACK_ENDPOINT?.packets, 2n);
});

test("the TypeScript mirror of enum endpoint_flags matches bpf/lib/endpoint.h", () => {
  const file = "bpf/lib/endpoint.h";
  const flags = parseEnums(readFileSync(join(repoRoot, file), "utf8"), file).find(
    (e) => e.name === "endpoint_flags",
  )!;
  assert.deepEqual(
    Object.fromEntries(flags.entries.map((e) => [e.name.replace(/^ENDPOINT_F_/, ""), e.value])),
    EndpointFlags,
  );
});
