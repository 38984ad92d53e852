// BPF_PROG_TEST_RUN of diag_count on hand-built packets: valid TCP/UDP/ICMP,
// IP options (the L4 ports must still be found behind them), truncated L4,
// an invalid IHL, and non-IP frames. Counters and drop reasons are read back
// through the generated codecs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { config, maps, PacketEvent } from "../../src/datapath/generated/diag.ts";
import { DropReason } from "../../src/datapath/generated/drop_reasons.ts";
import { BpfMap, BpfObject, encodeGlobals, RingBuffer, testRun } from "../../src/datapath/index.ts";
import { bpfObject, cleanupFor, requireRoot, tempPinDir } from "../harness/index.ts";
import { arpPacket, ipv4Packet } from "../harness/packets.ts";

requireRoot();

const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
const ETH_P_IP = 0x0800;

function load(
  t: Parameters<typeof cleanupFor>[0],
  values: Parameters<typeof encodeGlobals<typeof config>>[1],
) {
  const c = cleanupFor(t);
  const obj = BpfObject.load(bpfObject("diag"), {
    pinRoot: tempPinDir(c, "dtr"),
    globals: encodeGlobals(config, values),
  });
  c.defer(() => obj.close());
  return {
    c,
    obj,
    prog: obj.program("diag_count"),
    stats: BpfMap.of(obj.map("diag_proto_stats"), maps.diag_proto_stats),
    drops: BpfMap.of(obj.map("diag_drops"), maps.diag_drops),
  };
}

test("valid TCP, UDP and ICMP packets are counted per protocol with their bytes", (t) => {
  const { prog, stats, drops } = load(t, {});
  const tcp = ipv4Packet({ proto: "tcp", payload: new Uint8Array(100) });
  for (const pkt of [tcp, tcp, ipv4Packet({ proto: "udp" }), ipv4Packet({ proto: "icmp" })]) {
    assert.equal(testRun(prog, { data: pkt }).retval, TC_ACT_OK);
  }
  const tcpStats = stats.lookup({ eth_proto: ETH_P_IP, family: 4, l4_proto: 6 });
  assert.deepEqual(tcpStats, { packets: 2n, bytes: BigInt(tcp.length * 2) });
  assert.equal(stats.lookup({ eth_proto: ETH_P_IP, family: 4, l4_proto: 17 })?.packets, 1n);
  assert.equal(stats.lookup({ eth_proto: ETH_P_IP, family: 4, l4_proto: 1 })?.packets, 1n);
  assert.equal(
    [...drops.entries()].filter(([, v]) => v.packets > 0n).length,
    0,
    "no drops for valid packets",
  );
});

test("ports are parsed behind IPv4 options", async (t) => {
  const { c, obj, prog } = load(t, { cfg_emit_events: 1 });
  const events: ReturnType<typeof PacketEvent.decode>[] = [];
  const ring = RingBuffer.open(obj.map("diag_events"), (batch) => {
    batch.forEach((r) => {
      events.push(PacketEvent.decode(r));
    });
  });
  c.defer(() => ring.close());
  // 8 bytes of options: NOP NOP NOP then an End-of-list, padded: IHL becomes 7.
  const pkt = ipv4Packet({
    proto: "tcp",
    sport: 12345,
    dport: 8080,
    ipOptions: new Uint8Array([1, 1, 1, 0, 0, 0, 0, 0]),
  });
  assert.equal(pkt[14]! & 0x0f, 7);
  assert.equal(testRun(prog, { data: pkt }).retval, TC_ACT_OK);
  ring.drain();
  assert.equal(events.length, 1);
  assert.equal(events[0]!.sport, 12345);
  assert.equal(events[0]!.dport, 8080);
  assert.equal(events[0]!.l4_proto, 6);
  assert.deepEqual([...events[0]!.saddr.subarray(0, 4)], [10, 0, 0, 1]);
});

test("truncated L4 and a bad IHL are counted as drops with their reason, not as traffic", (t) => {
  const { prog, stats, drops } = load(t, {});
  const truncated = ipv4Packet({ proto: "tcp", truncateTo: 14 + 20 + 10 });
  const badIhl = ipv4Packet({ proto: "udp", ihl: 3 });
  assert.equal(testRun(prog, { data: truncated }).retval, TC_ACT_OK, "observe only by default");
  assert.equal(testRun(prog, { data: badIhl }).retval, TC_ACT_OK);
  assert.equal(drops.lookup(DropReason.DROP_TRUNCATED_L4)?.packets, 1n);
  assert.equal(drops.lookup(DropReason.DROP_INVALID_IPV4_HDR_LEN)?.packets, 1n);
  assert.equal(stats.lookup({ eth_proto: ETH_P_IP, family: 4, l4_proto: 6 }), undefined);
});

test("with cfg_drop_malformed the program drops malformed packets and passes valid ones", (t) => {
  const { prog } = load(t, { cfg_drop_malformed: 1 });
  assert.equal(testRun(prog, { data: ipv4Packet({ proto: "udp", ihl: 4 }) }).retval, TC_ACT_SHOT);
  assert.equal(testRun(prog, { data: ipv4Packet({ proto: "udp" }) }).retval, TC_ACT_OK);
});

test("non-IP frames are counted under family 0 with their EtherType", (t) => {
  const { prog, stats } = load(t, {});
  assert.equal(testRun(prog, { data: arpPacket() }).retval, TC_ACT_OK);
  assert.equal(stats.lookup({ eth_proto: 0x0806, family: 0, l4_proto: 0 })?.packets, 1n);
});
