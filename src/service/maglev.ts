// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4): each backend gets a
// permutation of the M slots from two hashes of its name (offset, skip); the
// backends take turns claiming their next preferred free slot until all M are
// filled. Every backend ends up with floor(M/N) or ceil(M/N) slots, and removing
// one backend moves few slots of the others. M must be prime so every skip in
// [1, M-1] walks all M slots.

import { ServiceCode, serviceError } from "./errors.ts";

export const DEFAULT_MAGLEV_TABLE_SIZE = 16_381;
/** Larger tables cost memory per service in the datapath for little gain. */
export const MAX_MAGLEV_TABLE_SIZE = 131_071;

/** Why `m` cannot be a Maglev table size, or undefined when it can. */
export function maglevSizeProblem(m: number): string | undefined {
  if (!Number.isInteger(m) || m < 2 || m > MAX_MAGLEV_TABLE_SIZE)
    return `Maglev table size ${m} must be an integer in [2, ${MAX_MAGLEV_TABLE_SIZE}]`;
  if (!isPrime(m))
    return `Maglev table size ${m} is not prime (the permutations need a prime; try 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521 or 131071)`;
  return undefined;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * The lookup table: slot i holds an index into `backends` (as given). Backends
 * are named by a stable string (Fairway uses "address:port"); the order of
 * `backends` does not change which name owns which slot.
 */
export function buildMaglevTable(backends: readonly string[], m: number): Uint32Array {
  const problem = maglevSizeProblem(m);
  if (problem) throw serviceError(ServiceCode.maglevSize, problem, { size: m });
  if (backends.length === 0)
    throw serviceError(ServiceCode.maglevEmpty, "a Maglev table needs at least one backend");
  // Fill in name order so the result depends only on the set of names.
  const order = backends.map((name, index) => ({ name, index }));
  order.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));
  const n = order.length;
  const offset = new Uint32Array(n);
  const skip = new Uint32Array(n);
  const next = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const name = order[i]!.name;
    offset[i] = murmur3(name, 0x9747b28c) % m;
    skip[i] = (murmur3(name, 0x5bd1e995) % (m - 1)) + 1;
  }
  const table = new Uint32Array(m).fill(0xffffffff);
  let filled = 0;
  while (filled < m) {
    for (let i = 0; i < n && filled < m; i++) {
      let slot = (offset[i]! + next[i]! * skip[i]!) % m;
      while (table[slot] !== 0xffffffff) {
        next[i]!++;
        slot = (offset[i]! + next[i]! * skip[i]!) % m;
      }
      table[slot] = order[i]!.index;
      next[i]!++;
      filled++;
    }
  }
  return table;
}

/** MurmurHash3 x86 32-bit over the UTF-8 bytes of `text`. */
export function murmur3(text: string, seed: number): number {
  const data = Buffer.from(text, "utf8");
  let h = seed >>> 0;
  const blocks = data.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    let k = data.readUInt32LE(i * 4);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = blocks * 4;
  const rest = data.length & 3;
  if (rest === 3) k ^= data[tail + 2]! << 16;
  if (rest >= 2) k ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    k ^= data[tail]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= data.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
