// The datapath's key for a policy entry, in the byte layout the BPF side will
// declare (policy.h, next session) and the text form lookups use here.
//
//   struct policy_key {           // BPF_MAP_TYPE_LPM_TRIE key
//     __u32 prefixlen;            // 40 + (protocol ? 8 + port prefix bits : 0)
//     __u32 identity;             // peer identity, 0 = any, host order (32 bits)
//     __u8  egress;               // 1 = egress, 0 = ingress          (8 bits)
//     __u8  protocol;             // 0 = any                          (8 bits)
//     __be16 dport;               // destination port, prefix-matched (16 bits)
//   };
//
// identity and direction are always fully matched (the first 40 bits); the
// protocol next; then as many port bits as the block has.

import type { PolicyKey } from "./types.ts";

/** The fixed part of the prefix: identity (32) + direction (8). */
export const FIXED_PREFIX_BITS = 40;

/** The LPM prefix length of a key. */
export function lpmPrefixLen(key: PolicyKey): number {
  return key.protocol === 0 ? FIXED_PREFIX_BITS : FIXED_PREFIX_BITS + 8 + key.portPrefixLen;
}

/**
 * The key as bytes on a little-endian host: prefixlen and identity in host
 * order (always fully matched, so their byte order does not matter to the
 * trie), dport in network order (its high bits are the prefix).
 */
export function encodePolicyKey(key: PolicyKey): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(lpmPrefixLen(key), 0);
  b.writeUInt32LE(key.identity, 4);
  b.writeUInt8(key.direction === "egress" ? 1 : 0, 8);
  b.writeUInt8(key.protocol, 9);
  b.writeUInt16BE(key.port, 10);
  return b;
}

/** The L4 part of a key as one small integer: protocol, prefix length, port. */
export function l4Key(protocol: number, port: number, portPrefixLen: number): number {
  return (protocol * 17 + portPrefixLen) * 65_536 + port;
}

/**
 * Entries of one direction by identity, then by L4 key: the hash probes that
 * stand in for the LPM trie here (no strings built per probe).
 */
export class KeyIndex<T> {
  private readonly byIdentity = new Map<number, Map<number, T>>();

  get(identity: number, protocol: number, port: number, portPrefixLen: number): T | undefined {
    return this.byIdentity.get(identity)?.get(l4Key(protocol, port, portPrefixLen));
  }

  /** The identity's entries, or undefined when it has none (skips its probes). */
  identity(identity: number): ReadonlyMap<number, T> | undefined {
    return this.byIdentity.get(identity);
  }

  set(key: Omit<PolicyKey, "direction">, value: T): void {
    let m = this.byIdentity.get(key.identity);
    if (!m) {
      m = new Map();
      this.byIdentity.set(key.identity, m);
    }
    m.set(l4Key(key.protocol, key.port, key.portPrefixLen), value);
  }
}
