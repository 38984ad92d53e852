// Netlink framing and attribute codec: pure functions, no I/O. A request is a
// tree (header struct + attributes, attributes nest) encoded into one buffer; a
// reply is a list of messages whose attributes are read through `Attrs`.
// Everything is host byte order, as netlink is.

import { endianness } from "node:os";
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, NLMSG_ALIGNTO, NLMSG_HDRLEN } from "./uapi.ts";

const LE = endianness() === "LE";

export const align = (n: number): number => (n + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);

/** One attribute to encode: bytes, or child attributes (a nest). */
export interface Attr {
  type: number;
  value: Uint8Array | Attr[];
  /** Set NLA_F_NESTED on a nest (default true; some legacy nests want it off). */
  nestedFlag?: boolean;
}

export interface MessageSpec {
  type: number;
  flags: number;
  /** The family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg...), already encoded. */
  header: Uint8Array;
  attrs?: Attr[];
}

/** A decoded message; payload is a view of the reply (no copy). */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

// --- scalar helpers (host byte order)

export function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  LE ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
  return b;
}
export function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  LE ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0);
  return b;
}
export function i32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  LE ? b.writeInt32LE(v) : b.writeInt32BE(v);
  return b;
}
export function readU16(b: Buffer, o: number): number {
  return LE ? b.readUInt16LE(o) : b.readUInt16BE(o);
}
export function readU32(b: Buffer, o: number): number {
  return LE ? b.readUInt32LE(o) : b.readUInt32BE(o);
}
export function readI32(b: Buffer, o: number): number {
  return LE ? b.readInt32LE(o) : b.readInt32BE(o);
}
export function writeU16(b: Buffer, o: number, v: number): void {
  LE ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o);
}
export function writeU32(b: Buffer, o: number, v: number): void {
  LE ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o);
}
export function writeI32(b: Buffer, o: number, v: number): void {
  LE ? b.writeInt32LE(v, o) : b.writeInt32BE(v, o);
}

// --- attribute constructors

export const attrBytes = (type: number, value: Uint8Array): Attr => ({ type, value });
export const attrU8 = (type: number, v: number): Attr => ({ type, value: Uint8Array.of(v) });
export const attrU16 = (type: number, v: number): Attr => ({ type, value: u16(v) });
export const attrU32 = (type: number, v: number): Attr => ({ type, value: u32(v) });
export const attrI32 = (type: number, v: number): Attr => ({ type, value: i32(v) });
/** NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING policies expect. */
export const attrStr = (type: number, s: string): Attr => ({ type, value: Buffer.from(`${s}\0`) });
export const attrNest = (type: number, children: Attr[], nestedFlag = true): Attr => ({
  type,
  value: children,
  nestedFlag,
});

// --- encoding

/** Bytes an attribute list takes, padding included. */
export function attrsSize(attrs: Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align(attrSize(a));
  return n;
}

function attrSize(a: Attr): number {
  return NLA_HDRLEN + (a.value instanceof Uint8Array ? a.value.length : attrsSize(a.value));
}

/** Writes attrs at offset; returns the offset after them. Padding bytes are zeroed. */
export function writeAttrs(buf: Buffer, offset: number, attrs: Attr[]): number {
  let o = offset;
  for (const a of attrs) {
    const len = attrSize(a);
    if (len > 0xffff)
      throw new RangeError(`netlink attribute type ${a.type} too long (${len} bytes)`);
    writeU16(buf, o, len);
    const nested = !(a.value instanceof Uint8Array);
    writeU16(buf, o + 2, nested && a.nestedFlag !== false ? a.type | NLA_F_NESTED : a.type);
    if (a.value instanceof Uint8Array) buf.set(a.value, o + NLA_HDRLEN);
    else writeAttrs(buf, o + NLA_HDRLEN, a.value);
    const end = o + align(len);
    buf.fill(0, o + len, end);
    o = end;
  }
  return o;
}

export function encodeAttrs(attrs: Attr[]): Buffer {
  const buf = Buffer.alloc(attrsSize(attrs));
  writeAttrs(buf, 0, attrs);
  return buf;
}

/** Encodes a full message; nlmsg_seq and nlmsg_pid are left 0 for the binding to fill. */
export function encodeMessage(spec: MessageSpec): Buffer {
  const attrs = spec.attrs ?? [];
  const hdrLen = align(spec.header.length);
  const len = NLMSG_HDRLEN + hdrLen + attrsSize(attrs);
  const buf = Buffer.alloc(len);
  writeU32(buf, 0, len);
  writeU16(buf, 4, spec.type);
  writeU16(buf, 6, spec.flags);
  buf.set(spec.header, NLMSG_HDRLEN);
  writeAttrs(buf, NLMSG_HDRLEN + hdrLen, attrs);
  return buf;
}

// --- decoding

/** Splits a buffer holding one or more messages (a datagram, or one reply). */
export function parseMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let o = 0;
  while (o + NLMSG_HDRLEN <= buf.length) {
    const len = readU32(buf, o);
    if (len < NLMSG_HDRLEN || o + len > buf.length) {
      throw new RangeError(`malformed netlink message at offset ${o}: length ${len}`);
    }
    out.push({
      type: readU16(buf, o + 4),
      flags: readU16(buf, o + 6),
      seq: readU32(buf, o + 8),
      pid: readU32(buf, o + 12),
      payload: buf.subarray(o + NLMSG_HDRLEN, o + len),
    });
    o += align(len);
  }
  return out;
}

/** The payload of a reply message (no other message in it). */
export function messagePayload(reply: Buffer): Buffer {
  const [msg] = parseMessages(reply);
  if (!msg) throw new RangeError("empty netlink reply");
  return msg.payload;
}

/**
 * Attributes of one level, by type (flags masked off). A type that occurs more
 * than once keeps every value in order (`all`); the getters return the last,
 * which is what the kernel's nla_parse does.
 */
export class Attrs {
  private readonly map = new Map<number, Buffer[]>();

  /** Parses the attributes in buf[offset, end). Stops quietly at a truncated tail. */
  static parse(buf: Buffer, offset = 0, end = buf.length): Attrs {
    const attrs = new Attrs();
    let o = offset;
    while (o + NLA_HDRLEN <= end) {
      const len = readU16(buf, o);
      if (len < NLA_HDRLEN || o + len > end) break;
      const type = readU16(buf, o + 2) & NLA_TYPE_MASK;
      const value = buf.subarray(o + NLA_HDRLEN, o + len);
      const list = attrs.map.get(type);
      if (list) list.push(value);
      else attrs.map.set(type, [value]);
      o += align(len);
    }
    return attrs;
  }

  has(type: number): boolean {
    return this.map.has(type);
  }
  types(): number[] {
    return [...this.map.keys()];
  }
  all(type: number): Buffer[] {
    return this.map.get(type) ?? [];
  }
  raw(type: number): Buffer | undefined {
    const list = this.map.get(type);
    return list?.[list.length - 1];
  }
  u8(type: number): number | undefined {
    const b = this.raw(type);
    return b && b.length >= 1 ? b[0] : undefined;
  }
  u16(type: number): number | undefined {
    const b = this.raw(type);
    return b && b.length >= 2 ? readU16(b, 0) : undefined;
  }
  u32(type: number): number | undefined {
    const b = this.raw(type);
    return b && b.length >= 4 ? readU32(b, 0) : undefined;
  }
  i32(type: number): number | undefined {
    const b = this.raw(type);
    return b && b.length >= 4 ? readI32(b, 0) : undefined;
  }
  /** A string attribute without its trailing NUL. */
  str(type: number): string | undefined {
    const b = this.raw(type);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    return b.toString("utf8", 0, nul < 0 ? b.length : nul);
  }
  /** A nest, parsed one level down (skipping `skip` bytes of header struct first). */
  nested(type: number, skip = 0): Attrs | undefined {
    const b = this.raw(type);
    return b ? Attrs.parse(b, skip) : undefined;
  }
}
