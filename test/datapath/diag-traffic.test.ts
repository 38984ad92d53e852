// Real packets: two network namespaces joined by a veth pair, diag_count on the
// receiving end's tc ingress (attached through the binding, inside the
// namespace), ping and a TCP connection sent through it, counts read from
// TypeScript; and per-packet events read from the ring buffer.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ipAddrToString } from "../../src/datapath/codec.ts";
import { config, maps, PacketEvent } from "../../src/datapath/generated/diag.ts";
import {
  attachTc,
  BpfMap,
  BpfObject,
  encodeGlobals,
  queryTc,
  RingBuffer,
} from "../../src/datapath/index.ts";
import {
  bpfObject,
  type Cleanup,
  cleanupFor,
  requireRoot,
  run,
  tempNetns,
  tempPinDir,
  uniqueName,
} from "../harness/index.ts";

requireRoot();

const ETH_P_IP = 0x0800;

/** ns a (10.99.0.1) <-veth-> ns b (10.99.0.2) */
function pair(c: Cleanup) {
  const a = tempNetns(c, "a");
  const b = tempNetns(c, "b");
  const va = uniqueName("va");
  const vb = uniqueName("vb");
  run("ip", ["-n", a.name, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", b.name]);
  run("ip", ["-n", a.name, "addr", "add", "10.99.0.1/24", "dev", va]);
  run("ip", ["-n", b.name, "addr", "add", "10.99.0.2/24", "dev", vb]);
  run("ip", ["-n", a.name, "link", "set", va, "up"]);
  run("ip", ["-n", b.name, "link", "set", vb, "up"]);
  return { a, b, va, vb };
}

async function tcpExchange(
  client: string,
  server: string,
  addr: string,
  port: number,
): Promise<void> {
  const listener = spawn("ip", ["netns", "exec", server, "nc", "-l", "-N", addr, String(port)], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let received = "";
  listener.stdout.on("data", (d: Buffer) => {
    received += d.toString();
  });
  const exited = new Promise<void>((resolve) => listener.on("exit", () => resolve()));
  try {
    for (let i = 0; i < 50; i++) {
      try {
        run("ip", ["netns", "exec", client, "nc", "-N", "-w", "2", addr, String(port)], {
          input: "hello fairway\n",
        });
        break;
      } catch (err) {
        if (i === 49) throw err;
        await sleep(20); // the listener is not up yet
      }
    }
    await Promise.race([exited, sleep(3000)]);
    assert.equal(received, "hello fairway\n");
  } finally {
    listener.kill();
  }
}

test("tc counter sees real ping and TCP traffic, per protocol", async (t) => {
  const c = cleanupFor(t);
  const { a, b, vb } = pair(c);
  const obj = BpfObject.load(bpfObject("diag"), { pinRoot: tempPinDir(c, "dtt") });
  c.defer(() => obj.close());
  const attachment = attachTc({
    program: obj.program("diag_count"),
    ifname: vb,
    netns: b.path,
    direction: "ingress",
  });
  c.defer(() => attachment.detach());
  assert.equal(queryTc({ ifname: vb, netns: b.path, direction: "ingress" }), attachment.progId);

  run("ip", ["netns", "exec", a.name, "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.99.0.2"]);
  await tcpExchange(a.name, b.name, "10.99.0.2", 7001);

  const stats = BpfMap.of(obj.map("diag_proto_stats"), maps.diag_proto_stats);
  const icmp = stats.lookup({ eth_proto: ETH_P_IP, family: 4, l4_proto: 1 });
  const tcp = stats.lookup({ eth_proto: ETH_P_IP, family: 4, l4_proto: 6 });
  assert.ok(icmp && icmp.packets >= 3n, `ICMP echo requests counted: ${icmp?.packets}`);
  // SYN, ACK, data, FIN, ACK at least.
  assert.ok(tcp && tcp.packets >= 4n, `TCP segments counted: ${tcp?.packets}`);
  assert.ok(tcp.bytes > tcp.packets * 54n, "bytes include headers");

  attachment.detach();
  assert.equal(queryTc({ ifname: vb, netns: b.path, direction: "ingress" }), null, "detached");
  assert.equal(
    run("ip", ["netns", "exec", b.name, "tc", "qdisc", "show", "dev", vb]).includes("clsact"),
    false,
  );
});

test("per-packet events arrive through the ring buffer in batches", async (t) => {
  const c = cleanupFor(t);
  const { a, b, vb } = pair(c);
  const obj = BpfObject.load(bpfObject("diag"), {
    pinRoot: tempPinDir(c, "dte"),
    globals: encodeGlobals(config, { cfg_emit_events: 1 }),
  });
  c.defer(() => obj.close());
  const events: { src: string; dst: string; proto: number }[] = [];
  let batches = 0;
  const ring = RingBuffer.open(obj.map("diag_events"), (batch) => {
    batches++;
    batch.forEach((r) => {
      const e = PacketEvent.decode(r);
      if (e.family === 4) {
        events.push({
          src: ipAddrToString(e.saddr, 4),
          dst: ipAddrToString(e.daddr, 4),
          proto: e.l4_proto,
        });
      }
    });
  });
  c.defer(() => ring.close());
  const attachment = attachTc({
    program: obj.program("diag_count"),
    ifname: vb,
    netns: b.path,
    direction: "ingress",
  });
  c.defer(() => attachment.detach());

  run("ip", ["netns", "exec", a.name, "ping", "-c", "5", "-i", "0.2", "-W", "1", "10.99.0.2"]);
  // The consumer is driven by the event loop: give it a turn to see the epoll fd.
  for (let i = 0; i < 50 && events.length < 5; i++) await sleep(10);
  const echoes = events.filter(
    (e) => e.proto === 1 && e.src === "10.99.0.1" && e.dst === "10.99.0.2",
  );
  assert.ok(echoes.length >= 5, `echo requests seen as events: ${echoes.length}`);
  assert.ok(batches >= 1 && batches <= ring.delivered);
});
