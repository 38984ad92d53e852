// The netlink codec without a kernel: framing, attributes (nesting, alignment,
// flags), the family headers, a real RTM_NEWLINK reply captured from Linux 6.18,
// address text, and the UAPI constants against the C headers.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { formatIp, parseIp, parsePrefix } from "../../src/datapath/net/index.ts";
import { encodeIfInfoMsg, parseLink } from "../../src/datapath/net/link.ts";
import {
  Attrs,
  align,
  attrBytes,
  attrNest,
  attrStr,
  attrU8,
  attrU16,
  attrU32,
  encodeAttrs,
  encodeMessage,
  messagePayload,
  parseMessages,
  readU16,
  readU32,
} from "../../src/datapath/net/netlink.ts";
import * as uapi from "../../src/datapath/net/uapi.ts";

test("a message round-trips: header, family struct, scalar and string attributes", () => {
  const header = encodeIfInfoMsg({ index: 7, flags: uapi.IFF.UP, change: uapi.IFF.UP });
  const msg = encodeMessage({
    type: uapi.RTM.NEWLINK,
    flags: uapi.NLM_F.REQUEST | uapi.NLM_F.ACK,
    header,
    attrs: [
      attrStr(uapi.IFLA.IFNAME, "fwt0"),
      attrU32(uapi.IFLA.MTU, 1400),
      attrU8(uapi.IFLA.OPERSTATE, 6),
    ],
  });
  assert.equal(readU32(msg, 0), msg.length, "nlmsg_len covers the whole message");
  assert.equal(msg.length % 4, 0);
  const [m, ...rest] = parseMessages(msg);
  assert.equal(rest.length, 0);
  assert.equal(m!.type, uapi.RTM.NEWLINK);
  assert.equal(m!.flags, uapi.NLM_F.REQUEST | uapi.NLM_F.ACK);
  assert.equal(m!.seq, 0, "seq is left for the binding");
  assert.deepEqual(m!.payload.subarray(0, 16), header);
  const a = Attrs.parse(m!.payload, 16);
  assert.equal(a.str(uapi.IFLA.IFNAME), "fwt0");
  assert.equal(a.u32(uapi.IFLA.MTU), 1400);
  assert.equal(a.u8(uapi.IFLA.OPERSTATE), 6);
  assert.equal(a.raw(uapi.IFLA.IFNAME)!.at(-1), 0, "strings are NUL-terminated");
});

test("attributes are 4-byte aligned with zeroed padding, nla_len excludes it", () => {
  const buf = encodeAttrs([
    attrBytes(1, Buffer.from([0xaa, 0xbb, 0xcc, 0xdd, 0xee])),
    attrU16(2, 0x1234),
  ]);
  // 4 header + 5 value = 9 -> padded to 12; then 4 + 2 = 6 -> padded to 8
  assert.equal(buf.length, 12 + 8);
  assert.equal(readU16(buf, 0), 9);
  assert.deepEqual([...buf.subarray(9, 12)], [0, 0, 0]);
  assert.equal(readU16(buf, 12), 6);
  assert.equal(readU16(buf, 14), 2);
  assert.deepEqual([...buf.subarray(18, 20)], [0, 0]);
  assert.equal(align(9), 12);
  assert.equal(align(12), 12);
});

test("nests encode with NLA_F_NESTED (unless told not to) and decode level by level", () => {
  const buf = encodeAttrs([
    attrNest(uapi.IFLA.LINKINFO, [
      attrStr(uapi.IFLA_INFO.KIND, "veth"),
      attrNest(uapi.IFLA_INFO.DATA, [attrBytes(uapi.VETH_INFO_PEER, Buffer.alloc(16, 1))], false),
    ]),
    attrU32(uapi.IFLA.MTU, 9000),
  ]);
  assert.equal(readU16(buf, 2), uapi.IFLA.LINKINFO | uapi.NLA_F_NESTED);
  const top = Attrs.parse(buf);
  assert.deepEqual(
    top.types(),
    [uapi.IFLA.LINKINFO, uapi.IFLA.MTU],
    "flag bits are masked off the type",
  );
  const info = top.nested(uapi.IFLA.LINKINFO)!;
  assert.equal(info.str(uapi.IFLA_INFO.KIND), "veth");
  const data = info.nested(uapi.IFLA_INFO.DATA)!;
  assert.deepEqual(data.raw(uapi.VETH_INFO_PEER), Buffer.alloc(16, 1));
  assert.equal(top.u32(uapi.IFLA.MTU), 9000);
  // nla_len of the outer nest covers everything inside it
  assert.equal(readU16(buf, 0), buf.length - 8);
});

test("repeated attributes keep every value; getters return the last (as nla_parse)", () => {
  const a = Attrs.parse(encodeAttrs([attrU32(5, 1), attrU32(5, 2), attrU32(6, 3)]));
  assert.deepEqual(
    a.all(5).map((b) => readU32(b, 0)),
    [1, 2],
  );
  assert.equal(a.u32(5), 2);
  assert.equal(a.u32(99), undefined);
  assert.equal(a.has(6), true);
});

test("a truncated attribute tail is ignored, a truncated message is an error", () => {
  const buf = encodeAttrs([attrU32(1, 42), attrU32(2, 43)]);
  const a = Attrs.parse(buf.subarray(0, buf.length - 2));
  assert.equal(a.u32(1), 42);
  assert.equal(a.has(2), false);
  const msg = encodeMessage({ type: 16, flags: 1, header: Buffer.alloc(16) });
  assert.throws(() => parseMessages(msg.subarray(0, msg.length - 4)), /malformed netlink message/);
});

test("several messages in one buffer (a dump datagram) are split at aligned offsets", () => {
  const one = encodeMessage({
    type: 16,
    flags: 2,
    header: Buffer.alloc(16),
    attrs: [attrStr(3, "a")],
  });
  const two = encodeMessage({ type: 3, flags: 2, header: Buffer.alloc(4) });
  const msgs = parseMessages(Buffer.concat([one, two]));
  assert.deepEqual(
    msgs.map((m) => m.type),
    [16, 3],
  );
});

// RTM_NEWLINK reply to RTM_GETLINK "eth0" (IFLA_EXT_MASK skip stats), captured on
// Linux 6.18 with this code: eth0 is the pod end of a veth whose other end
// (fwtcaph, mac ee:ee:ee:ee:ee:ee) is in another namespace; mtu 1450, up.
const CAPTURED_NEWLINK = [
  "7004000010000000020000008f4700000000010002000000431001000000000009000300657468300000000008000d00",
  "e803000005001000060000000500110000000000050043000000000008000400aa050000080032004400000008003300",
  "ffff000008001b000000000008001e000000000008003d000000000008001f000200000008002800ffff000008002900",
  "0000010008003a000000010008003f0000000100080040000000010008003b00f8ff070008003c00ffff000008004200",
  "0000000008002000020000000500210001000000080023000200000008002f0001000000080030000100000006004400",
  "00000000060045000000000005002700000000000a00010002420a00000200000a000200ffffffffffff0000cc001700",
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "000000000000000064000700000000000000000000000000000000000000000000000000000000000000000000000000",
  "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000c002b000500020000000000100012000900010076657468000000000800250000000000",
  "08000500020000000c0006006e6f717565756500c0011a008c0002008800010000000000000000000000000001000000",
  "010000000100000001000000000000000100000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000000000000000000000010270000e8030000",
  "000000000000000000000000000000000100000030010a00080001000000008014000500ffff0000eeeb010014650000",
  "e8030000f40002000000000040000000aa05000001000000010000000100000001000000ffffffffa00f0000e8030000",
  "00000000803a0900805101000300000058020000100000000000000001000000010000000100000060ea000000000000",
  "000000000000000000000000000000000000000001000000000000000000000010270000e80300000100000000000000",
  "00000000010000000000000000000000010000000000000000000000000000000000000080ee36000000000000000000",
  "0100000000000000000000000000000000000000000000000004000000000000ffff0000ffffffff0100000000000000",
  "00000000000000001400070000000000000000000000000000000000050008000000000024000e000000000000000000",
  "00000000000000000000000000000000000000000000000004003e8004004180",
].join("");

test("a captured RTM_NEWLINK reply parses into a Link", () => {
  const reply = Buffer.from(CAPTURED_NEWLINK, "hex");
  const [m] = parseMessages(reply);
  assert.equal(m!.type, uapi.RTM.NEWLINK);
  assert.equal(readU32(reply, 0), reply.length);
  const link = parseLink(messagePayload(reply));
  assert.deepEqual(link, {
    index: 2,
    name: "eth0",
    mtu: 1450,
    flags:
      uapi.IFF.UP | uapi.IFF.BROADCAST | uapi.IFF.RUNNING | uapi.IFF.MULTICAST | uapi.IFF.LOWER_UP,
    up: true,
    lowerUp: true,
    operstate: "up",
    mac: "02:42:0a:00:00:02",
    kind: "veth",
    peerIndex: 2,
    linkNetnsId: 0,
  });
});

test("IP text <-> bytes, IPv6 compressed as RFC 5952 says", () => {
  assert.deepEqual([...parseIp("10.1.2.3").bytes], [10, 1, 2, 3]);
  for (const [text, canon] of [
    ["fd00::1", "fd00::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["fe80::", "fe80::"],
    ["::ffff:10.0.0.1", "::ffff:a00:1"],
    ["1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"],
  ] as const) {
    const ip = parseIp(text);
    assert.equal(ip.family, 6);
    assert.equal(formatIp(ip.bytes), canon, text);
  }
  assert.deepEqual(parsePrefix("10.0.0.0/8").prefixLen, 8);
  assert.deepEqual(parsePrefix("fd00::5").prefixLen, 128);
  assert.throws(() => parsePrefix("10.0.0.0/33"), { code: "E_NET_INVALID" });
  assert.throws(() => parseIp("10.0.0"), { code: "E_NET_INVALID", message: /"10.0.0"/ });
});

/** Every constant of uapi.ts next to the C expression it was written from. */
const HEADER_CHECKS: [string, number][] = [
  ["NLMSG_ERROR", uapi.NLMSG_ERROR],
  ["NLMSG_DONE", uapi.NLMSG_DONE],
  ["NLMSG_HDRLEN", uapi.NLMSG_HDRLEN],
  ["NLA_HDRLEN", uapi.NLA_HDRLEN],
  ["NLA_F_NESTED", uapi.NLA_F_NESTED],
  ["NLM_F_DUMP", uapi.NLM_F.DUMP],
  ["NLM_F_CREATE", uapi.NLM_F.CREATE],
  ["NLM_F_EXCL", uapi.NLM_F.EXCL],
  ["NLM_F_REPLACE", uapi.NLM_F.REPLACE],
  ["NLM_F_DUMP_INTR", uapi.NLM_F.DUMP_INTR],
  ...Object.entries(uapi.RTM).map(([k, v]) => [`RTM_${k}`, v] as [string, number]),
  ...Object.entries(uapi.IFLA).map(([k, v]) => [`IFLA_${k}`, v] as [string, number]),
  ...Object.entries(uapi.IFLA_INFO).map(([k, v]) => [`IFLA_INFO_${k}`, v] as [string, number]),
  ["VETH_INFO_PEER", uapi.VETH_INFO_PEER],
  ["RTEXT_FILTER_SKIP_STATS", uapi.RTEXT_FILTER_SKIP_STATS],
  ...Object.entries(uapi.IFA).map(([k, v]) => [`IFA_${k}`, v] as [string, number]),
  ...Object.entries(uapi.IFA_F).map(([k, v]) => [`IFA_F_${k}`, v] as [string, number]),
  ...Object.entries(uapi.RTA).map(([k, v]) => [`RTA_${k}`, v] as [string, number]),
  ...Object.entries(uapi.RTN).map(([k, v]) => [`RTN_${k}`, v] as [string, number]),
  ...Object.entries(uapi.RTPROT).map(([k, v]) => [`RTPROT_${k}`, v] as [string, number]),
  ...Object.entries(uapi.RT_SCOPE).map(([k, v]) => [`RT_SCOPE_${k}`, v] as [string, number]),
  ...Object.entries(uapi.RT_TABLE).map(([k, v]) => [`RT_TABLE_${k}`, v] as [string, number]),
  ["RTNH_F_ONLINK", uapi.RTNH_F_ONLINK],
  ["RTM_F_CLONED", uapi.RTM_F_CLONED],
  ...Object.entries(uapi.NDA).map(([k, v]) => [`NDA_${k}`, v] as [string, number]),
  ...Object.entries(uapi.NUD).map(([k, v]) => [`NUD_${k}`, v] as [string, number]),
  ...Object.entries(uapi.NTF).map(([k, v]) => [`NTF_${k}`, v] as [string, number]),
  ...Object.entries(uapi.IFF).map(([k, v]) => [`IFF_${k}`, v] as [string, number]),
  ["IF_OPER_UP", uapi.OPERSTATES.indexOf("up")],
  ["IF_OPER_LOWERLAYERDOWN", uapi.OPERSTATES.indexOf("lowerlayerdown")],
  ["sizeof(struct ifinfomsg)", 16],
  ["sizeof(struct ifaddrmsg)", 8],
  ["sizeof(struct rtmsg)", 12],
  ["sizeof(struct ndmsg)", 12],
];

function compiler(): string | undefined {
  for (const cc of ["cc", "gcc", "clang"]) {
    try {
      execFileSync(cc, ["--version"], { stdio: "ignore" });
      return cc;
    } catch {
      // try the next
    }
  }
  return undefined;
}

test("uapi.ts matches the kernel headers", (t) => {
  const cc = compiler();
  if (!cc) {
    t.skip("no C compiler to read the headers with");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "fwt-uapi-"));
  try {
    const body = HEADER_CHECKS.map(([expr]) => `  printf("%ld\\n", (long)(${expr}));`).join("\n");
    const headers = [
      "stdio.h",
      "linux/netlink.h",
      "linux/rtnetlink.h",
      "linux/if_link.h",
      "linux/if_addr.h",
      "linux/neighbour.h",
      "linux/veth.h",
      "linux/if.h",
    ];
    writeFileSync(
      join(dir, "c.c"),
      `${headers.map((h) => `#include <${h}>`).join("\n")}\nint main(void) {\n${body}\n  return 0;\n}\n`,
    );
    execFileSync(cc, ["-o", join(dir, "c"), join(dir, "c.c")]);
    const values = execFileSync(join(dir, "c"), { encoding: "utf8" })
      .trim()
      .split("\n")
      .map(Number);
    assert.equal(values.length, HEADER_CHECKS.length);
    const mismatches = HEADER_CHECKS.flatMap(([expr, v], i) =>
      values[i] === v ? [] : [`${expr}: uapi.ts ${v}, header ${values[i]}`],
    );
    assert.deepEqual(mismatches, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
