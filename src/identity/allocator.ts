// Numeric identities for keys (a label set's canonical text, or a CIDR),
// behind one interface so the node-local allocators here and a cluster-wide
// one (CRD or kvstore, with the Kubernetes integration) are interchangeable.
//
// Rules every implementation keeps:
//   - a key keeps its identity while held; acquire is idempotent;
//   - a released identity is not handed out again until every other number of
//     the range has been used once (the datapath may still mention it in an
//     ipcache or policy entry on another node, or in a flow being read);
//   - seeded entries (a restart) keep their numbers.

import { IdentityCode, identityError } from "./errors.ts";
import type { IdentityRange } from "./reserved.ts";

export interface IdentityAllocator {
  readonly range: IdentityRange;
  /** The key's identity, allocating one when it has none. */
  acquire(key: string): number;
  /** Frees the key's identity; unknown keys are ignored. */
  release(key: string): void;
  lookup(key: string): number | undefined;
  /** Held identities by key. */
  entries(): ReadonlyMap<string, number>;
}

/** The next number to hand out: fresh ones first, then the oldest released. */
export class NumberPool {
  private readonly used = new Set<number>();
  private readonly released: number[] = [];
  private next: number;

  constructor(
    readonly range: IdentityRange,
    private readonly what: string,
  ) {
    this.next = range.first;
  }

  /** Marks `id` as used (seeding); numbers below it become fresh-exhausted. */
  take(id: number): void {
    this.used.add(id);
    if (id >= this.next) this.next = id + 1;
    const at = this.released.indexOf(id);
    if (at >= 0) this.released.splice(at, 1);
  }

  /** Sets the next fresh number (persisted by the SQLite allocator). */
  resume(next: number): void {
    if (next > this.next) this.next = Math.min(next, this.range.last + 1);
  }

  nextFresh(): number {
    return this.next;
  }

  allocate(): number {
    if (this.next <= this.range.last) {
      const id = this.next++;
      this.used.add(id);
      return id;
    }
    for (let i = 0; i < this.released.length; i++) {
      const id = this.released[i]!;
      if (this.used.has(id)) continue;
      this.released.splice(i, 1);
      this.used.add(id);
      return id;
    }
    // Numbers never seen since a restart (below `next`, not used, not released).
    for (let id = this.range.first; id <= this.range.last; id++) {
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
    throw identityError(
      IdentityCode.exhausted,
      `no free ${this.what} identity: all ${this.range.last - this.range.first + 1} are in use`,
      { details: { allocator: this.what } },
    );
  }

  free(id: number): void {
    if (this.used.delete(id)) this.released.push(id);
  }
}

/** In memory. Seed it with the entries a previous run held to keep their numbers. */
export class MemoryIdentityAllocator implements IdentityAllocator {
  private readonly byKey = new Map<string, number>();
  private readonly pool: NumberPool;

  constructor(
    readonly range: IdentityRange,
    seed: Iterable<readonly [string, number]> = [],
    what = "label",
  ) {
    this.pool = new NumberPool(range, what);
    for (const [key, id] of seed) {
      if (id < range.first || id > range.last || this.byKey.has(key)) continue;
      this.byKey.set(key, id);
      this.pool.take(id);
    }
  }

  acquire(key: string): number {
    const held = this.byKey.get(key);
    if (held !== undefined) return held;
    const id = this.pool.allocate();
    this.byKey.set(key, id);
    return id;
  }

  release(key: string): void {
    const id = this.byKey.get(key);
    if (id === undefined) return;
    this.byKey.delete(key);
    this.pool.free(id);
  }

  lookup(key: string): number | undefined {
    return this.byKey.get(key);
  }

  entries(): ReadonlyMap<string, number> {
    return this.byKey;
  }
}

/** Releases every held key not in `inUse` (after a full build); returns them. */
export function releaseUnused(allocator: IdentityAllocator, inUse: ReadonlySet<string>): string[] {
  const gone = [...allocator.entries().keys()].filter((k) => !inUse.has(k));
  for (const key of gone) allocator.release(key);
  return gone;
}
