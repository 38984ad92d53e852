// Hand-built packets for BPF_PROG_TEST_RUN tests: Ethernet + IPv4 (with optional
// IP options) + TCP/UDP/ICMP, with correct checksums. Every field a test may
// want to break (IHL, lengths, truncation) is an option.

export interface Ipv4PacketOptions {
  src?: string;
  dst?: string;
  proto: "tcp" | "udp" | "icmp";
  sport?: number;
  dport?: number;
  payload?: Uint8Array;
  /** IPv4 options bytes (padded to 4 by the builder); sets IHL accordingly */
  ipOptions?: Uint8Array;
  /** override IHL (in 32-bit words) to build invalid headers */
  ihl?: number;
  /** cut the finished frame to this many bytes */
  truncateTo?: number;
  ttl?: number;
}

const MAC_SRC = [0x02, 0, 0, 0, 0, 0x01];
const MAC_DST = [0x02, 0, 0, 0, 0, 0x02];

function ipBytes(text: string): number[] {
  return text.split(".").map((x) => Number(x));
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function l4Header(o: Ipv4PacketOptions, payload: Uint8Array): Uint8Array {
  if (o.proto === "tcp") {
    const h = new Uint8Array(20);
    const v = new DataView(h.buffer);
    v.setUint16(0, o.sport ?? 40000);
    v.setUint16(2, o.dport ?? 80);
    v.setUint32(4, 1);
    h[12] = 5 << 4; // data offset
    h[13] = 0x02; // SYN
    v.setUint16(14, 65535);
    return h;
  }
  if (o.proto === "udp") {
    const h = new Uint8Array(8);
    const v = new DataView(h.buffer);
    v.setUint16(0, o.sport ?? 40000);
    v.setUint16(2, o.dport ?? 53);
    v.setUint16(4, 8 + payload.length);
    return h;
  }
  const h = new Uint8Array(8);
  h[0] = 8; // echo request
  return h;
}

const PROTO = { tcp: 6, udp: 17, icmp: 1 } as const;

export function ipv4Packet(o: Ipv4PacketOptions): Buffer {
  const payload = o.payload ?? new Uint8Array(0);
  const options = o.ipOptions ?? new Uint8Array(0);
  const optLen = Math.ceil(options.length / 4) * 4;
  const l4 = l4Header(o, payload);
  const ipLen = 20 + optLen;
  const total = ipLen + l4.length + payload.length;
  const frame = new Uint8Array(14 + total);
  frame.set(MAC_DST, 0);
  frame.set(MAC_SRC, 6);
  frame[12] = 0x08;
  frame[13] = 0x00;
  const ip = frame.subarray(14, 14 + ipLen);
  ip[0] = (4 << 4) | (o.ihl ?? ipLen / 4);
  new DataView(ip.buffer, ip.byteOffset).setUint16(2, total);
  ip[8] = o.ttl ?? 64;
  ip[9] = PROTO[o.proto];
  ip.set(ipBytes(o.src ?? "10.0.0.1"), 12);
  ip.set(ipBytes(o.dst ?? "10.0.0.2"), 16);
  ip.set(options, 20);
  new DataView(ip.buffer, ip.byteOffset).setUint16(10, checksum(ip));
  frame.set(l4, 14 + ipLen);
  frame.set(payload, 14 + ipLen + l4.length);
  if (o.proto === "icmp") {
    const icmp = frame.subarray(14 + ipLen);
    new DataView(icmp.buffer, icmp.byteOffset).setUint16(2, checksum(icmp));
  }
  const out = Buffer.from(frame);
  return o.truncateTo === undefined ? out : out.subarray(0, o.truncateTo);
}

/** An ARP request frame (not IP). */
export function arpPacket(): Buffer {
  const frame = Buffer.alloc(42);
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).copy(frame, 0);
  Buffer.from(MAC_SRC).copy(frame, 6);
  frame.writeUInt16BE(0x0806, 12);
  frame.writeUInt16BE(1, 14); // hw type ethernet
  frame.writeUInt16BE(0x0800, 16);
  frame[18] = 6;
  frame[19] = 4;
  frame.writeUInt16BE(1, 20); // request
  return frame;
}
