// One pool: the usable range of one pod CIDR and the next-free search.
//
// The search starts just after the pool's cursor (the last address handed out)
// and walks the allocated addresses above it in index order until it finds a
// gap; only if it reaches the end does it wrap to the start of the pool. So:
//   - a just-released address is not handed out again until the pool wraps
//     (like host-local's last_reserved_ip: fewer surprises from stale conntrack
//     entries, neighbour caches and peers that still hold the old pod's address);
//   - a fresh or sparse pool costs one index probe per allocation, and a dense
//     run of long-lived addresses is skipped once per lap, not once per call;
//   - only a full (or nearly full) pool pays a whole-pool walk, and the whole
//     pool is never enumerated in memory: an IPv6 /64 works the same way.
// Everything reads the database inside the caller's BEGIN IMMEDIATE
// transaction, so the answer is right even when another process writes too.

import {
  type AddressRange,
  type Cidr,
  formatIp,
  type IpAddr,
  ipKey,
  ipKeyValue,
  parseIp,
  usableRange,
} from "./cidr.ts";
import type { IpamStore } from "./state.ts";
import type { PoolUsage } from "./types.ts";

export class Pool {
  readonly range: AddressRange;

  constructor(readonly cidr: Cidr) {
    this.range = usableRange(cidr);
  }

  get text(): string {
    return this.cidr.text;
  }

  /** True when the address is one this pool may hand out. */
  holds(addr: IpAddr): boolean {
    return (
      addr.family === this.cidr.family &&
      addr.value >= this.range.first &&
      addr.value <= this.range.last
    );
  }

  /** The next free address after the cursor, wrapping once; null when the pool is full. */
  nextFree(store: IpamStore): bigint | null {
    if (this.range.size <= 0n) return null;
    const after = this.cursorValue(store);
    return (
      this.firstGap(store, after + 1n, this.range.last) ??
      this.firstGap(store, this.range.first, after)
    );
  }

  /** Records `value` as the last address handed out. */
  advance(store: IpamStore, value: bigint): void {
    store.setCursor(this.text, formatIp(this.cidr.family, value));
  }

  usage(store: IpamStore): PoolUsage {
    const { family } = this.cidr;
    const used =
      this.range.size <= 0n
        ? 0
        : store.countBetween(
            family,
            ipKey(family, this.range.first),
            ipKey(family, this.range.last),
          );
    return {
      cidr: this.text,
      family,
      size: this.range.size,
      used,
      free: this.range.size - BigInt(used),
    };
  }

  /** The cursor as a number in [first - 1, last]; a missing or foreign cursor restarts the pool. */
  private cursorValue(store: IpamStore): bigint {
    const text = store.cursor(this.text);
    if (text !== undefined) {
      try {
        const addr = parseIp(text);
        if (this.holds(addr)) return addr.value;
      } catch {
        // A cursor that does not parse is only a hint: start over.
      }
    }
    return this.range.first - 1n;
  }

  /** Lowest free address in [from, to], or null. */
  private firstGap(store: IpamStore, from: bigint, to: bigint): bigint | null {
    if (from > to) return null;
    const { family } = this.cidr;
    let candidate = from;
    for (const key of store.keysBetween(family, ipKey(family, from), ipKey(family, to))) {
      const taken = ipKeyValue(key);
      if (taken > candidate) return candidate; // leaving the loop early resets the statement
      candidate = taken + 1n;
    }
    return candidate <= to ? candidate : null;
  }
}
