// Text <-> map bytes for the endpoint map: IP addresses as struct
// endpoint_key (address + enum l3_family), MACs as 6 bytes. Pure.
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import type { EndpointKey } from "../generated/lxc.ts";
import { formatMac, mapAddr, mapAddrText, parseMac } from "../net/index.ts";
import { VethErrorCode, vethError } from "./errors.ts";

/** enum l3_family (bpf/lib/common.h) */
const FAMILY = { 4: 4, 6: 6 } as const;

/** A bare IPv4/IPv6 address, or one with a prefix length ("10.0.0.5/32"): the address part. */
export function bareIp(text: string): string {
  const ip = text.split("/")[0]!;
  if (isIP(ip) === 0) {
    throw vethError(VethErrorCode.INVALID, `invalid pod IP address "${text}"`, {
      details: { value: text },
    });
  }
  return ip;
}

export function familyOf(ip: string): 4 | 6 {
  return isIP(bareIp(ip)) === 6 ? 6 : 4;
}

export function endpointKey(ip: string): EndpointKey {
  const { addr, family } = mapAddr(bareIp(ip));
  return { addr, family: FAMILY[family], pad: new Uint8Array(3) };
}

export function keyToIp(key: EndpointKey): string {
  return mapAddrText(key.addr, key.family);
}

export function macToBytes(mac: string, what: string): Uint8Array {
  try {
    return new Uint8Array(parseMac(mac));
  } catch (err) {
    throw vethError(VethErrorCode.INVALID, `invalid ${what} MAC address "${mac}"`, { cause: err });
  }
}

export const bytesToMac = (bytes: Uint8Array): string => formatMac(bytes);

/** A random locally administered unicast MAC (02:..), as the kernel makes for veths. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return formatMac(b);
}
