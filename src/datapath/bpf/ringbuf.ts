// Ring-buffer consumer. The binding drains the ring on the event loop when its
// epoll fd turns readable and hands JavaScript one Buffer per batch; this file
// walks the records of a batch without copying them again.
import { native } from "../errors.ts";
import { loadNative, type NativeRingBuffer } from "../native/binding.ts";
import type { BpfMapRef } from "./object.ts";

/** One batch of records: [u32 length][bytes, padded to 8] back to back. */
export class RingBatch {
  constructor(
    readonly buffer: Buffer,
    readonly count: number,
  ) {}

  /** Calls fn with a view of each record (valid during the call; copy to keep it). */
  forEach(fn: (record: Buffer, index: number) => void): void {
    const buf = this.buffer;
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const len = buf.readUInt32LE(off);
      fn(buf.subarray(off + 4, off + 4 + len), i);
      off += (4 + len + 7) & ~7;
    }
  }

  /**
   * Calls fn with the batch buffer and each record's offset and length: no
   * allocation per record, for consumers that decode fields in place.
   */
  forEachOffset(fn: (buffer: Buffer, offset: number, length: number) => void): void {
    const buf = this.buffer;
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const len = buf.readUInt32LE(off);
      fn(buf, off + 4, len);
      off += (4 + len + 7) & ~7;
    }
  }

  /** Decodes every record with fn. */
  map<T>(fn: (record: Buffer) => T): T[] {
    const out: T[] = [];
    this.forEach((r) => {
      out.push(fn(r));
    });
    return out;
  }
}

export interface RingBufferOptions {
  /** Max records per JS call. */
  maxBatch?: number;
}

export class RingBuffer {
  private constructor(private readonly handle: NativeRingBuffer) {}

  static open(
    map: BpfMapRef,
    onBatch: (batch: RingBatch) => void,
    options: RingBufferOptions = {},
  ): RingBuffer {
    const handle = native(
      () =>
        loadNative().openRingBuffer(
          map.fd,
          (buffer, count) => onBatch(new RingBatch(buffer, count)),
          options,
        ),
      `opening ring buffer ${map.name}`,
    );
    return new RingBuffer(handle);
  }

  /** Drains now, synchronously; returns the number of records delivered. */
  drain(): number {
    return this.handle.consume();
  }

  get delivered(): number {
    return this.handle.delivered;
  }

  close(): void {
    this.handle.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
