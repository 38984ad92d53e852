// The codec runtime: round trips, byte order, and the errors encoders must
// raise (type and size named) for wrong sizes, out-of-range values and bad
// struct fields. Also the generated struct codecs against hand-made bytes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FairwayError } from "../../src/base/errors.ts";
import {
  array,
  Be16,
  Be32,
  Be64,
  Bytes,
  type Codec,
  I8,
  I16,
  I32,
  I64,
  Ipv4,
  ipAddrToString,
  ipv4FromString,
  ipv4ToString,
  ipv6ToString,
  struct,
  U8,
  U16,
  U32,
  U64,
} from "../../src/datapath/codec.ts";
import { DiagProtoKey, maps as diagMaps, PacketEvent } from "../../src/datapath/generated/diag.ts";

/** Asserts fn throws E_CODEC whose message contains every fragment. */
function assertCodecError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FairwayError, `expected FairwayError, got ${String(err)}`);
    assert.equal(err.code, "E_CODEC");
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" lacks "${f}"`);
    return true;
  });
}

function roundTrip<T>(codec: Codec<T>, value: T): void {
  const buf = codec.encode(value);
  assert.equal(buf.length, codec.size, `${codec.name} size`);
  assert.deepEqual(codec.decode(buf), value, `${codec.name} round trip of ${String(value)}`);
}

describe("integer codecs", () => {
  test("round trip at the edges of every range", () => {
    for (const v of [0, 1, 127, 255]) roundTrip(U8, v);
    for (const v of [0, 0x1234, 0xffff]) roundTrip(U16, v);
    for (const v of [0, 0xdeadbeef, 0xffffffff]) roundTrip(U32, v);
    for (const v of [0n, 1n, 2n ** 64n - 1n]) roundTrip(U64, v);
    for (const v of [-128, -1, 0, 127]) roundTrip(I8, v);
    for (const v of [-32768, -2, 32767]) roundTrip(I16, v);
    for (const v of [-(2 ** 31), -5, 2 ** 31 - 1]) roundTrip(I32, v);
    for (const v of [-(2n ** 63n), -1n, 2n ** 63n - 1n]) roundTrip(I64, v);
    for (const v of [0, 80, 0xffff]) roundTrip(Be16, v);
    for (const v of [0, 0x0a000001, 0xffffffff]) roundTrip(Be32, v);
    roundTrip(Be64, 0x0102030405060708n);
  });

  test("host order is little-endian, Be* is network order", () => {
    assert.deepEqual([...U16.encode(0x1234)], [0x34, 0x12]);
    assert.deepEqual([...Be16.encode(0x1234)], [0x12, 0x34]);
    assert.deepEqual([...Be16.encode(80)], [0x00, 0x50]);
    assert.deepEqual([...U32.encode(0x01020304)], [4, 3, 2, 1]);
    assert.deepEqual([...Be32.encode(0x0a000001)], [10, 0, 0, 1]);
    assert.deepEqual([...U64.encode(0x0102030405060708n)], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert.deepEqual([...Be64.encode(0x0102030405060708n)], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual([...I16.encode(-2)], [0xfe, 0xff]);
    assert.equal(Be16.decode(Uint8Array.of(0x1f, 0x90)), 8080);
  });

  test("encode writes at an offset into a caller's buffer and leaves the rest alone", () => {
    const buf = new Uint8Array(6).fill(0xaa);
    assert.equal(Be16.encode(0x0102, buf, 2), buf);
    assert.deepEqual([...buf], [0xaa, 0xaa, 1, 2, 0xaa, 0xaa]);
    assert.equal(Be16.decode(buf, 2), 0x0102);
  });

  test("out-of-range and non-integer values name the type and size", () => {
    assertCodecError(() => U8.encode(256), "U8 (1 byte)", "256", "0..255");
    assertCodecError(() => U8.encode(-1), "U8 (1 byte)", "-1");
    assertCodecError(() => U16.encode(65536), "U16 (2 bytes)", "0..65535");
    assertCodecError(() => Be16.encode(70000), "Be16 (2 bytes)", "70000");
    assertCodecError(() => U32.encode(2 ** 32), "U32 (4 bytes)");
    assertCodecError(() => I8.encode(128), "I8 (1 byte)", "-128..127");
    assertCodecError(() => U32.encode(1.5), "U32 (4 bytes)", "1.5");
    assertCodecError(() => U64.encode(2n ** 64n), "U64 (8 bytes)", "18446744073709551616n");
    assertCodecError(() => U64.encode(-1n), "U64 (8 bytes)");
    assertCodecError(() => I64.encode(2n ** 63n), "I64 (8 bytes)");
    // A number where a bigint belongs is a type error the encoder must catch at run time too.
    assertCodecError(() => U64.encode(5 as unknown as bigint), "U64 (8 bytes)", "number");
  });

  test("too-small buffers are refused on encode and decode", () => {
    assertCodecError(() => U32.encode(1, new Uint8Array(3)), "U32 (4 bytes)", "buffer has 3 bytes");
    assertCodecError(() => U32.encode(1, new Uint8Array(8), 6), "U32 (4 bytes)", "offset 6");
    assertCodecError(() => U64.decode(new Uint8Array(7)), "U64 (8 bytes)", "cannot decode");
    assertCodecError(() => U8.decode(new Uint8Array(1), -1), "U8 (1 byte)");
  });
});

describe("Bytes and arrays", () => {
  test("Bytes(n) round trips and refuses a wrong length", () => {
    roundTrip(Bytes(4), Uint8Array.of(1, 2, 3, 4));
    assertCodecError(
      () => Bytes(16).encode(new Uint8Array(4)),
      "Bytes(16) (16 bytes)",
      "got 4 bytes",
    );
    assertCodecError(() => Bytes(2).encode("ab" as unknown as Uint8Array), "Bytes(2)", "string");
  });

  test("Bytes decode copies: reusing the source buffer does not change the value", () => {
    const src = Buffer.from([1, 2, 3, 4]);
    const value = Bytes(4).decode(src);
    src.fill(0);
    assert.deepEqual([...value], [1, 2, 3, 4]);
  });

  test("array(codec, n) lays elements back to back and checks the count", () => {
    const a = array(Be16, 3);
    assert.equal(a.name, "Be16[3]");
    assert.equal(a.size, 6);
    assert.deepEqual([...a.encode([1, 2, 0x0304])], [0, 1, 0, 2, 3, 4]);
    roundTrip(a, [7, 8, 9]);
    assertCodecError(() => a.encode([1, 2]), "Be16[3] (6 bytes)", "got 2 elements");
    assertCodecError(() => a.encode([1, 2, 70000]), "Be16 (2 bytes)", "70000");
  });
});

describe("structs", () => {
  interface Key {
    port: number;
    proto: number;
    addr: number;
  }
  // struct { __be16 port; __u8 proto; /* 1 byte padding */ __be32 addr; }
  const Key = struct<Key>("key", 8, {
    port: { codec: Be16, offset: 0 },
    proto: { codec: U8, offset: 2 },
    addr: { codec: Be32, offset: 4 },
  });

  test("layout follows the given offsets, padding is zeroed even in a dirty buffer", () => {
    const buf = new Uint8Array(10).fill(0xee);
    Key.encode({ port: 443, proto: 6, addr: 0x0a000002 }, buf, 1);
    assert.deepEqual([...buf], [0xee, 0x01, 0xbb, 6, 0, 10, 0, 0, 2, 0xee]);
    assert.deepEqual(Key.decode(buf, 1), { port: 443, proto: 6, addr: 0x0a000002 });
  });

  test("missing, unknown and invalid fields name the struct, its size and the field", () => {
    assertCodecError(
      () => Key.encode({ port: 1, proto: 6 } as Key),
      "struct key (8 bytes)",
      'missing field "addr"',
    );
    assertCodecError(
      () => Key.encode({ port: 1, proto: 6, addr: 1, prot: 1 } as Key),
      "struct key (8 bytes)",
      'unknown field "prot"',
    );
    assertCodecError(
      () => Key.encode({ port: 1, proto: 300, addr: 1 }),
      "struct key (8 bytes)",
      'field "proto"',
      "U8 (1 byte)",
    );
    assertCodecError(() => Key.encode(null as unknown as Key), "struct key (8 bytes)", "null");
  });

  test("a field that does not fit the struct is refused when the codec is built", () => {
    assertCodecError(
      () => struct<{ a: number }>("small", 2, { a: { codec: U32, offset: 0 } }),
      "struct small (2 bytes)",
      'field "a"',
    );
  });
});

describe("IP addresses", () => {
  test("IPv4 text <-> Be32 value", () => {
    assert.equal(ipv4FromString("10.0.0.1"), 0x0a000001);
    assert.equal(ipv4FromString("255.255.255.255"), 0xffffffff);
    assert.equal(ipv4ToString(0xc0a80101), "192.168.1.1");
    assert.equal(ipv4ToString(ipv4FromString("172.16.5.4")), "172.16.5.4");
    assertCodecError(() => ipv4FromString("10.0.0.256"), "Ipv4 (4 bytes)", "10.0.0.256");
    assertCodecError(() => ipv4FromString("10.0.1"), "Ipv4 (4 bytes)");
    assertCodecError(() => ipv4ToString(-1), "Ipv4 (4 bytes)");
  });

  test("Ipv4 codec stores network order", () => {
    assert.deepEqual([...Ipv4.encode("10.1.2.3")], [10, 1, 2, 3]);
    roundTrip(Ipv4, "192.0.2.7");
  });

  test("IPv6 text follows RFC 5952", () => {
    const addr = (...groups: number[]) => array(Be16, 8).encode(groups);
    assert.equal(ipv6ToString(addr(0xfd00, 0, 0, 0, 0, 0, 0, 1)), "fd00::1");
    assert.equal(ipv6ToString(addr(0, 0, 0, 0, 0, 0, 0, 0)), "::");
    assert.equal(ipv6ToString(addr(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1)), "2001:db8:0:1::1");
    assert.equal(ipv6ToString(addr(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6)), "2001:db8:1:2:3:4:5:6");
    assert.equal(ipv6ToString(addr(1, 0, 0, 2, 0, 0, 0, 3)), "1:0:0:2::3");
  });

  test("union ip_addr bytes by family", () => {
    const v4 = new Uint8Array(16);
    v4.set([10, 0, 0, 9]);
    assert.equal(ipAddrToString(v4, 4), "10.0.0.9");
    assert.equal(ipAddrToString(v4, 6), "a00:9::");
    assert.equal(ipAddrToString(v4, 0), "");
  });
});

describe("generated codecs (diag.o)", () => {
  test("diag_proto_key keeps eth_proto in network order", () => {
    const bytes = DiagProtoKey.encode({ eth_proto: 0x0800, family: 4, l4_proto: 6 });
    assert.deepEqual([...bytes], [0x08, 0x00, 4, 6]);
    assert.equal(diagMaps.diag_proto_stats.keyCodec, DiagProtoKey);
    assert.equal(diagMaps.diag_proto_stats.keySize, DiagProtoKey.size);
  });

  test("packet_event decodes a record laid out as in events.h", () => {
    const rec = new Uint8Array(72);
    const view = new DataView(rec.buffer);
    rec[0] = 1; // hdr.type EVENT_PACKET
    rec[1] = 1; // hdr.subtype
    view.setUint16(2, 72, true);
    view.setUint32(4, 7, true);
    view.setBigUint64(8, 123n, true);
    rec.set([10, 0, 0, 1], 16);
    rec.set([10, 0, 0, 2], 32);
    view.setUint32(48, 60, true);
    view.setUint16(52, 0x0800, false);
    view.setUint16(54, 40000, false);
    view.setUint16(56, 80, false);
    rec.set([4, 6, 1, 0, 0x02], 58);
    const ev = PacketEvent.decode(rec);
    assert.deepEqual(ev.hdr, { type: 1, subtype: 1, len: 72, ifindex: 7, ts_ns: 123n });
    assert.equal(ipAddrToString(ev.saddr, ev.family), "10.0.0.1");
    assert.equal(ipAddrToString(ev.daddr, ev.family), "10.0.0.2");
    assert.deepEqual([ev.sport, ev.dport, ev.l4_proto, ev.tcp_flags], [40000, 80, 6, 0x02]);
    assert.deepEqual([...PacketEvent.encode(ev)], [...rec]);
  });
});
