// bpf/lib/reject.h: a refused packet turned into its answer in place (TCP RST per
// RFC 9293 3.10.7.1, ICMP port unreachable for the rest), checked byte by byte
// through BPF_PROG_TEST_RUN with checksums recomputed here; the packets that must
// not be answered; and real traffic: two namespaces, the fixture on tc ingress,
// a TCP connect and a UDP exchange refused at once, with checksum offload on
// and off on either side (off makes the kernel finish a CHECKSUM_PARTIAL reply
// from csum_start, and makes the client verify every checksum in software).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { type TestContext, test } from "node:test";
import { DropReason } from "../../src/datapath/generated/drop_reasons.ts";
import { attachTc, BpfObject, testRun } from "../../src/datapath/index.ts";
import {
  bpfObject,
  type Cleanup,
  cleanupFor,
  requireRoot,
  run,
  tempNetns,
  uniqueName,
} from "../harness/index.ts";
import { ipv4Packet } from "../harness/packets.ts";

requireRoot();

const TC_ACT_OK = 0;
const REFUSED = 1000; // reject_test's return: 1000 + drop reason (see the fixture)
const PARSE_FAILED = 2000;
const ETH = 14;
const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

// --- one's complement sums -------------------------------------------------

function sum16(bytes: Uint8Array, sum = 0): number {
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

function pseudo(ipHdr: Uint8Array, proto: number, len: number): number {
  return sum16(ipHdr.subarray(12, 20)) + proto + len;
}

/** A checksummed region sums to 0xffff with its checksum in it. */
function assertChecksum(what: string, sum: number): void {
  assert.equal(fold(sum), 0xffff, `${what} checksum verifies`);
}

// --- input packets -----------------------------------------------------------

function ihlOf(frame: Buffer): number {
  return (frame[ETH]! & 0x0f) * 4;
}

function setIpChecksum(frame: Buffer): Buffer {
  const hdr = frame.subarray(ETH, ETH + ihlOf(frame));
  hdr.writeUInt16BE(0, 10);
  hdr.writeUInt16BE(~fold(sum16(hdr)) & 0xffff, 10);
  return frame;
}

/** Real TCP/UDP checksums on the input too, so the input is a packet a stack would accept. */
function setL4Checksum(frame: Buffer): Buffer {
  const ihl = ihlOf(frame);
  const proto = frame[ETH + 9]!;
  const seg = frame.subarray(ETH + ihl, ETH + frame.readUInt16BE(ETH + 2));
  const at = proto === 6 ? 16 : 6;
  seg.writeUInt16BE(0, at);
  seg.writeUInt16BE(~fold(sum16(seg, pseudo(frame.subarray(ETH), proto, seg.length))) & 0xffff, at);
  return frame;
}

interface TcpIn {
  flags: number;
  seq?: number;
  ack?: number;
  payload?: Uint8Array;
  tcpOptions?: Uint8Array;
  ipOptions?: Uint8Array;
}

function tcpPacket(o: TcpIn): Buffer {
  const opts = o.tcpOptions ?? new Uint8Array(0);
  const frame = ipv4Packet({
    proto: "tcp",
    src: "10.0.1.5",
    dst: "10.96.0.10",
    sport: 43210,
    dport: 8080,
    payload: Buffer.concat([opts, o.payload ?? new Uint8Array(0)]),
    ipOptions: o.ipOptions,
  });
  const l4 = ETH + ihlOf(frame);
  frame[l4 + 12] = ((20 + opts.length) / 4) << 4;
  frame[l4 + 13] = o.flags;
  frame.writeUInt32BE(o.seq ?? 0x11223344, l4 + 4);
  frame.writeUInt32BE(o.ack ?? 0, l4 + 8);
  return setL4Checksum(frame);
}

function udpPacket(payload = Buffer.from("a question for the service"), ipOptions?: Uint8Array) {
  const frame = ipv4Packet({
    proto: "udp",
    src: "10.0.1.5",
    dst: "10.96.0.10",
    sport: 53535,
    dport: 53,
    payload,
    ipOptions,
  });
  return setL4Checksum(frame);
}

// --- running the fixture -------------------------------------------------------

function load(t: TestContext): ReturnType<BpfObject["program"]> {
  const c = cleanupFor(t);
  const obj = BpfObject.load(bpfObject("reject_test", "test"));
  c.defer(() => obj.close());
  return obj.program("reject_test");
}

function answer(t: TestContext, input: Buffer): Buffer {
  const r = testRun(load(t), { data: input });
  assert.equal(r.retval, TC_ACT_OK, `answered (retval ${r.retval})`);
  return r.dataOut;
}

function assertRefused(t: TestContext, input: Buffer, reason: number, base = REFUSED): void {
  const r = testRun(load(t), { data: input });
  assert.equal(r.retval, base + reason, `refused with ${DropReason[reason]} (retval ${r.retval})`);
  assert.deepEqual(r.dataOut, input, "a refused packet is left as it was");
}

// --- checking answers -------------------------------------------------------------

/** Ethernet + the 20-byte IPv4 header every answer starts with. Returns the L4 bytes. */
function checkIpv4(out: Buffer, input: Buffer, proto: number, totLen: number): Buffer {
  assert.equal(out.length, ETH + totLen, "frame length");
  assert.deepEqual(out.subarray(0, 6), input.subarray(6, 12), "to the sender's MAC");
  assert.deepEqual(out.subarray(6, 12), input.subarray(0, 6), "from the MAC it was sent to");
  assert.equal(out.readUInt16BE(12), 0x0800);
  const ip = out.subarray(ETH, ETH + 20);
  assert.equal(ip[0], 0x45, "IPv4, no options");
  assert.equal(ip[1], 0, "TOS");
  assert.equal(ip.readUInt16BE(2), totLen, "total length");
  assert.equal(ip.readUInt16BE(4), 0, "ID 0 ...");
  assert.equal(ip.readUInt16BE(6), 0x4000, "... with DF, not a fragment");
  assert.equal(ip[8], 64, "TTL");
  assert.equal(ip[9], proto, "protocol");
  assert.deepEqual(ip.subarray(12, 16), input.subarray(ETH + 16, ETH + 20), "from the frontend");
  assert.deepEqual(ip.subarray(16, 20), input.subarray(ETH + 12, ETH + 16), "to the client");
  assertChecksum("IPv4 header", sum16(ip));
  return out.subarray(ETH + 20);
}

function checkRst(out: Buffer, input: Buffer, want: { seq: number; ack: number; flags: number }) {
  const tcp = checkIpv4(out, input, 6, 40);
  const inTcp = input.subarray(ETH + ihlOf(input));
  assert.equal(tcp.readUInt16BE(0), inTcp.readUInt16BE(2), "source port: the frontend's");
  assert.equal(tcp.readUInt16BE(2), inTcp.readUInt16BE(0), "destination port: the client's");
  assert.equal(tcp.readUInt32BE(4), want.seq, "seq");
  assert.equal(tcp.readUInt32BE(8), want.ack, "ack");
  assert.equal(tcp[12], 0x50, "data offset 5: no options");
  assert.equal(tcp[13], want.flags, "flags");
  assert.equal(tcp.readUInt16BE(14), 0, "window");
  assert.equal(tcp.readUInt16BE(18), 0, "urgent pointer");
  assertChecksum("TCP", sum16(tcp, pseudo(out.subarray(ETH), 6, 20)));
}

function checkUnreach(out: Buffer, input: Buffer): void {
  const quoteLen = ihlOf(input) + 8;
  const icmp = checkIpv4(out, input, 1, 20 + 8 + quoteLen);
  assert.equal(icmp[0], 3, "destination unreachable");
  assert.equal(icmp[1], 3, "port unreachable");
  assert.equal(icmp.readUInt32BE(4), 0, "unused");
  assert.deepEqual(
    icmp.subarray(8),
    input.subarray(ETH, ETH + quoteLen),
    "quotes the IPv4 header as received and 8 bytes",
  );
  assertChecksum("ICMP", sum16(icmp));
}

// --- TCP ---------------------------------------------------------------------------

test("a SYN gets RST|ACK with seq 0 and ack = seq + 1", (t) => {
  const input = tcpPacket({ flags: TCP.SYN });
  checkRst(answer(t, input), input, { seq: 0, ack: 0x11223345, flags: TCP.RST | TCP.ACK });
});

test("a segment with ACK and payload gets a bare RST with seq = its ack, payload dropped", (t) => {
  const input = tcpPacket({
    flags: TCP.ACK | TCP.PSH,
    ack: 0xa0b0c0d0,
    payload: Buffer.alloc(1000, 0x61),
  });
  checkRst(answer(t, input), input, { seq: 0xa0b0c0d0, ack: 0, flags: TCP.RST });
});

test("without ACK, ack counts payload and FIN, modulo 2^32", (t) => {
  const input = tcpPacket({ flags: TCP.FIN | TCP.PSH, seq: 0xfffffff0, payload: Buffer.alloc(20) });
  checkRst(answer(t, input), input, { seq: 0, ack: 0x5, flags: TCP.RST | TCP.ACK });
});

test("TCP and IP options are not carried into the RST", (t) => {
  // Linux's SYN options: MSS, SACK permitted, timestamps, NOP, window scale (20 bytes).
  const tcpOptions = Buffer.from("020405b40402080a0001e2400000000001030307", "hex");
  const input = tcpPacket({
    flags: TCP.SYN,
    tcpOptions,
    ipOptions: new Uint8Array([1, 1, 1, 1, 1, 1, 1, 0]), // IHL 7
  });
  assert.equal(ihlOf(input), 28);
  checkRst(answer(t, input), input, { seq: 0, ack: 0x11223345, flags: TCP.RST | TCP.ACK });
});

test("a RST is never answered, with or without ACK", (t) => {
  assertRefused(t, tcpPacket({ flags: TCP.RST }), DropReason.DROP_REJECT_RST);
  assertRefused(t, tcpPacket({ flags: TCP.RST | TCP.ACK }), DropReason.DROP_REJECT_RST);
});

test("a data offset past the segment or a fragmented segment is not answered", (t) => {
  const longDoff = tcpPacket({ flags: TCP.SYN });
  longDoff[ETH + 20 + 12] = 15 << 4;
  assertRefused(t, longDoff, DropReason.DROP_REJECT_TRUNCATED);
  const firstFragment = tcpPacket({ flags: TCP.SYN, payload: Buffer.alloc(64) });
  firstFragment.writeUInt16BE(0x2000, ETH + 6); // MF
  assertRefused(t, setIpChecksum(firstFragment), DropReason.DROP_REJECT_FRAGMENT);
});

// --- UDP and the rest ------------------------------------------------------------------

test("a UDP datagram gets a port unreachable quoting its header and 8 bytes", (t) => {
  const input = udpPacket(Buffer.alloc(1200, 0x7a));
  checkUnreach(answer(t, input), input);
});

test("UDP with no payload, with IP options, or as long as its answer", (t) => {
  const empty = udpPacket(Buffer.alloc(0));
  assert.equal(empty.length, 42);
  checkUnreach(answer(t, empty), empty); // the frame grows: 42 -> 70
  const withOptions = udpPacket(Buffer.alloc(10), new Uint8Array([1, 1, 1, 0])); // IHL 6
  checkUnreach(answer(t, withOptions), withOptions);
  // As long as its answer (70 bytes): the length still changes on the way, one byte
  // more and back, which is what drops CHECKSUM_COMPLETE. (A bare SYN is the TCP case.)
  const sameLength = udpPacket(Buffer.alloc(28));
  checkUnreach(answer(t, sameLength), sameLength);
});

test("a first fragment and another L4 protocol are answered with port unreachable", (t) => {
  const first = udpPacket(Buffer.alloc(100));
  first.writeUInt16BE(0x2000, ETH + 6); // MF, offset 0
  setIpChecksum(first);
  checkUnreach(answer(t, first), first);
  const sctp = udpPacket(Buffer.alloc(40));
  sctp[ETH + 9] = 132;
  setIpChecksum(sctp);
  checkUnreach(answer(t, sctp), sctp);
});

test("ICMP, later fragments and short datagrams are not answered", (t) => {
  const echo = ipv4Packet({ proto: "icmp", src: "10.0.1.5", dst: "10.96.0.10" });
  assertRefused(t, echo, DropReason.DROP_REJECT_ICMP);
  const err = ipv4Packet({ proto: "icmp", src: "10.0.1.5", dst: "10.96.0.10" });
  err[ETH + 20] = 3; // an ICMP error: never answered
  assertRefused(t, err, DropReason.DROP_REJECT_ICMP);
  const later = udpPacket(Buffer.alloc(100));
  later.writeUInt16BE(0x0010, ETH + 6); // offset 128 bytes
  assertRefused(t, setIpChecksum(later), DropReason.DROP_REJECT_FRAGMENT);
  // Total length says 100 more bytes than the frame holds.
  const cut = udpPacket(Buffer.alloc(100)).subarray(0, ETH + 20 + 8 + 50);
  assertRefused(t, Buffer.from(cut), DropReason.DROP_REJECT_TRUNCATED);
  // Parsing already fails on a frame cut inside the UDP header.
  const noL4 = udpPacket().subarray(0, ETH + 20 + 4);
  assertRefused(t, Buffer.from(noL4), DropReason.DROP_TRUNCATED_L4, PARSE_FAILED);
});

test("broadcast, multicast and sources that are not one host are not answered", (t) => {
  const to = (dst: string) =>
    setL4Checksum(ipv4Packet({ proto: "udp", src: "10.0.1.5", dst, payload: Buffer.alloc(8) }));
  assertRefused(t, to("255.255.255.255"), DropReason.DROP_REJECT_NOT_UNICAST);
  assertRefused(t, to("224.0.0.251"), DropReason.DROP_REJECT_NOT_UNICAST);
  assertRefused(t, to("240.0.0.1"), DropReason.DROP_REJECT_NOT_UNICAST);
  const l2Broadcast = udpPacket();
  l2Broadcast.fill(0xff, 0, 6);
  assertRefused(t, l2Broadcast, DropReason.DROP_REJECT_NOT_UNICAST);
  const fromNobody = setL4Checksum(
    ipv4Packet({ proto: "udp", src: "0.0.0.0", dst: "10.96.0.10", payload: Buffer.alloc(8) }),
  );
  assertRefused(t, fromNobody, DropReason.DROP_REJECT_NOT_UNICAST);
  const fromMulticast = tcpPacket({ flags: TCP.SYN });
  fromMulticast.set([239, 1, 2, 3], ETH + 12);
  assertRefused(t, setIpChecksum(fromMulticast), DropReason.DROP_REJECT_NOT_UNICAST);
});

// --- real traffic ----------------------------------------------------------------------

const VIP = "10.96.0.10";
const REJECTED_PORT = 8080;

// Run with `ip netns exec <ns> python3 -c CLIENT host port tcp|udp timeout`.
const CLIENT = `
import errno, json, socket, sys, time
host, port, proto, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
t0 = time.monotonic()
try:
    if proto == "tcp":
        socket.create_connection((host, port), timeout=timeout)
        result = "connected"
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(b"fairway")
        s.recv(64)
        result = "answered"
except TimeoutError:
    result = "timeout"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e))
print(json.dumps({"result": result, "ms": (time.monotonic() - t0) * 1000}))
`;

// Turns tx checksum offload off on an interface (the legacy ETHTOOL_STXCSUM ioctl, so
// no ethtool binary is needed): the kernel then finishes CHECKSUM_PARTIAL packets in
// software before they leave it, and what arrives on the other end is CHECKSUM_NONE.
const TX_CSUM_OFF = `
import ctypes, fcntl, socket, struct, sys
cmd = ctypes.create_string_buffer(struct.pack("II", 0x17, 0))  # ETHTOOL_STXCSUM, off
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(cmd)).ljust(40, b"\\0")
sock = socket.socket()
fcntl.ioctl(sock.fileno(), 0x8946, ifr)  # SIOCETHTOOL
`;

function client(ns: string, port: number, proto: "tcp" | "udp", timeout = 2) {
  const out = run("ip", [
    "netns",
    "exec",
    ns,
    "python3",
    "-c",
    CLIENT,
    VIP,
    String(port),
    proto,
    String(timeout),
  ]);
  return JSON.parse(out) as { result: string; ms: number };
}

/** Client (a) <-veth-> (b), where the frontend range is routed to b, which neither owns nor forwards it. */
function topology(c: Cleanup) {
  const a = tempNetns(c, "rja");
  const b = tempNetns(c, "rjb");
  const va = uniqueName("rva");
  const vb = uniqueName("rvb");
  run("ip", ["-n", a.name, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", b.name]);
  run("ip", ["-n", a.name, "addr", "add", "10.99.0.1/24", "dev", va]);
  run("ip", ["-n", b.name, "addr", "add", "10.99.0.2/24", "dev", vb]);
  run("ip", ["-n", a.name, "link", "set", va, "up"]);
  run("ip", ["-n", b.name, "link", "set", vb, "up"]);
  run("ip", ["-n", a.name, "route", "add", "10.96.0.0/16", "via", "10.99.0.2"]);
  run("ip", ["netns", "exec", b.name, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
  const obj = BpfObject.load(bpfObject("reject_test", "test"), {
    globals: { cfg_reject_port: Uint8Array.of(REJECTED_PORT >> 8, REJECTED_PORT & 0xff) },
  });
  c.defer(() => obj.close());
  const attachment = attachTc({
    program: obj.program("reject_port"),
    ifname: vb,
    netns: b.path,
    direction: "ingress",
  });
  c.defer(() => attachment.detach());
  return { a, b, va, vb };
}

function csumErrors(ns: string): Record<string, number> {
  const lines = run("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp"]).split("\n");
  const errors: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const at = names.indexOf("InCsumErrors");
    if (at > 0) errors[names[0]!.replace(":", "")] = Number(values[at]);
  }
  return errors;
}

function assertRefusedAtOnce(ns: string): void {
  for (const proto of ["tcp", "udp"] as const) {
    const r = client(ns, REJECTED_PORT, proto);
    assert.equal(r.result, "ECONNREFUSED", `${proto} to the rejected port`);
    assert.ok(r.ms < 500, `${proto} refused at once, not after a retransmit (${r.ms} ms)`);
  }
}

for (const offload of ["on", "off on the rejecting veth", "off on the client's veth"]) {
  test(`real traffic is refused at once (tx checksum offload ${offload})`, (t) => {
    const c = cleanupFor(t);
    const { a, b, va, vb } = topology(c);
    if (offload !== "on") {
      const [ns, dev] = offload.includes("client") ? [a.name, va] : [b.name, vb];
      execFileSync("ip", ["netns", "exec", ns, "python3", "-c", TX_CSUM_OFF, dev]);
    }
    const before = csumErrors(a.name);
    assertRefusedAtOnce(a.name);
    assert.deepEqual(csumErrors(a.name), before, "the client's stack found no bad checksum");
    // Another port passes the program, and b drops it: no answer at all.
    assert.equal(client(a.name, REJECTED_PORT + 1, "tcp", 0.3).result, "timeout");
  });
}
