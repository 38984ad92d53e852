// bpf/lib/reject.h: a refused packet turned into its answer in place (TCP RST per
// RFC 9293 3.10.7.1; ICMP port unreachable, or ICMPv6 port unreachable quoting up
// to 1280 bytes, for the rest), checked byte by byte through BPF_PROG_TEST_RUN with
// checksums recomputed here; the packets that must not be answered; and real
// traffic over IPv4 and IPv6: two namespaces, the fixture on tc ingress, a TCP
// connect and a UDP exchange refused at once, with checksum offload on and off on
// either side (off makes the kernel finish a CHECKSUM_PARTIAL reply from
// csum_start, and makes the client verify every checksum in software).
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

interface RstWanted {
  seq: number;
  ack: number;
  flags: number;
}

/** The RST's TCP header against the refused segment's; `pseudoSum` is its pseudo header's sum. */
function checkRstTcp(tcp: Buffer, inTcp: Buffer, want: RstWanted, pseudoSum: number): void {
  assert.equal(tcp.length, 20, "a bare TCP header");
  assert.equal(tcp.readUInt16BE(0), inTcp.readUInt16BE(2), "source port: the frontend's");
  assert.equal(tcp.readUInt16BE(2), inTcp.readUInt16BE(0), "destination port: the client's");
  assert.equal(tcp.readUInt32BE(4), want.seq, "seq");
  assert.equal(tcp.readUInt32BE(8), want.ack, "ack");
  assert.equal(tcp[12], 0x50, "data offset 5: no options");
  assert.equal(tcp[13], want.flags, "flags");
  assert.equal(tcp.readUInt16BE(14), 0, "window");
  assert.equal(tcp.readUInt16BE(18), 0, "urgent pointer");
  assertChecksum("TCP", sum16(tcp, pseudoSum));
}

function checkRst(out: Buffer, input: Buffer, want: RstWanted) {
  const tcp = checkIpv4(out, input, 6, 40);
  checkRstTcp(tcp, input.subarray(ETH + ihlOf(input)), want, pseudo(out.subarray(ETH), 6, 20));
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

// --- IPv6: input packets -----------------------------------------------------------

/** IPv6 next-header values. */
const IP6 = {
  HOPOPTS: 0,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
} as const;
const CLIENT6 = "fd00:1::5";
const FRONTEND6 = "fd00:96::10";

function ip6Bytes(text: string): Buffer {
  const [head, tail] = text.split("::");
  const words = (part?: string) => (part ? part.split(":").map((w) => Number.parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  for (const [i, w] of all.entries()) out.writeUInt16BE(w, 2 * i);
  return out;
}

/** Sum of the IPv6 pseudo header (RFC 8200 8.1) of the upper-layer packet behind `ipHdr`. */
function pseudo6(ipHdr: Uint8Array, nexthdr: number, len: number): number {
  return sum16(ipHdr.subarray(8, 40)) + Math.floor(len / 0x10000) + (len & 0xffff) + nexthdr;
}

/** An options extension header (hop-by-hop or destination) of `len` bytes, all Pad1. */
function optionsHdr(len = 8): Buffer {
  const h = Buffer.alloc(len);
  h[1] = len / 8 - 1;
  return h;
}

/** A fragment header: offset in bytes (a multiple of 8), more fragments or not. */
function fragmentHdr(offset: number, more: boolean): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(offset | (more ? 1 : 0), 2);
  h.writeUInt32BE(0x1234, 4);
  return h;
}

interface Ip6In {
  src?: string;
  dst?: string;
  /** Extension headers in order, each [the next-header value naming it, its bytes]. */
  ext?: [number, Buffer][];
  proto: number;
  l4: Buffer;
}

/** Ethernet + IPv6 + extension headers + L4, with the TCP/UDP checksum set. */
function ipv6Packet(o: Ip6In): Buffer {
  const ext = o.ext ?? [];
  const types = [...ext.map(([type]) => type), o.proto];
  const ip = Buffer.alloc(40);
  const exts = ext.map(([, bytes], i) => {
    const h = Buffer.from(bytes);
    h[0] = types[i + 1]!;
    return h;
  });
  const l4 = Buffer.from(o.l4);
  const payloadLen = exts.reduce((n, h) => n + h.length, 0) + l4.length;
  ip.writeUInt32BE(0x60000000);
  ip.writeUInt16BE(payloadLen, 4);
  ip[6] = types[0]!;
  ip[7] = 64;
  ip6Bytes(o.src ?? CLIENT6).copy(ip, 8);
  ip6Bytes(o.dst ?? FRONTEND6).copy(ip, 24);
  const at = o.proto === IP6.TCP ? 16 : o.proto === IP6.UDP ? 6 : -1;
  if (at >= 0) {
    l4.writeUInt16BE(0, at);
    l4.writeUInt16BE(~fold(sum16(l4, pseudo6(ip, o.proto, l4.length))) & 0xffff, at);
  }
  const eth = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
  return Buffer.concat([eth, ip, ...exts, l4]);
}

function tcpSegment(o: TcpIn): Buffer {
  const opts = o.tcpOptions ?? new Uint8Array(0);
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(43210, 0);
  h.writeUInt16BE(8080, 2);
  h.writeUInt32BE(o.seq ?? 0x11223344, 4);
  h.writeUInt32BE(o.ack ?? 0, 8);
  h[12] = (h.length / 4) << 4;
  h[13] = o.flags;
  h.writeUInt16BE(65535, 14);
  h.set(opts, 20);
  return Buffer.concat([h, o.payload ?? new Uint8Array(0)]);
}

function udpDatagram(payload: Uint8Array = Buffer.from("a question for the service")): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(53535, 0);
  h.writeUInt16BE(53, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

const tcp6Packet = (o: TcpIn, ext?: [number, Buffer][]) =>
  ipv6Packet({ proto: IP6.TCP, l4: tcpSegment(o), ext });
const udp6Packet = (payload?: Uint8Array, ext?: [number, Buffer][]) =>
  ipv6Packet({ proto: IP6.UDP, l4: udpDatagram(payload), ext });

/** Offset of the L4 header of an IPv6 frame, past its extension headers. */
function l4Off6(frame: Buffer): number {
  let nh = frame[ETH + 6]!;
  let off = ETH + 40;
  while (([IP6.HOPOPTS, IP6.ROUTING, IP6.FRAGMENT, IP6.DSTOPTS] as number[]).includes(nh)) {
    const len = nh === IP6.FRAGMENT ? 8 : (frame[off + 1]! + 1) * 8;
    nh = frame[off]!;
    off += len;
  }
  return off;
}

// --- IPv6: checking answers ----------------------------------------------------------

/** Ethernet + the bare IPv6 header every answer starts with. Returns the L4 bytes. */
function checkIpv6(out: Buffer, input: Buffer, nexthdr: number, payloadLen: number): Buffer {
  assert.equal(out.length, ETH + 40 + payloadLen, "frame length");
  assert.deepEqual(out.subarray(0, 6), input.subarray(6, 12), "to the sender's MAC");
  assert.deepEqual(out.subarray(6, 12), input.subarray(0, 6), "from the MAC it was sent to");
  assert.equal(out.readUInt16BE(12), 0x86dd);
  const ip = out.subarray(ETH, ETH + 40);
  assert.equal(ip.readUInt32BE(0), 0x60000000, "IPv6, traffic class 0, flow label 0");
  assert.equal(ip.readUInt16BE(4), payloadLen, "payload length");
  assert.equal(ip[6], nexthdr, "next header: no extension headers");
  assert.equal(ip[7], 64, "hop limit");
  assert.deepEqual(ip.subarray(8, 24), input.subarray(ETH + 24, ETH + 40), "from the frontend");
  assert.deepEqual(ip.subarray(24, 40), input.subarray(ETH + 8, ETH + 24), "to the client");
  return out.subarray(ETH + 40);
}

function checkRst6(out: Buffer, input: Buffer, want: RstWanted): void {
  const tcp = checkIpv6(out, input, IP6.TCP, 20);
  checkRstTcp(tcp, input.subarray(l4Off6(input)), want, pseudo6(out.subarray(ETH), IP6.TCP, 20));
}

/** Quotes the refused packet from its IPv6 header on, as much as fits in 1280 bytes. */
function checkUnreach6(out: Buffer, input: Buffer): void {
  const quoteLen = Math.min(input.length - ETH, 1280 - 48);
  const icmp = checkIpv6(out, input, IP6.ICMPV6, 8 + quoteLen);
  assert.equal(icmp[0], 1, "destination unreachable");
  assert.equal(icmp[1], 4, "port unreachable");
  assert.equal(icmp.readUInt32BE(4), 0, "unused");
  assert.deepEqual(icmp.subarray(8), input.subarray(ETH, ETH + quoteLen), "the quote");
  assertChecksum("ICMPv6", sum16(icmp, pseudo6(out.subarray(ETH), IP6.ICMPV6, icmp.length)));
}

// --- IPv6: TCP -------------------------------------------------------------------------

test("IPv6: a SYN gets RST|ACK with seq 0 and ack = seq + 1", (t) => {
  const input = tcp6Packet({ flags: TCP.SYN });
  checkRst6(answer(t, input), input, { seq: 0, ack: 0x11223345, flags: TCP.RST | TCP.ACK });
});

test("IPv6: a segment with ACK and payload gets a bare RST with seq = its ack", (t) => {
  const input = tcp6Packet({
    flags: TCP.ACK | TCP.PSH,
    ack: 0xa0b0c0d0,
    payload: Buffer.alloc(1000),
  });
  checkRst6(answer(t, input), input, { seq: 0xa0b0c0d0, ack: 0, flags: TCP.RST });
});

test("IPv6: extension headers and TCP options are cut out, ack counts payload and FIN", (t) => {
  const tcpOptions = Buffer.from("020405a00402080a0001e2400000000001030307", "hex");
  const seg = { flags: TCP.FIN | TCP.PSH, seq: 0xfffffff0, payload: Buffer.alloc(20), tcpOptions };
  const ext: [number, Buffer][] = [
    [IP6.HOPOPTS, optionsHdr()],
    [IP6.DSTOPTS, optionsHdr(24)],
    [IP6.FRAGMENT, fragmentHdr(0, false)], // an atomic fragment: a whole segment
  ];
  const input = tcp6Packet(seg, ext);
  assert.equal(l4Off6(input), ETH + 40 + 40);
  checkRst6(answer(t, input), input, { seq: 0, ack: 0x5, flags: TCP.RST | TCP.ACK });
});

test("IPv6: payload length 0 (a jumbogram, BIG TCP) takes the frame's length", (t) => {
  const input = tcp6Packet({ flags: TCP.SYN, payload: Buffer.alloc(10) });
  input.writeUInt16BE(0, ETH + 4);
  checkRst6(answer(t, input), input, { seq: 0, ack: 0x11223344 + 11, flags: TCP.RST | TCP.ACK });
});

test("IPv6: a RST, a first fragment of a segment, a cut segment are not answered", (t) => {
  assertRefused(t, tcp6Packet({ flags: TCP.RST | TCP.ACK }), DropReason.DROP_REJECT_RST);
  const first = tcp6Packet({ flags: TCP.SYN }, [[IP6.FRAGMENT, fragmentHdr(0, true)]]);
  assertRefused(t, first, DropReason.DROP_REJECT_FRAGMENT);
  const longDoff = tcp6Packet({ flags: TCP.SYN });
  longDoff[ETH + 40 + 12] = 15 << 4;
  assertRefused(t, longDoff, DropReason.DROP_REJECT_TRUNCATED);
  const cut = tcp6Packet({ flags: TCP.SYN, payload: Buffer.alloc(100) });
  assertRefused(t, cut.subarray(0, cut.length - 1), DropReason.DROP_REJECT_TRUNCATED);
});

// --- IPv6: UDP and the rest ------------------------------------------------------------

test("IPv6: a UDP datagram gets a port unreachable quoting all of it", (t) => {
  for (const size of [0, 26, 1184]) {
    const input = udp6Packet(Buffer.alloc(size, 0x7a)); // the last one: an answer of 1280 bytes
    checkUnreach6(answer(t, input), input);
  }
});

test("IPv6: the quote stops where the answer reaches 1280 bytes", (t) => {
  for (const size of [1185, 1187, 3000]) {
    const input = udp6Packet(Buffer.alloc(size, 0x7a));
    const out = answer(t, input);
    assert.equal(out.length, ETH + 1280);
    checkUnreach6(out, input);
  }
});

test("IPv6: extension headers are quoted as received, first fragments and SCTP answered", (t) => {
  const ext: [number, Buffer][] = [
    [IP6.HOPOPTS, optionsHdr()],
    [IP6.FRAGMENT, fragmentHdr(0, true)],
    [IP6.DSTOPTS, optionsHdr(16)],
  ];
  const withExt = udp6Packet(Buffer.alloc(2000, 1), ext);
  checkUnreach6(answer(t, withExt), withExt);
  const sctp = ipv6Packet({ proto: 132, l4: Buffer.alloc(40, 9) });
  checkUnreach6(answer(t, sctp), sctp);
});

test("IPv6: ICMPv6, later fragments and short or hidden datagrams are not answered", (t) => {
  const echo = ipv6Packet({ proto: IP6.ICMPV6, l4: Buffer.from([128, 0, 0, 0, 0, 1, 0, 1]) });
  assertRefused(t, echo, DropReason.DROP_REJECT_ICMP);
  const err = ipv6Packet({ proto: IP6.ICMPV6, l4: Buffer.from([1, 4, 0, 0, 0, 0, 0, 0]) });
  assertRefused(t, err, DropReason.DROP_REJECT_ICMP);
  const later = udp6Packet(Buffer.alloc(100), [[IP6.FRAGMENT, fragmentHdr(1280, false)]]);
  assertRefused(t, later, DropReason.DROP_REJECT_FRAGMENT);
  // Payload length says one byte more than the frame holds.
  const cut = udp6Packet(Buffer.alloc(100));
  assertRefused(t, cut.subarray(0, cut.length - 1), DropReason.DROP_REJECT_TRUNCATED);
  const noNext = ipv6Packet({ proto: IP6.NONE, l4: Buffer.alloc(16) });
  assertRefused(t, noNext, DropReason.DROP_REJECT_NO_L4);
  // Five extension headers: more than parse.h walks, so what follows is unknown.
  const deep = udp6Packet(Buffer.alloc(8), new Array(5).fill([IP6.DSTOPTS, optionsHdr()]));
  assertRefused(t, deep, DropReason.DROP_REJECT_NO_L4);
  // 1200 bytes of extension headers: the UDP header would not fit in the quote.
  const wide = udp6Packet(Buffer.alloc(8), [[IP6.DSTOPTS, optionsHdr(1200)]]);
  assertRefused(t, wide, DropReason.DROP_REJECT_NO_L4);
});

test("IPv6: multicast, and sources that are not one host, are not answered", (t) => {
  const udp = (src: string, dst: string) =>
    ipv6Packet({ proto: IP6.UDP, l4: udpDatagram(), src, dst });
  assertRefused(t, udp(CLIENT6, "ff02::1"), DropReason.DROP_REJECT_NOT_UNICAST);
  assertRefused(t, udp(CLIENT6, "ff05::fb"), DropReason.DROP_REJECT_NOT_UNICAST);
  for (const src of ["::", "::1", "ff02::2"]) {
    assertRefused(t, udp(src, FRONTEND6), DropReason.DROP_REJECT_NOT_UNICAST);
  }
  const l2Multicast = udp6Packet();
  l2Multicast.set([0x33, 0x33, 0, 0, 0, 1], 0);
  assertRefused(t, l2Multicast, DropReason.DROP_REJECT_NOT_UNICAST);
});

// --- real traffic ----------------------------------------------------------------------

/** Frontends: routed from the client to the rejecting namespace, which neither owns nor forwards them. */
const VIPS = { IPv4: "10.96.0.10", IPv6: "fd00:96::10" } as const;
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
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
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

function client(ns: string, vip: string, port: number, proto: "tcp" | "udp", timeout = 2) {
  const out = run("ip", [
    "netns",
    "exec",
    ns,
    "python3",
    "-c",
    CLIENT,
    vip,
    String(port),
    proto,
    String(timeout),
  ]);
  return JSON.parse(out) as { result: string; ms: number };
}

/** Client (a) <-veth-> (b), dual-stack, where the frontend ranges are routed to b. */
function topology(c: Cleanup) {
  const a = tempNetns(c, "rja");
  const b = tempNetns(c, "rjb");
  const va = uniqueName("rva");
  const vb = uniqueName("rvb");
  const ip = (ns: string, ...args: string[]) => run("ip", ["-n", ns, ...args]);
  ip(a.name, "link", "add", va, "type", "veth", "peer", "name", vb, "netns", b.name);
  ip(a.name, "addr", "add", "10.99.0.1/24", "dev", va);
  ip(b.name, "addr", "add", "10.99.0.2/24", "dev", vb);
  // nodad: usable at once, not after duplicate address detection.
  ip(a.name, "addr", "add", "fd00:99::1/64", "dev", va, "nodad");
  ip(b.name, "addr", "add", "fd00:99::2/64", "dev", vb, "nodad");
  ip(a.name, "link", "set", va, "up");
  ip(b.name, "link", "set", vb, "up");
  ip(a.name, "route", "add", "10.96.0.0/16", "via", "10.99.0.2");
  ip(a.name, "-6", "route", "add", "fd00:96::/64", "via", "fd00:99::2");
  run("ip", ["netns", "exec", b.name, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
  // Without a route, b's IPv6 stack would answer "no route" itself; a blackhole is silent,
  // as IPv4 is with forwarding off.
  ip(b.name, "-6", "route", "add", "blackhole", "fd00:96::/64");
  // b joins the solicited-node group of its address only once its carrier is seen (linkwatch,
  // up to a second later); until then neighbor solicitations go unheard, and a SYN waits for
  // the next one. One ping settles neighbor discovery before anything is timed.
  run("ip", ["netns", "exec", a.name, "ping", "-6", "-c1", "-W3", "fd00:99::2"]);
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

/** Every InCsumErrors counter of a namespace (/proc/net/snmp: IPv4, and TCP for both; snmp6). */
function csumErrors(ns: string): Record<string, number> {
  const errors: Record<string, number> = {};
  const lines = run("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp"]).split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const at = names.indexOf("InCsumErrors");
    if (at > 0) errors[names[0]!.replace(":", "")] = Number(values[at]);
  }
  for (const line of run("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp6"]).split("\n")) {
    const [name, value] = line.split(/\s+/);
    if (name?.endsWith("InCsumErrors")) errors[name] = Number(value);
  }
  return errors;
}

function assertRefusedAtOnce(ns: string, vip: string): void {
  for (const proto of ["tcp", "udp"] as const) {
    const r = client(ns, vip, REJECTED_PORT, proto);
    assert.equal(r.result, "ECONNREFUSED", `${proto} to ${vip}, the rejected port`);
    assert.ok(
      r.ms < 500,
      `${proto} to ${vip} refused at once, not after a retransmit (${r.ms} ms)`,
    );
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
    for (const [family, vip] of Object.entries(VIPS)) {
      const before = csumErrors(a.name);
      assertRefusedAtOnce(a.name, vip);
      assert.deepEqual(csumErrors(a.name), before, `${family}: the client found no bad checksum`);
      // Another port passes the program, and b drops it: no answer at all.
      const other = client(a.name, vip, REJECTED_PORT + 1, "tcp", 0.3);
      assert.equal(other.result, "timeout", `${family}: another port`);
    }
  });
}
