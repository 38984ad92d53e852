// IP and MAC text <-> bytes, for the rtnetlink codecs. Pure; invalid input
// throws E_NET_INVALID naming the text.

import { isIPv4, isIPv6 } from "node:net";
import { NetErrorCode, netError } from "./errors.ts";

export type Family = 4 | 6;

export interface IpAddr {
  family: Family;
  bytes: Buffer;
}

export interface Prefix extends IpAddr {
  prefixLen: number;
}

function invalid(what: string, text: string): never {
  throw netError(NetErrorCode.INVALID, `invalid ${what}: "${text}"`, { details: { value: text } });
}

export function parseIp(text: string): IpAddr {
  if (isIPv4(text)) return { family: 4, bytes: Buffer.from(text.split(".").map(Number)) };
  if (!isIPv6(text)) invalid("IP address", text);
  let s = text;
  const bytes = Buffer.alloc(16);
  // Embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const p = v4[1]!.split(".").map(Number) as [number, number, number, number];
    s = `${s.slice(0, -v4[1]!.length)}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const hi = head ? head.split(":") : [];
  const lo = tail ? tail.split(":") : [];
  const groups = [...hi, ...new Array(8 - hi.length - lo.length).fill("0"), ...lo];
  for (const [i, g] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return { family: 6, bytes };
}

/** "10.0.0.0/8", "fd00::/64"; a bare address is a host prefix (/32, /128). */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const max = ip.family === 4 ? 32 : 128;
  if (slash < 0) return { ...ip, prefixLen: max };
  const lenText = text.slice(slash + 1);
  const prefixLen = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || prefixLen > max) invalid("prefix", text);
  return { ...ip, prefixLen };
}

/**
 * An address as BPF map keys hold it (union ip_addr): 16 bytes, IPv4 in the
 * first 4 and the rest zero; and its family.
 */
export function mapAddr(text: string): { addr: Uint8Array; family: Family } {
  const parsed = parseIp(text);
  const addr = new Uint8Array(16);
  addr.set(parsed.bytes, 0);
  return { addr, family: parsed.family };
}

/** The text form of a 16-byte map address of `family`. */
export function mapAddrText(addr: Uint8Array, family: number): string {
  return formatIp(family === 6 ? addr : addr.subarray(0, 4));
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) return Buffer.from(bytes).toString("hex");
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  // RFC 5952: the longest run (>= 2) of zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

export function formatPrefix(bytes: Uint8Array, prefixLen: number): string {
  return `${formatIp(bytes)}/${prefixLen}`;
}

export function parseMac(text: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) invalid("MAC address", text);
  return Buffer.from(text.replaceAll(":", ""), "hex");
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}
