// Stable numeric IDs for frontends and backends, the keys the datapath maps
// use. An ID stays with its key while the key is held; released IDs are
// reused lowest-first. The datapath reconciler seeds the allocators from the
// pinned maps after a restart (seed), so IDs survive it, and defers reuse of a
// released ID until the maps no longer mention it (deferRelease + flush): an
// ID is never reused while an old backend set still points at it.

import { ServiceCode, serviceError } from "./errors.ts";

export interface IdAllocator {
  /** The key's ID, allocating one when it has none. */
  acquire(key: string): number;
  /** Frees the key's ID; unknown keys are ignored. */
  release(key: string): void;
  lookup(key: string): number | undefined;
  /** Held IDs, by key. */
  entries(): ReadonlyMap<string, number>;
}

/** An allocator the datapath reconciler can seed and whose reuse it can hold back. */
export interface DatapathIdAllocator extends IdAllocator {
  deferRelease(): void;
  flush(): Map<string, number>;
  seed(entries: Iterable<readonly [string, number]>): void;
}

export class MemoryIdAllocator implements DatapathIdAllocator {
  private readonly byKey = new Map<string, number>();
  /** Free IDs; sorted descending (lowest last) whenever freeSorted is true. */
  private readonly free: number[] = [];
  private freeSorted = true;
  /** Released while deferring: key -> ID, not reusable until flush(). */
  private readonly pending = new Map<string, number>();
  private deferring = false;
  private nextFresh: number;

  /** IDs are handed out from [first, max]. */
  constructor(
    private readonly name: string,
    private readonly first = 1,
    private readonly max = 0xffff,
  ) {
    this.nextFresh = first;
  }

  acquire(key: string): number {
    const held = this.byKey.get(key);
    if (held !== undefined) return held;
    const parked = this.pending.get(key);
    if (parked !== undefined) {
      this.pending.delete(key);
      this.byKey.set(key, parked);
      return parked;
    }
    let id: number;
    if (this.free.length > 0) {
      // Sorted once after a batch of frees, not per acquire: 10,000 services
      // after a restart would otherwise sort the free list 20,000 times.
      if (!this.freeSorted) {
        this.free.sort((a, b) => b - a);
        this.freeSorted = true;
      }
      id = this.free.pop()!;
    } else if (this.nextFresh <= this.max) {
      id = this.nextFresh++;
    } else {
      throw serviceError(
        ServiceCode.idsExhausted,
        `no free ${this.name} ID: all ${this.max - this.first + 1} are in use`,
        { allocator: this.name },
      );
    }
    this.byKey.set(key, id);
    return id;
  }

  release(key: string): void {
    const id = this.byKey.get(key);
    if (id === undefined) return;
    this.byKey.delete(key);
    if (this.deferring) this.pending.set(key, id);
    else this.freeId(id);
  }

  private freeId(id: number): void {
    const last = this.free[this.free.length - 1];
    // Pushing below the current lowest keeps the order; anything else needs a sort.
    if (last !== undefined && id > last) this.freeSorted = false;
    this.free.push(id);
  }

  /** From now on released IDs wait for flush() before they can be reused. */
  deferRelease(): void {
    this.deferring = true;
  }

  /** Makes the IDs released since the last flush reusable; returns them by key. */
  flush(): Map<string, number> {
    const out = new Map(this.pending);
    for (const id of this.pending.values()) this.freeId(id);
    this.pending.clear();
    return out;
  }

  /**
   * Takes over IDs found in the datapath after a restart, before any acquire:
   * each key gets its old ID. Seeded IDs are parked (released, not yet
   * reusable) until the model acquires them again or flush() frees them.
   */
  seed(entries: Iterable<readonly [string, number]>): void {
    const sorted = [...entries].sort((a, b) => a[1] - b[1]);
    for (const [key, id] of sorted) {
      if (id < this.first || id > this.max) continue;
      if (this.byKey.has(key) || this.pending.has(key)) continue;
      this.pending.set(key, id);
      if (id >= this.nextFresh) {
        for (let i = this.nextFresh; i < id; i++) this.freeId(i);
        this.nextFresh = id + 1;
      } else {
        const at = this.free.indexOf(id);
        if (at >= 0) this.free.splice(at, 1);
      }
    }
  }

  lookup(key: string): number | undefined {
    return this.byKey.get(key);
  }

  entries(): ReadonlyMap<string, number> {
    return this.byKey;
  }
}
