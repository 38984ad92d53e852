// IPv4 and IPv6 addresses and CIDRs as bigints: strict parsing, canonical text
// (RFC 5952 for IPv6), containment, iteration and the usable range of a pool.
//
// Usable range. Fairway's pod gateway is link-local (169.254.1.1 / fe80::1), so
// no pod CIDR address is spent on a gateway or a node router. A pool uses every
// address of its CIDR except:
//   IPv4 /0-/30: the network and the broadcast address;
//   IPv6 /0-/126: the network address (the Subnet-Router anycast, RFC 4291 2.6.1);
//   IPv4 /31, IPv6 /127: both addresses (point-to-point, RFC 3021 / RFC 6164);
//   /32 and /128: the single address.

import { badCidr, badIp } from "./errors.ts";

export type IpFamily = 4 | 6;

export interface IpAddr {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: IpFamily;
  /** The network address (host bits zero). */
  readonly network: bigint;
  readonly prefixLen: number;
  /** Canonical text, e.g. "10.0.0.0/16", "fd00::/64". */
  readonly text: string;
}

export interface AddressRange {
  readonly first: bigint;
  readonly last: bigint;
  /** last - first + 1; 0n when the CIDR has no usable address. */
  readonly size: bigint;
}

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function familyName(family: IpFamily): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** Parses a dotted quad; returns the reason on failure. */
function parseV4(text: string): bigint | string {
  const parts = text.split(".");
  if (parts.length !== 4) return "an IPv4 address has 4 dot-separated parts";
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return `"${part}" is not a decimal byte`;
    if (part.length > 1 && part.startsWith("0"))
      return `"${part}" has a leading zero (ambiguous: octal?)`;
    const n = Number(part);
    if (n > 255) return `${part} is larger than 255`;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseGroups(text: string): bigint[] | string {
  if (text === "") return [];
  const out: bigint[] = [];
  for (const g of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return `"${g}" is not a 16-bit hex group`;
    out.push(BigInt(`0x${g}`));
  }
  return out;
}

/** Parses IPv6 text (with optional "::" and dotted IPv4 tail); returns the reason on failure. */
function parseV6(text: string): bigint | string {
  if (text.includes("%")) return "zone indexes (%...) are not allowed";
  let body = text;
  let tail: bigint[] = [];
  const lastColon = body.lastIndexOf(":");
  if (body.slice(lastColon + 1).includes(".")) {
    const v4 = parseV4(body.slice(lastColon + 1));
    if (typeof v4 === "string") return `embedded IPv4: ${v4}`;
    tail = [v4 >> 16n, v4 & 0xffffn];
    // "::1.2.3.4" -> "::", "64:ff9b::1.2.3.4" -> "64:ff9b::", "1:2:3:4:5:6:1.2.3.4" -> "1:2:3:4:5:6"
    body = body.slice(0, lastColon + 1);
    if (!body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return `"::" may appear only once`;
  const head = parseGroups(halves[0]!);
  if (typeof head === "string") return head;
  let groups: bigint[];
  if (halves.length === 2) {
    const rest = parseGroups(halves[1]!);
    if (typeof rest === "string") return rest;
    const missing = 8 - head.length - rest.length - tail.length;
    if (missing < 1) return `"::" must stand for at least one zero group`;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...rest, ...tail];
  } else {
    groups = [...head, ...tail];
    if (groups.length !== 8) return `an IPv6 address has 8 groups (found ${groups.length})`;
  }
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parses an IPv4 or IPv6 address. Throws E_IPAM_BAD_IP naming the text. */
export function parseIp(text: string): IpAddr {
  if (typeof text !== "string" || text === "") throw badIp(String(text), "empty");
  const family: IpFamily = text.includes(":") ? 6 : 4;
  const value = family === 4 ? parseV4(text) : parseV6(text);
  if (typeof value === "string") throw badIp(text, value);
  return { family, value };
}

/** Canonical text: dotted quad, or RFC 5952 (lower case, longest zero run compressed). */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
  }
  if (value >> 32n === 0xffffn) return `::ffff:${formatIp(4, value & 0xffffffffn)}`; // RFC 5952 5
  const groups: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((value >> s) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/** Parses "address/prefix". The address must be the network address (host bits zero). */
export function parseCidr(text: string): Cidr {
  if (typeof text !== "string") throw badCidr(String(text), "not a string");
  const slash = text.indexOf("/");
  if (slash < 0) throw badCidr(text, `missing "/prefix-length"`);
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  let addr: IpAddr;
  try {
    addr = parseIp(addrText);
  } catch (err) {
    const reason = (err as { details?: { reason?: string } }).details?.reason ?? "bad address";
    throw badCidr(text, `address "${addrText}": ${reason}`, { cause: err });
  }
  const bits = familyBits(addr.family);
  if (!/^\d{1,3}$/.test(prefixText))
    throw badCidr(text, `prefix length "${prefixText}" is not a number`);
  const prefixLen = Number(prefixText);
  if (prefixLen > bits) {
    throw badCidr(
      text,
      `prefix length ${prefixLen} is out of range for ${familyName(addr.family)} (0-${bits})`,
    );
  }
  const hostMask = (1n << BigInt(bits - prefixLen)) - 1n;
  if ((addr.value & hostMask) !== 0n) {
    const network = formatIp(addr.family, addr.value & ~hostMask);
    throw badCidr(text, `host bits are set; did you mean ${network}/${prefixLen}?`);
  }
  return {
    family: addr.family,
    network: addr.value,
    prefixLen,
    text: `${formatIp(addr.family, addr.value)}/${prefixLen}`,
  };
}

/** Number of addresses in the CIDR, usable or not. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefixLen);
}

export function cidrLast(cidr: Cidr): bigint {
  return cidr.network + cidrSize(cidr) - 1n;
}

export function cidrContains(cidr: Cidr, addr: IpAddr): boolean {
  return addr.family === cidr.family && addr.value >= cidr.network && addr.value <= cidrLast(cidr);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network <= cidrLast(b) && b.network <= cidrLast(a);
}

/** The addresses a pool may hand out (see the header comment). */
export function usableRange(cidr: Cidr): AddressRange {
  const hostBits = familyBits(cidr.family) - cidr.prefixLen;
  let first = cidr.network;
  let last = cidrLast(cidr);
  if (hostBits >= 2) {
    first += 1n; // network address (v4), Subnet-Router anycast (v6)
    if (cidr.family === 4) last -= 1n; // broadcast
  }
  return { first, last, size: last - first + 1n };
}

/** Iterates addresses in order; by default only the usable ones. Lazy: fine on a /64. */
export function* cidrAddresses(cidr: Cidr, options: { all?: boolean } = {}): Generator<string> {
  const { first, last } = options.all
    ? { first: cidr.network, last: cidrLast(cidr) }
    : usableRange(cidr);
  for (let v = first; v <= last; v += 1n) yield formatIp(cidr.family, v);
}

/** Fixed-width big-endian bytes (4 or 16): sorts like the numbers, used as the index key. */
export function ipKey(family: IpFamily, value: bigint): Buffer {
  const buf = Buffer.alloc(family === 4 ? 4 : 16);
  let v = value;
  for (let i = buf.length - 1; i >= 0; i -= 1) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return buf;
}

export function ipKeyValue(key: Uint8Array): bigint {
  let v = 0n;
  for (const byte of key) v = (v << 8n) | BigInt(byte);
  return v;
}
