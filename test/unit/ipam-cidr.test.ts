import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cidrAddresses,
  cidrContains,
  cidrSize,
  cidrsOverlap,
  formatIp,
  IpamCode,
  parseCidr,
  parseIp,
  usableRange,
} from "../../src/ipam/index.ts";

const canonical = (text: string): string => {
  const a = parseIp(text);
  return formatIp(a.family, a.value);
};

test("IPv4 and IPv6 addresses parse and print canonically (RFC 5952)", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["::", "::"],
    ["::1", "::1"],
    ["FD00::", "fd00::"],
    ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
    ["64:ff9b::10.0.0.1", "64:ff9b::a00:1"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
  ];
  for (const [input, want] of cases) assert.equal(canonical(input), want, input);
});

test("bad addresses are refused with a reason naming the text", () => {
  const bad = [
    "",
    "10.0.0",
    "10.0.0.256",
    "10.0.0.01",
    "10.0.0.1.",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "fe80::1%eth0",
    "12345::",
    "::g",
    "1:2:3:4:5:6:7::8",
  ];
  for (const text of bad) {
    assert.throws(
      () => parseIp(text),
      (e: { code: string; message: string }) =>
        e.code === IpamCode.badIp && e.message.includes(`"${text}"`),
      text,
    );
  }
});

test("CIDRs parse, and errors name the bad CIDR and the problem", () => {
  assert.deepEqual(parseCidr("10.0.0.0/16"), {
    family: 4,
    network: 0x0a000000n,
    prefixLen: 16,
    text: "10.0.0.0/16",
  });
  assert.equal(parseCidr("FD00:0::/64").text, "fd00::/64");
  const cases: [string, RegExp][] = [
    ["10.0.0.1/24", /"10\.0\.0\.1\/24".*host bits are set; did you mean 10\.0\.0\.0\/24\?/],
    ["10.0.0.0/33", /"10\.0\.0\.0\/33".*out of range for IPv4 \(0-32\)/],
    ["fd00::/129", /"fd00::\/129".*out of range for IPv6 \(0-128\)/],
    ["fd00::1/64", /did you mean fd00::\/64\?/],
    ["10.0.0.0", /"10\.0\.0\.0".*missing "\/prefix-length"/],
    ["10.0.0.0/", /prefix length "" is not a number/],
    ["10.0.0.0/x", /prefix length "x" is not a number/],
    ["10.0.0/8", /address "10\.0\.0": an IPv4 address has 4/],
    ["nonsense/8", /"nonsense\/8"/],
  ];
  for (const [text, want] of cases) {
    assert.throws(
      () => parseCidr(text),
      (e: { code: string; message: string }) => e.code === IpamCode.badCidr && want.test(e.message),
      text,
    );
  }
});

test("usable range: v4 drops network and broadcast, v6 drops the subnet-router anycast", () => {
  const r = (t: string): [string, string, bigint] => {
    const c = parseCidr(t);
    const u = usableRange(c);
    return [formatIp(c.family, u.first), formatIp(c.family, u.last), u.size];
  };
  assert.deepEqual(r("10.0.0.0/24"), ["10.0.0.1", "10.0.0.254", 254n]);
  assert.deepEqual(r("10.0.0.0/16"), ["10.0.0.1", "10.0.255.254", 65534n]);
  assert.deepEqual(r("10.0.0.0/30"), ["10.0.0.1", "10.0.0.2", 2n]);
  assert.deepEqual(r("10.0.0.0/31"), ["10.0.0.0", "10.0.0.1", 2n]);
  assert.deepEqual(r("10.0.0.7/32"), ["10.0.0.7", "10.0.0.7", 1n]);
  assert.deepEqual(r("fd00::/120"), ["fd00::1", "fd00::ff", 255n]);
  assert.deepEqual(r("fd00::/64"), ["fd00::1", "fd00::ffff:ffff:ffff:ffff", 2n ** 64n - 1n]);
  assert.deepEqual(r("fd00::/127"), ["fd00::", "fd00::1", 2n]);
  assert.equal(cidrSize(parseCidr("fd00::/64")), 2n ** 64n);
});

test("contains, overlap and iteration", () => {
  const net = parseCidr("10.1.0.0/29");
  assert.equal(cidrContains(net, parseIp("10.1.0.7")), true);
  assert.equal(cidrContains(net, parseIp("10.1.0.8")), false);
  assert.equal(cidrContains(net, parseIp("::a01:1")), false, "families never mix");
  assert.deepEqual(
    [...cidrAddresses(net)],
    ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"],
  );
  assert.equal([...cidrAddresses(net, { all: true })].length, 8);
  assert.equal(cidrsOverlap(parseCidr("10.0.0.0/16"), parseCidr("10.0.255.0/24")), true);
  assert.equal(cidrsOverlap(parseCidr("10.0.0.0/24"), parseCidr("10.0.1.0/24")), false);
  // Lazy: taking three addresses of a /64 does not enumerate it.
  const first3: string[] = [];
  for (const a of cidrAddresses(parseCidr("fd00::/64"))) {
    first3.push(a);
    if (first3.length === 3) break;
  }
  assert.deepEqual(first3, ["fd00::1", "fd00::2", "fd00::3"]);
});
