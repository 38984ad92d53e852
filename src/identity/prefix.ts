// IP prefixes for the ipcache and CIDR identities: parsing as Kubernetes and
// Cilium accept them (host bits are masked off, "10.0.0.1/8" is 10.0.0.0/8;
// a bare address is a /32 or /128), containment, canonical text.

import { formatIp, parseIp } from "../ipam/index.ts";
import { IdentityCode, identityError } from "./errors.ts";

export type Family = 4 | 6;

export interface Prefix {
  readonly family: Family;
  /** Network address, host bits zero. */
  readonly network: bigint;
  readonly length: number;
  /** Canonical "10.0.0.0/8", "fd00::/64". */
  readonly text: string;
}

export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

function reason(err: unknown): string {
  const details = (err as { details?: { reason?: string } }).details;
  return details?.reason ?? (err instanceof Error ? err.message : String(err));
}

/** Parses "addr/len" (or a bare address, `allowBare`); the reason in the error names the text. */
export function parsePrefix(text: string, allowBare = false): Prefix {
  if (typeof text !== "string" || text === "")
    throw identityError(IdentityCode.badPrefix, `invalid CIDR ${JSON.stringify(text)}: empty`);
  const slash = text.indexOf("/");
  if (slash < 0 && !allowBare)
    throw identityError(IdentityCode.badPrefix, `invalid CIDR "${text}": missing "/prefix-length"`);
  const addrText = slash < 0 ? text : text.slice(0, slash);
  let addr: ReturnType<typeof parseIp>;
  try {
    addr = parseIp(addrText);
  } catch (err) {
    throw identityError(IdentityCode.badPrefix, `invalid CIDR "${text}": ${reason(err)}`, {
      cause: err,
    });
  }
  const bits = familyBits(addr.family);
  const lenText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) {
    throw identityError(
      IdentityCode.badPrefix,
      `invalid CIDR "${text}": prefix length "${lenText}" is not 0-${bits}`,
    );
  }
  return makePrefix(addr.family, addr.value, Number(lenText));
}

export function makePrefix(family: Family, value: bigint, length: number): Prefix {
  const bits = familyBits(family);
  const host = (1n << BigInt(bits - length)) - 1n;
  const network = value & ~host & ((1n << BigInt(bits)) - 1n);
  return { family, network, length, text: `${formatIp(family, network)}/${length}` };
}

/** The reason `text` is not a CIDR, or undefined. */
export function prefixProblem(text: unknown): string | undefined {
  try {
    parsePrefix(text as string);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** True when `inner` lies within `outer` (equal counts). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || inner.length < outer.length) return false;
  const shift = BigInt(familyBits(outer.family) - outer.length);
  return inner.network >> shift === outer.network >> shift;
}

export function prefixOfAddress(ip: string): Prefix {
  return parsePrefix(ip, true);
}

/** Address of a flow or pod; undefined when it does not parse. */
export function tryPrefixOfAddress(ip: string): Prefix | undefined {
  try {
    return prefixOfAddress(ip);
  } catch {
    return undefined;
  }
}

/** Sort order: family, network, length. */
export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.length - b.length;
}
