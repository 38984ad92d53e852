// Typed fixed-size binary codecs for BPF map keys, map values, ring-buffer
// events and load-time globals. The layouts come from the C headers through the
// objects' BTF (scripts/gen-codecs.ts writes src/datapath/generated/*.ts from
// them); this file is the runtime those generated files are built from.
//
// Byte order is part of the type name:
//  - U16/U32/U64/I16/I32/I64 are *host* order, which is little-endian on every
//    platform Fairway runs on (x86_64, arm64). BPF programs store plain __u32
//    etc. in host order, so that is what map memory holds. This module refuses
//    to load on a big-endian host rather than decode garbage there.
//  - Be16/Be32/Be64 are network (big-endian) order: the C side types them
//    __be16/__be32/__be64 (ports, addresses). The decoded number is the value
//    (port 80 decodes to 80), the bytes in memory are big-endian.
//
// Every encoder validates before writing: wrong sizes, out-of-range numbers,
// missing or unknown struct fields throw FairwayError("E_CODEC") with a message
// naming the type and its size. Encoders zero the whole region they own first,
// so struct padding is always zero (hash-map keys compare every byte).
import { endianness } from "node:os";
import { FairwayError } from "../base/errors.ts";
import { formatIp } from "./net/ip.ts";

if (endianness() !== "LE") {
  throw new FairwayError(
    "E_CODEC",
    `host byte order is ${endianness()}: Fairway's codecs assume a little-endian host (x86_64, arm64)`,
  );
}

/** Host byte order of the U and I codecs. Network order is spelled Be16/Be32/Be64. */
export const HOST_BYTE_ORDER = "little-endian";

export interface Codec<T> {
  /** Type name used in error messages and generated tables, e.g. "U16", "Be32", "struct diag_proto_key". */
  readonly name: string;
  /** Encoded size in bytes (the C sizeof). */
  readonly size: number;
  /**
   * Writes `value` at `offset` of `buf` (a new zeroed Buffer of `size` bytes when buf is
   * omitted) and returns the buffer written to.
   */
  encode(value: T, buf?: Uint8Array, offset?: number): Uint8Array;
  /** Reads a value at `offset`. Byte arrays are copied, never aliased. */
  decode(buf: Uint8Array, offset?: number): T;
}

/** The value type a codec encodes. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never;

/** The one error codecs throw: names the type and its size, then the problem. */
export function codecError(type: string, size: number, problem: string): FairwayError {
  const bytes = size === 1 ? "1 byte" : `${size} bytes`;
  return new FairwayError("E_CODEC", `${type} (${bytes}): ${problem}`, { details: { type, size } });
}

function checkRoom(
  name: string,
  size: number,
  buf: Uint8Array,
  offset: number,
  verb: string,
): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > buf.length) {
    throw codecError(
      name,
      size,
      `cannot ${verb} at offset ${offset}: buffer has ${buf.length} bytes, needs ${offset + size}`,
    );
  }
}

/** Builds a codec from a validating writer and a reader; handles allocation and bounds. */
function defineCodec<T>(
  name: string,
  size: number,
  write: (value: T, buf: Uint8Array, offset: number) => void,
  read: (buf: Uint8Array, offset: number) => T,
): Codec<T> {
  return Object.freeze({
    name,
    size,
    encode(value: T, buf?: Uint8Array, offset = 0): Uint8Array {
      const out = buf ?? Buffer.alloc(size);
      checkRoom(name, size, out, offset, "encode");
      write(value, out, offset);
      return out;
    },
    decode(buf: Uint8Array, offset = 0): T {
      checkRoom(name, size, buf, offset, "decode");
      return read(buf, offset);
    },
  });
}

// --- integers ---------------------------------------------------------------

function intCodec(
  name: string,
  size: 1 | 2 | 4,
  signed: boolean,
  bigEndian: boolean,
): Codec<number> {
  const bits = size * 8;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return defineCodec<number>(
    name,
    size,
    (value, buf, offset) => {
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        throw codecError(name, size, `value ${String(value)} is not an integer in ${min}..${max}`);
      }
      let v = value < 0 ? value + 2 ** bits : value;
      for (let i = 0; i < size; i++) {
        buf[offset + (bigEndian ? size - 1 - i : i)] = v & 0xff;
        v = Math.floor(v / 256);
      }
    },
    (buf, offset) => {
      let v = 0;
      for (let i = 0; i < size; i++) {
        v = v * 256 + buf[offset + (bigEndian ? i : size - 1 - i)]!;
      }
      return signed && v > max ? v - 2 ** bits : v;
    },
  );
}

function int64Codec(name: string, signed: boolean, bigEndian: boolean): Codec<bigint> {
  const min = signed ? -(2n ** 63n) : 0n;
  const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n;
  return defineCodec<bigint>(
    name,
    8,
    (value, buf, offset) => {
      if (typeof value !== "bigint" || value < min || value > max) {
        const shown =
          typeof value === "bigint" ? `${value}n` : `${String(value)} (${typeof value})`;
        throw codecError(name, 8, `value ${shown} is not a bigint in ${min}n..${max}n`);
      }
      let v = BigInt.asUintN(64, value);
      for (let i = 0; i < 8; i++) {
        buf[offset + (bigEndian ? 7 - i : i)] = Number(v & 0xffn);
        v >>= 8n;
      }
    },
    (buf, offset) => {
      let v = 0n;
      for (let i = 0; i < 8; i++) {
        v = (v << 8n) | BigInt(buf[offset + (bigEndian ? i : 7 - i)]!);
      }
      return signed ? BigInt.asIntN(64, v) : v;
    },
  );
}

export const U8: Codec<number> = intCodec("U8", 1, false, false);
export const U16: Codec<number> = intCodec("U16", 2, false, false);
export const U32: Codec<number> = intCodec("U32", 4, false, false);
export const U64: Codec<bigint> = int64Codec("U64", false, false);
export const I8: Codec<number> = intCodec("I8", 1, true, false);
export const I16: Codec<number> = intCodec("I16", 2, true, false);
export const I32: Codec<number> = intCodec("I32", 4, true, false);
export const I64: Codec<bigint> = int64Codec("I64", true, false);
/** __be16: network byte order in memory, plain number in TypeScript. */
export const Be16: Codec<number> = intCodec("Be16", 2, false, true);
/** __be32: network byte order in memory, plain number in TypeScript. */
export const Be32: Codec<number> = intCodec("Be32", 4, false, true);
/** __be64: network byte order in memory, bigint in TypeScript. */
export const Be64: Codec<bigint> = int64Codec("Be64", false, true);

// --- bytes and arrays ---------------------------------------------------------

/** Exactly n raw bytes (char/u8 arrays, unions). Decoding copies. */
export function Bytes(n: number): Codec<Uint8Array> {
  const name = `Bytes(${n})`;
  return defineCodec<Uint8Array>(
    name,
    n,
    (value, buf, offset) => {
      if (!(value instanceof Uint8Array) || value.length !== n) {
        const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
        throw codecError(name, n, `expected exactly ${n} bytes, got ${got}`);
      }
      buf.set(value, offset);
    },
    (buf, offset) => {
      const out = new Uint8Array(n);
      out.set(buf.subarray(offset, offset + n));
      return out;
    },
  );
}

/** A C array `T x[n]` of a non-byte element type. */
export function array<T>(element: Codec<T>, n: number): Codec<T[]> {
  const name = `${element.name}[${n}]`;
  const size = element.size * n;
  return defineCodec<T[]>(
    name,
    size,
    (value, buf, offset) => {
      if (!Array.isArray(value) || value.length !== n) {
        const got = Array.isArray(value) ? `${value.length} elements` : typeof value;
        throw codecError(name, size, `expected exactly ${n} elements, got ${got}`);
      }
      for (let i = 0; i < n; i++) element.encode(value[i] as T, buf, offset + i * element.size);
    },
    (buf, offset) => {
      const out: T[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = element.decode(buf, offset + i * element.size);
      return out;
    },
  );
}

// --- structs --------------------------------------------------------------------

/** Where a struct member lives and how it is coded. Offsets come from BTF, padding included. */
export interface FieldSpec<T> {
  codec: Codec<T>;
  offset: number;
}

export type StructFields<T> = { [K in keyof T]-?: FieldSpec<T[K]> };

/**
 * A C struct with explicit member offsets. Encoding zeroes all `size` bytes first
 * (padding stays zero), refuses missing and unknown fields.
 */
export function struct<T extends object>(
  name: string,
  size: number,
  fields: StructFields<T>,
): Codec<T> {
  const typeName = `struct ${name}`;
  const entries = Object.entries(fields) as [keyof T & string, FieldSpec<unknown>][];
  for (const [field, spec] of entries) {
    if (spec.offset < 0 || spec.offset + spec.codec.size > size) {
      throw codecError(
        typeName,
        size,
        `field "${field}" (${spec.codec.name} at ${spec.offset}) overflows it`,
      );
    }
  }
  const known = new Set<string>(entries.map(([field]) => field));
  return defineCodec<T>(
    typeName,
    size,
    (value, buf, offset) => {
      if (typeof value !== "object" || value === null) {
        throw codecError(
          typeName,
          size,
          `expected an object, got ${value === null ? "null" : typeof value}`,
        );
      }
      for (const key of Object.keys(value)) {
        if (!known.has(key)) throw codecError(typeName, size, `unknown field "${key}"`);
      }
      buf.fill(0, offset, offset + size);
      for (const [field, spec] of entries) {
        const v = (value as Record<string, unknown>)[field];
        if (v === undefined) throw codecError(typeName, size, `missing field "${field}"`);
        try {
          spec.codec.encode(v, buf, offset + spec.offset);
        } catch (err) {
          if (!(err instanceof FairwayError)) throw err;
          throw codecError(typeName, size, `field "${field}": ${err.message}`);
        }
      }
    },
    (buf, offset) => {
      const out: Record<string, unknown> = {};
      for (const [field, spec] of entries)
        out[field] = spec.codec.decode(buf, offset + spec.offset);
      return out as T;
    },
  );
}

// --- IPv4 / IPv6 addresses ------------------------------------------------------

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** 0x0a000001 (the value of a decoded Be32) -> "10.0.0.1". */
export function ipv4ToString(addr: number): string {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0xffffffff) {
    throw codecError("Ipv4", 4, `value ${addr} is not a 32-bit address`);
  }
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/** "10.0.0.1" -> 0x0a000001, ready for a Be32 field. Dotted quad only, no shorthand. */
export function ipv4FromString(text: string): number {
  const m = IPV4_RE.exec(text);
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) {
    throw codecError("Ipv4", 4, `"${text}" is not a dotted-quad IPv4 address`);
  }
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

/** An IPv4 address as 4 bytes in network order, seen from TypeScript as "a.b.c.d". */
export const Ipv4: Codec<string> = defineCodec<string>(
  "Ipv4",
  4,
  (value, buf, offset) => {
    if (typeof value !== "string")
      throw codecError("Ipv4", 4, `expected a string, got ${typeof value}`);
    Be32.encode(ipv4FromString(value), buf, offset);
  },
  (buf, offset) => ipv4ToString(Be32.decode(buf, offset)),
);

/** 16 bytes -> RFC 5952 text ("fd00::1"): lower case, longest zero run (2+ groups) as "::". */
export function ipv6ToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw codecError("Ipv6", 16, `expected 16 bytes, got ${bytes.length}`);
  return formatIp(bytes);
}

/**
 * A 16-byte union ip_addr (common.h) as text: IPv4 lives in the first 4 bytes.
 * `family` is the l3_family the record carries (4 or 6); anything else gives "".
 */
export function ipAddrToString(bytes: Uint8Array, family: number): string {
  if (family === 4) return ipv4ToString(Be32.decode(bytes, 0));
  if (family === 6) return ipv6ToString(bytes);
  return "";
}

// --- tables the generated files fill in ---------------------------------------

/** A map declared in a BPF object's .maps section, as the generator read it from BTF. */
export interface MapLayout<K = unknown, V = unknown> {
  /** BPF_MAP_TYPE_* without the prefix, lower case: "hash", "array", "ringbuf"... */
  type: string;
  /** The BPF_MAP_TYPE_* number. */
  typeId: number;
  /** null when the map has no key (ringbuf) or declares only key_size. */
  keyCodec: Codec<K> | null;
  valueCodec: Codec<V> | null;
  keySize: number;
  valueSize: number;
  /** Compiled-in default; the loader may change it before load. */
  maxEntries: number;
  flags: number;
  pinning: "none" | "by-name";
}

/** A load-time `const volatile` global (config.h's DECLARE_CONFIG). */
export interface GlobalLayout<T = unknown> {
  section: string;
  offset: number;
  codec: Codec<T>;
  /** Compiled-in default value. */
  default: T;
  description: string;
}

/** A ring-buffer event struct and its enum event_type number (events.h). */
export interface EventLayout<T = unknown> {
  type: number;
  codec: Codec<T>;
}
