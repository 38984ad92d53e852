// Ports as the policy map keys them. A port range [lo, hi] becomes the fewest
// aligned power-of-two blocks, each an LPM prefix over the 16-bit port
// (80-81 is 80/15; 1-65535 is 16 blocks; any range is at most 30). The BPF
// LPM trie then matches a port range in one lookup, and the exact port beats
// a range that contains it (longer prefix).

import type { Protocol } from "./types.ts";

/** A rule's port matcher after validation. No `port`: every port of the protocol. */
export interface PortMatch {
  /** "ANY" (Fairway policies only) matches every protocol. */
  readonly protocol: Protocol | "ANY";
  /** A number, or a named container port (resolved per destination pod). */
  readonly port?: number | string;
  /** Last port of a range starting at numeric `port`. */
  readonly endPort?: number;
}

export interface PortBlock {
  /** First port of the block. */
  readonly port: number;
  /** 0..16: bits of the port that must match. */
  readonly prefixLen: number;
}

/** The blocks covering exactly [lo, hi]; lo and hi in 0..65535. */
export function portBlocks(lo: number, hi: number): PortBlock[] {
  const out: PortBlock[] = [];
  let p = lo;
  while (p <= hi) {
    let size = 1;
    // grow while aligned and inside the range
    while (size < 65_536 && p % (size * 2) === 0 && p + size * 2 - 1 <= hi) size *= 2;
    out.push({ port: p, prefixLen: 16 - Math.log2(size) });
    p += size;
  }
  return out;
}

/** Last port of a block. */
export function blockEnd(port: number, prefixLen: number): number {
  return port + 2 ** (16 - prefixLen) - 1;
}

/** `port` masked to its first `prefixLen` bits. */
export function maskPort(port: number, prefixLen: number): number {
  if (prefixLen <= 0) return 0;
  const shift = 16 - prefixLen;
  return (port >>> shift) << shift;
}

export function isPortNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65_535;
}

/**
 * Why `name` is not an IANA_SVC_NAME (the form container port names and
 * named policy ports take), or undefined: at most 15 characters of a-z, 0-9
 * and "-", at least one letter, no leading, trailing or double "-".
 */
export function svcNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return "must be 1-15 characters";
  if (!/^[a-z0-9-]+$/.test(name)) return "may contain only a-z, 0-9 and -";
  if (!/[a-z]/.test(name)) return "must contain a letter";
  if (name.startsWith("-") || name.endsWith("-") || name.includes("--"))
    return 'may not start or end with "-" or contain "--"';
  return undefined;
}

export function formatPortMatch(p: PortMatch): string {
  const port =
    p.port === undefined
      ? "*"
      : p.endPort !== undefined
        ? `${p.port}-${p.endPort}`
        : String(p.port);
  return `${port}/${p.protocol}`;
}
