// CIDR validation for config schemas: a valid address, a prefix length that
// fits the family, and no host bits set (with the network the user meant).

import { isIPv4, isIPv6 } from "node:net";

/** Why `value` is not a CIDR with its host bits clear, or undefined when it is one. */
export function cidrProblem(value: string): string | undefined {
  const slash = value.indexOf("/");
  const ip = slash === -1 ? value : value.slice(0, slash);
  const v4 = isIPv4(ip);
  if (!v4 && !isIPv6(ip)) return `"${value}" is not a valid CIDR (bad address)`;
  const bits = v4 ? 32 : 128;
  const prefixText = slash === -1 ? "" : value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
    return `"${value}" is not a valid CIDR (prefix length must be 0-${bits})`;
  }
  const prefix = Number(prefixText);
  const n = v4 ? ipv4ToBigInt(ip) : ipv6ToBigInt(ip);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((n & hostMask) !== 0n) {
    const network = n & ~hostMask;
    const text = v4 ? bigIntToIpv4(network) : bigIntToIpv6(network);
    return `"${value}" has host bits set (did you mean ${text}/${prefix}?)`;
  }
  return undefined;
}

function ipv4ToBigInt(ip: string): bigint {
  return ip.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function bigIntToIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
}

function bigIntToIpv6(n: bigint): string {
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => (n >> s) & 0xffffn);
  // compress the longest run of zero groups, as RFC 5952 asks
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0n) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

function ipv6ToBigInt(ip: string): bigint {
  let text = ip;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    // embedded IPv4 tail, e.g. ::ffff:10.0.0.1
    const v4 = ipv4ToBigInt(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g || "0", 16)), 0n);
}
