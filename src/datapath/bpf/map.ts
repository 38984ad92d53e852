// Typed BPF maps. Key and value codecs come from the generated layouts
// (src/datapath/generated/*.ts, read from the objects' BTF); opening a map
// checks the codecs' sizes against the kernel's map, so a stale layout fails
// loudly instead of corrupting entries.
import { FairwayError } from "../../base/errors.ts";
import type { Codec, MapLayout } from "../codec.ts";
import { native } from "../errors.ts";
import { loadNative } from "../native/binding.ts";
import type { BpfMapRef } from "./object.ts";

/** bpf_map_update_elem flags */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

const PERCPU_TYPES = new Set([5 /* percpu_hash */, 6 /* percpu_array */, 10 /* lru_percpu_hash */]);

interface MapIdentity {
  fd: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
}

export class BpfMap<K, V> {
  private readonly keyBuf: Uint8Array;
  private readonly valueBuf: Uint8Array;
  private readonly slot: number;
  private closed = false;

  private constructor(
    private readonly id: MapIdentity,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
    /** true when this wrapper opened the fd itself (openPinned) and must close it */
    private readonly ownsFd: boolean,
  ) {
    this.keyBuf = new Uint8Array(id.keySize);
    // Per-CPU maps read and write one value slot per possible CPU, 8-byte aligned.
    this.slot = (id.valueSize + 7) & ~7;
    const cpus = PERCPU_TYPES.has(id.type) ? loadNative().possibleCpus() : 1;
    this.valueBuf = new Uint8Array(PERCPU_TYPES.has(id.type) ? this.slot * cpus : id.valueSize);
  }

  /** A typed view of a loaded object's map; the object keeps owning the fd. */
  static of<K, V>(map: BpfMapRef, layout: MapLayout<K, V>): BpfMap<K, V> {
    return new BpfMap(map, ...codecsFor(map, layout), false);
  }

  /** Opens a pinned map; the returned wrapper owns the fd (close() it). */
  static openPinned<K, V>(path: string, layout: MapLayout<K, V>): BpfMap<K, V> {
    const b = loadNative();
    const fd = native(() => b.objGet(path), `opening pinned map ${path}`);
    try {
      const info = native(() => b.mapInfo(fd), `reading info of pinned map ${path}`);
      const id = {
        fd,
        name: info.name || path,
        type: info.type,
        keySize: info.keySize,
        valueSize: info.valueSize,
      };
      return new BpfMap(id, ...codecsFor(id, layout), true);
    } catch (err) {
      b.closeFd(fd);
      throw err;
    }
  }

  get name(): string {
    return this.id.name;
  }

  get fd(): number {
    return this.id.fd;
  }

  get perCpu(): boolean {
    return PERCPU_TYPES.has(this.id.type);
  }

  lookup(key: K): V | undefined {
    this.key.encode(key, this.keyBuf, 0);
    const found = native(
      () => loadNative().mapLookup(this.id.fd, this.keyBuf, this.valueBuf),
      this.ctx("lookup"),
    );
    return found ? this.value.decode(this.valueBuf, 0) : undefined;
  }

  /** Per-CPU maps: one value per possible CPU. */
  lookupPerCpu(key: K): V[] | undefined {
    this.key.encode(key, this.keyBuf, 0);
    const found = native(
      () => loadNative().mapLookup(this.id.fd, this.keyBuf, this.valueBuf),
      this.ctx("lookup"),
    );
    if (!found) return undefined;
    const out: V[] = [];
    for (let off = 0; off < this.valueBuf.length; off += this.slot)
      out.push(this.value.decode(this.valueBuf, off));
    return out;
  }

  update(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    this.key.encode(key, this.keyBuf, 0);
    this.value.encode(value, this.valueBuf, 0);
    native(
      () => loadNative().mapUpdate(this.id.fd, this.keyBuf, this.valueBuf, flags),
      this.ctx("update"),
    );
  }

  /** true when an entry was deleted, false when there was none. */
  delete(key: K): boolean {
    this.key.encode(key, this.keyBuf, 0);
    return native(() => loadNative().mapDelete(this.id.fd, this.keyBuf), this.ctx("delete"));
  }

  /** Iterates keys with get_next_key (safe against concurrent deletes: restarts are the caller's choice). */
  *keys(): Generator<K> {
    const b = loadNative();
    let prev: Uint8Array | null = null;
    const next = new Uint8Array(this.id.keySize);
    while (native(() => b.mapNextKey(this.id.fd, prev, next), this.ctx("iterate"))) {
      yield this.key.decode(next, 0);
      prev = next.slice();
    }
  }

  *entries(): Generator<[K, V]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /** Every entry, read with BPF_MAP_LOOKUP_BATCH in chunks of `chunk`. */
  dump(chunk = 4096): [K, V][] {
    const b = loadNative();
    const { keySize } = this.id;
    const valueSize = this.valueBuf.length;
    const keys = new Uint8Array(keySize * chunk);
    const values = new Uint8Array(valueSize * chunk);
    // The batch token is opaque; 8 bytes covers hash (u32 bucket) and array (u32 index) maps.
    const token = new Uint8Array(Math.max(8, keySize));
    const out: [K, V][] = [];
    let started = false;
    for (;;) {
      const r = native(
        () =>
          b.mapLookupBatch(this.id.fd, started ? token.slice() : null, token, keys, values, chunk),
        this.ctx("lookup batch"),
      );
      for (let i = 0; i < r.count; i++) {
        out.push([this.key.decode(keys, i * keySize), this.value.decode(values, i * valueSize)]);
      }
      if (r.done) return out;
      started = true;
    }
  }

  /** Writes many entries with one BPF_MAP_UPDATE_BATCH call per `chunk`. */
  updateBatch(
    entries: readonly (readonly [K, V])[],
    flags: number = UpdateFlags.ANY,
    chunk = 65536,
  ): void {
    const b = loadNative();
    const { keySize, valueSize } = this.id;
    for (let start = 0; start < entries.length; start += chunk) {
      const part = entries.slice(start, start + chunk);
      const keys = new Uint8Array(keySize * part.length);
      const values = new Uint8Array(valueSize * part.length);
      part.forEach(([k, v], i) => {
        this.key.encode(k, keys, i * keySize);
        this.value.encode(v, values, i * valueSize);
      });
      native(
        () => b.mapUpdateBatch(this.id.fd, keys, values, part.length, flags),
        this.ctx("update batch"),
      );
    }
  }

  /** Deletes many keys with BPF_MAP_DELETE_BATCH; all keys must exist. */
  deleteBatch(keys: readonly K[]): number {
    const b = loadNative();
    const buf = new Uint8Array(this.id.keySize * keys.length);
    keys.forEach((k, i) => {
      this.key.encode(k, buf, i * this.id.keySize);
    });
    return native(() => b.mapDeleteBatch(this.id.fd, buf, keys.length), this.ctx("delete batch"));
  }

  /** Removes every entry (hash-like maps). */
  clear(): void {
    for (const k of [...this.keys()]) this.delete(k);
  }

  close(): void {
    if (this.closed || !this.ownsFd) return;
    this.closed = true;
    loadNative().closeFd(this.id.fd);
  }

  private ctx(op: string): string {
    return `${op} on map ${this.id.name}`;
  }
}

function codecsFor<K, V>(map: MapIdentity, layout: MapLayout<K, V>): [Codec<K>, Codec<V>] {
  const { keyCodec, valueCodec } = layout;
  if (!keyCodec || !valueCodec) {
    throw new FairwayError(
      "E_BPF_MAP_LAYOUT",
      `map ${map.name} has no key/value layout (a ${layout.type} map)`,
    );
  }
  if (keyCodec.size !== map.keySize || valueCodec.size !== map.valueSize) {
    throw new FairwayError(
      "E_BPF_MAP_LAYOUT",
      `map ${map.name}: layout says key ${keyCodec.name} (${keyCodec.size} bytes) and value ` +
        `${valueCodec.name} (${valueCodec.size} bytes), the kernel map has key ${map.keySize} and value ` +
        `${map.valueSize} bytes; regenerate codecs (npm run gen)`,
    );
  }
  return [keyCodec, valueCodec];
}
