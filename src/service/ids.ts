// Stable numeric IDs for frontends and backends, the keys the datapath maps
// will use. An ID stays with its key while the key is held; released IDs are
// reused lowest-first. Reusing IDs across agent restarts (seeded from the
// pinned maps or the state database) is a later step: it only needs another
// IdAllocator.

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

export class MemoryIdAllocator implements IdAllocator {
  private readonly byKey = new Map<string, number>();
  private readonly free: number[] = [];
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
    let id: number;
    if (this.free.length > 0) {
      this.free.sort((a, b) => b - a);
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
    this.free.push(id);
  }

  lookup(key: string): number | undefined {
    return this.byKey.get(key);
  }

  entries(): ReadonlyMap<string, number> {
    return this.byKey;
  }
}
