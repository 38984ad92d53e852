// The veth datapath on a real topology, all in throw-away namespaces:
//
//   pod A (eth0 10.244.7.10, fd00:244:7::10) ─┐
//                                             ├─ node: host veths, plumbPod routes,
//   pod B (eth0 10.244.7.11, fd00:244:7::11) ─┘  lxc.o/host.o; uplink 192.168.207.1/24,
//                                                 │                 fd00:207::1/64
//                      outside 192.168.207.2/24, fd00:207::2/64 (routes to the pods via the node)
//
// With `iptables -A FORWARD -j DROP` (and ip6tables) in the node, traffic the
// host stack forwards dies; traffic the programs forward does not. That is how
// these tests tell the eBPF path from the host path, besides the counters.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import * as net from "../../src/datapath/net/index.ts";
import {
  type PlumbedPod,
  plumbPod,
  unplumbPod,
  VethDatapath,
  type VethMode,
} from "../../src/datapath/veth/index.ts";
import {
  type Cleanup,
  cleanupFor,
  requireRoot,
  run,
  tempNetns,
  tempPinDir,
  uniqueName,
  waitNoTentative,
} from "../harness/index.ts";

requireRoot();

const execFileAsync = promisify(execFile);
const POD_A = { ip: "10.244.7.10", ip6: "fd00:244:7::10", id: 101 };
const POD_B = { ip: "10.244.7.11", ip6: "fd00:244:7::11", id: 102 };
const NODE_UPLINK_IP = "192.168.207.1";
const OUTSIDE_IP = "192.168.207.2";
const NODE_UPLINK_IP6 = "fd00:207::1";
const OUTSIDE_IP6 = "fd00:207::2";

interface Ns {
  name: string;
  path: string;
}

interface Lab {
  c: Cleanup;
  node: Ns;
  outside: Ns;
  podA: Ns;
  podB: Ns;
  pinRoot: string;
  uplink: string;
  a: PlumbedPod;
  b: PlumbedPod;
  dp: VethDatapath;
}

async function makeLab(c: Cleanup, mode: VethMode): Promise<Lab> {
  const node = tempNetns(c, "nd");
  const outside = tempNetns(c, "out");
  const podA = tempNetns(c, "pa");
  const podB = tempNetns(c, "pb");
  // Our cached netlink sockets would keep the namespaces alive after `ip netns del`.
  c.defer(() => net.closeNetlinkSocket(node.path));
  const pinRoot = tempPinDir(c, "vt");
  const uplink = uniqueName("up");
  run("ip", [
    "-n",
    node.name,
    "link",
    "add",
    uplink,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    outside.name,
  ]);
  run("ip", ["-n", node.name, "addr", "add", `${NODE_UPLINK_IP}/24`, "dev", uplink]);
  run("ip", ["-n", node.name, "link", "set", uplink, "up"]);
  run("ip", ["-n", outside.name, "addr", "add", `${OUTSIDE_IP}/24`, "dev", "eth0"]);
  run("ip", ["-n", outside.name, "link", "set", "eth0", "up"]);
  run("ip", ["-n", outside.name, "route", "add", "10.244.0.0/16", "via", NODE_UPLINK_IP]);
  run("ip", ["-n", node.name, "addr", "add", `${NODE_UPLINK_IP6}/64`, "dev", uplink, "nodad"]);
  run("ip", ["-n", outside.name, "addr", "add", `${OUTSIDE_IP6}/64`, "dev", "eth0", "nodad"]);
  run("ip", ["-n", outside.name, "route", "add", "fd00:244::/32", "via", NODE_UPLINK_IP6]);

  const dp = VethDatapath.load({ mode, pinRoot, netns: node.path, ipv6: true });
  let current = dp;
  c.defer(() => current.close());
  dp.attachUplink(uplink);
  const a = await plumbPod(
    { netnsPath: podA.path, hostIfname: uniqueName("ha"), podIps: [`${POD_A.ip}/32`, POD_A.ip6] },
    { netns: node.path },
  );
  const b = await plumbPod(
    { netnsPath: podB.path, hostIfname: uniqueName("hb"), podIps: [POD_B.ip, `${POD_B.ip6}/128`] },
    { netns: node.path },
  );
  for (const [pod, id] of [
    [a, POD_A.id],
    [b, POD_B.id],
  ] as const) {
    dp.attachEndpoint({
      endpointId: id,
      hostIfname: pod.hostIfname,
      podIps: pod.podIps,
      podMac: pod.podMac,
      hostMac: pod.hostMac,
    });
  }
  // Link-local addresses stay "tentative" for about a second after a link comes
  // up (duplicate address detection); until then the node cannot send neighbour
  // solicitations for the outside's IPv6 address. A real uplink is long past that.
  for (const ns of [node, outside]) await waitNoTentative(ns);
  const lab: Lab = { c, node, outside, podA, podB, pinRoot, uplink, a, b, dp };
  // A restart test swaps lab.dp; close whichever is current at the end.
  Object.defineProperty(lab, "dp", {
    get: () => current,
    set: (v: VethDatapath) => {
      current = v;
    },
  });
  return lab;
}

const inNs = (ns: Ns, cmd: string, ...args: string[]) => ["netns", "exec", ns.name, cmd, ...args];

/** true when `count` pings from `from` to `ip` all come back. */
async function pings(from: Ns, ip: string, count = 3): Promise<boolean> {
  try {
    await execFileAsync("ip", inNs(from, "ping", "-c", String(count), "-i", "0.1", "-W", "1", ip));
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to its end, feeding `input`; resolves with stdout (never rejects). */
function runWithInput(args: string[], input: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn("ip", args, { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => p.kill(), timeoutMs);
    p.once("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    p.stdin!.end(input);
  });
}

/** A TCP exchange with netcat: true when both sides got the other's line. */
async function tcpPingPong(client: Ns, server: Ns, ip: string, port = 5201): Promise<boolean> {
  const served = runWithInput(inNs(server, "nc", "-l", "-N", String(port)), "pong\n", 6000);
  for (let attempt = 0; attempt < 40; attempt++) {
    if (run("ip", inNs(server, "ss", "-Hltn", `sport = :${port}`)).trim()) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const answer = await runWithInput(
    inNs(client, "nc", "-N", "-w", "2", ip, String(port)),
    "ping\n",
    5000,
  );
  if (answer.trim() !== "pong") {
    // Unblock the listener, which never got a connection.
    await runWithInput(inNs(server, "nc", "-N", "-w", "1", "127.0.0.1", String(port)), "", 2000);
  }
  return answer.trim() === "pong" && (await served).trim() === "ping";
}

function forwardDrop(lab: Lab): void {
  run("ip", inNs(lab.node, "iptables", "-A", "FORWARD", "-j", "DROP"));
  run("ip", inNs(lab.node, "ip6tables", "-A", "FORWARD", "-j", "DROP"));
}

/** Packets the FORWARD DROP rules have seen: the host stack's forwarding. */
function forwardDrops(lab: Lab): number {
  let n = 0;
  for (const tool of ["iptables", "ip6tables"]) {
    const out = run("ip", inNs(lab.node, tool, "-L", "FORWARD", "-v", "-x", "-n"));
    const line = out.split("\n").find((l) => /\bDROP\b/.test(l) && !l.startsWith("Chain"));
    n += line ? Number(line.trim().split(/\s+/)[0]) : 0;
  }
  return n;
}

test("veth: pod->pod and pod->outside bypass the host stack (FORWARD DROP changes nothing)", async (t) => {
  const lab = await makeLab(cleanupFor(t), "veth");
  forwardDrop(lab);
  assert.ok(await pings(lab.podA, POD_B.ip), "ping pod A -> pod B");
  assert.ok(await pings(lab.podA, OUTSIDE_IP), "ping pod A -> outside");
  assert.ok(await pings(lab.outside, POD_A.ip), "ping outside -> pod A");
  assert.ok(await pings(lab.podA, POD_B.ip6), "IPv6 ping pod A -> pod B");
  assert.ok(await pings(lab.podA, OUTSIDE_IP6), "IPv6 ping pod A -> outside");
  assert.ok(await pings(lab.outside, POD_A.ip6), "IPv6 ping outside -> pod A");
  assert.ok(await tcpPingPong(lab.podA, lab.podB, POD_B.ip), "TCP pod A -> pod B");
  assert.ok(await tcpPingPong(lab.podA, lab.outside, OUTSIDE_IP), "TCP pod A -> outside");
  assert.equal(forwardDrops(lab), 0, "the host's FORWARD chain saw none of it");

  const paths = lab.dp.pathStats();
  assert.ok(
    (paths.FORWARD_PATH_PEER?.packets ?? 0n) > 0n,
    "pod->pod and outside->pod by redirect_peer",
  );
  const viaFib =
    (paths.FORWARD_PATH_FIB?.packets ?? 0n) + (paths.FORWARD_PATH_FIB_NEIGH?.packets ?? 0n);
  assert.ok(viaFib > 0n, "pod->outside by the FIB");
  const a = lab.dp.endpointStats(POD_A.id)!;
  const b = lab.dp.endpointStats(POD_B.id)!;
  assert.ok(a.egress.packets >= 12n + 6n, `pod A sent through BPF (${a.egress.packets})`);
  assert.ok(a.ingress.packets >= 12n, `pod A received through BPF (${a.ingress.packets})`);
  assert.ok(b.ingress.packets >= 3n && b.egress.packets >= 3n);
  assert.deepEqual(lab.dp.dropStats(), {});
});

test("veth-legacy: same plumbing, the host routing table forwards; FORWARD DROP stops it", async (t) => {
  const lab = await makeLab(cleanupFor(t), "veth-legacy");
  assert.ok(await pings(lab.podA, POD_B.ip), "ping pod A -> pod B");
  assert.ok(await pings(lab.podA, OUTSIDE_IP), "ping pod A -> outside");
  assert.ok(await pings(lab.podA, POD_B.ip6), "IPv6 ping pod A -> pod B");
  assert.ok(await tcpPingPong(lab.podA, lab.podB, POD_B.ip), "TCP pod A -> pod B");
  forwardDrop(lab);
  assert.equal(await pings(lab.podA, POD_B.ip, 2), false, "pod A -> pod B blocked by FORWARD DROP");
  assert.equal(await pings(lab.podA, POD_B.ip6, 2), false, "IPv6 too");
  assert.equal(
    await pings(lab.podA, OUTSIDE_IP, 2),
    false,
    "pod A -> outside blocked by FORWARD DROP",
  );
  assert.equal(await tcpPingPong(lab.podA, lab.podB, POD_B.ip), false, "TCP blocked too");
  assert.ok(forwardDrops(lab) > 0, "the FORWARD chain dropped them");

  assert.deepEqual(Object.keys(lab.dp.pathStats()), ["FORWARD_PATH_STACK_LEGACY"]);
  const a = lab.dp.endpointStats(POD_A.id)!;
  assert.ok(a.stack.packets >= 6n, "counted, then handed to the stack");
  assert.equal(a.egress.packets, 0n);
});

test("restart: traffic flows while the agent is gone; a new load restores endpoints without re-plumbing", async (t) => {
  const lab = await makeLab(cleanupFor(t), "veth");
  forwardDrop(lab);
  const ifindexes = [lab.a.hostIfindex, lab.b.hostIfindex];
  const oldProg = lab.dp.attachedProgramId(lab.a.hostIfname);
  assert.ok(oldProg);
  const before = lab.dp.endpointStats(POD_A.id)!;

  // 60 pings over ~3 s, spanning the gap and the reload.
  const ping = execFileAsync(
    "ip",
    inNs(lab.podA, "ping", "-c", "60", "-i", "0.05", "-W", "1", POD_B.ip),
  );
  await new Promise((r) => setTimeout(r, 500));
  lab.dp.close();
  assert.throws(() => lab.dp.endpoints(), { code: "E_VETH_CLOSED" });
  const filters = run(
    "ip",
    inNs(lab.node, "tc", "filter", "show", "dev", lab.a.hostIfname, "ingress"),
  );
  assert.match(filters, /from_container/, "the filter stays while the agent is down");
  assert.ok(existsSync(`${lab.pinRoot}/fw_endpoints`), "the endpoint map stays pinned");
  await new Promise((r) => setTimeout(r, 1000));

  const dp = VethDatapath.load({ mode: "veth", pinRoot: lab.pinRoot, netns: lab.node.path });
  lab.dp = dp;
  const restored = dp.restore();
  dp.attachUplink(lab.uplink);
  assert.deepEqual(restored.stale, []);
  assert.deepEqual(
    restored.endpoints.map((e) => [e.endpointId, e.hostIfindex, e.podIps, e.podMac, e.hostMac]),
    [
      [POD_A.id, lab.a.hostIfindex, [POD_A.ip, POD_A.ip6], lab.a.podMac, lab.a.hostMac],
      [POD_B.id, lab.b.hostIfindex, [POD_B.ip, POD_B.ip6], lab.b.podMac, lab.b.hostMac],
    ],
  );
  const newProg = dp.attachedProgramId(lab.a.hostIfname);
  assert.ok(newProg && newProg !== oldProg, "restore re-attached this load's program in place");

  const { stdout } = await ping;
  assert.match(stdout, / 60 received, 0% packet loss/, "no ping lost across the restart");
  const links = await net.listLinks({ netns: lab.node.path });
  assert.deepEqual(
    ifindexes.map((i) => links.some((l) => l.index === i)),
    [true, true],
    "same host veths: nothing was re-plumbed",
  );
  const after = dp.endpointStats(POD_A.id)!;
  assert.ok(
    after.egress.packets >= before.egress.packets + 60n,
    "counters kept counting in the pinned map",
  );
  assert.equal(forwardDrops(lab), 0);
});

test("restart into another mode: reload as veth-legacy, restore, and the host stack forwards", async (t) => {
  const lab = await makeLab(cleanupFor(t), "veth");
  lab.dp.close();
  const dp = VethDatapath.load({ mode: "veth-legacy", pinRoot: lab.pinRoot, netns: lab.node.path });
  lab.dp = dp;
  assert.equal(dp.restore().endpoints.length, 2);
  dp.attachUplink(lab.uplink);
  forwardDrop(lab);
  assert.equal(await pings(lab.podA, POD_B.ip, 2), false, "legacy now: FORWARD DROP applies");
  assert.ok((dp.pathStats().FORWARD_PATH_STACK_LEGACY?.packets ?? 0n) > 0n);
});

test("detach removes the filter and the map entries; unplumb removes the links; idempotent", async (t) => {
  const c = cleanupFor(t);
  const lab = await makeLab(c, "veth");
  assert.ok(await pings(lab.podA, POD_B.ip, 1));
  assert.equal(lab.dp.detachEndpoint(POD_A.id), true);
  assert.equal(lab.dp.attachedProgramId(lab.a.hostIfname), null, "filter gone");
  assert.doesNotMatch(
    run("ip", inNs(lab.node, "tc", "qdisc", "show", "dev", lab.a.hostIfname)),
    /clsact/,
    "the clsact qdisc we created is gone too",
  );
  assert.deepEqual(
    lab.dp.endpoints().map((e) => e.endpointId),
    [POD_B.id],
    "only B is left in the map",
  );
  assert.equal(lab.dp.endpointStats(POD_A.id), undefined, "A's counters are gone");
  assert.equal(lab.dp.detachEndpoint(POD_A.id), false, "second detach: nothing to do");
  assert.ok(await pings(lab.podA, POD_B.ip, 1), "A still reaches B, through the host stack now");

  assert.equal(
    await unplumbPod(
      { hostIfname: lab.a.hostIfname, netnsPath: lab.podA.path },
      { netns: lab.node.path },
    ),
    true,
  );
  assert.equal(await unplumbPod({ hostIfname: lab.a.hostIfname }, { netns: lab.node.path }), false);
  const podLinks = await net.listLinks({ netns: lab.podA.path });
  net.closeNetlinkSocket(lab.podA.path);
  assert.deepEqual(
    podLinks.map((l) => l.name),
    ["lo"],
    "the pod's eth0 went with the host veth",
  );

  assert.equal(lab.dp.detachUplink(lab.uplink), true);
  assert.equal(lab.dp.detachUplink(lab.uplink), false);
  assert.equal(lab.dp.detachEndpoint(POD_B.id), true);
  assert.deepEqual(lab.dp.endpoints(), []);

  await c.run();
  for (const ns of [lab.node, lab.outside, lab.podA, lab.podB]) {
    assert.equal(existsSync(ns.path), false, `namespace ${ns.name} removed`);
  }
  assert.equal(existsSync(lab.pinRoot), false, "pins removed");
  assert.deepEqual(net.openNetlinkSockets(), {}, "no netlink socket left open");
});

test("attachEndpoint refuses an address that belongs to another endpoint, and changes nothing", async (t) => {
  const lab = await makeLab(cleanupFor(t), "veth");
  assert.throws(
    () =>
      lab.dp.attachEndpoint({
        endpointId: 999,
        hostIfname: lab.b.hostIfname,
        podIps: ["10.244.7.99", POD_A.ip],
        podMac: lab.b.podMac,
        hostMac: lab.b.hostMac,
      }),
    { code: "E_VETH_ENDPOINT_CONFLICT", message: /10\.244\.7\.10 belongs to endpoint 101/ },
  );
  assert.deepEqual(
    lab.dp.endpoints().map((e) => [e.endpointId, e.podIps]),
    [
      [POD_A.id, [POD_A.ip, POD_A.ip6]],
      [POD_B.id, [POD_B.ip, POD_B.ip6]],
    ],
    "the address written before the conflict was rolled back",
  );
  assert.throws(
    () =>
      lab.dp.attachEndpoint({
        endpointId: 0,
        hostIfindex: 1,
        podIps: ["10.0.0.1"],
        podMac: "02:00:00:00:00:01",
        hostMac: "02:00:00:00:00:02",
      }),
    { code: "E_VETH_INVALID" },
  );
  await assert.rejects(
    plumbPod(
      { netnsPath: lab.podA.path, hostIfname: lab.a.hostIfname, podIps: ["10.244.7.50"] },
      { netns: lab.node.path },
    ),
    { code: "E_LINK_EXISTS" },
  );
});
