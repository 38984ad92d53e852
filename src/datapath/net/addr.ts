// IPv4/IPv6 addresses on links (RTM_*ADDR). Flags past the 8 bits of
// ifa_flags (NOPREFIXROUTE) travel in IFA_FLAGS, which is always sent.

import { NetErrorCode } from "./errors.ts";
import { type Family, formatIp, parsePrefix } from "./ip.ts";
import { type LinkRef, linkIndex, type NetOptions } from "./link.ts";
import {
  Attrs,
  attrBytes,
  attrStr,
  attrU32,
  encodeMessage,
  messagePayload,
  readU32,
  writeU32,
} from "./netlink.ts";
import { rtnlDump, rtnlRequest } from "./socket.ts";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA,
  IFA_F,
  NLM_F,
  RT_SCOPE,
  RTM,
  type Scope,
  scopeName,
  scopeValue,
} from "./uapi.ts";

export interface AddressSpec {
  /** "10.0.0.2/24", "fd00::2/64"; a bare address means /32 or /128. */
  address: string;
  /** Default "global" ("host" for 127/8 and ::1 is up to the caller). */
  scope?: Scope;
  /** Do not add the prefix route the kernel adds for the address (IFA_F_NOPREFIXROUTE). */
  noPrefixRoute?: boolean;
  /** IPv6: skip duplicate address detection, usable at once (IFA_F_NODAD). */
  noDad?: boolean;
  /** IPv4 label, e.g. "eth0:1". */
  label?: string;
}

export interface Address {
  index: number;
  family: Family;
  address: string;
  prefixLen: number;
  /** address/prefixLen */
  cidr: string;
  scope: Scope;
  /** IFA_F_* */
  flags: number;
  label?: string;
  noPrefixRoute: boolean;
  noDad: boolean;
  /** IPv6 DAD still running: the address cannot be bound yet. */
  tentative: boolean;
}

const IFADDRMSG_LEN = 8;

function encodeIfAddrMsg(
  family: number,
  prefixLen: number,
  flags: number,
  scope: number,
  index: number,
): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b[0] = family;
  b[1] = prefixLen;
  b[2] = flags & 0xff;
  b[3] = scope;
  writeU32(b, 4, index);
  return b;
}

export function parseAddress(payload: Buffer): Address {
  const a = Attrs.parse(payload, IFADDRMSG_LEN);
  const family: Family = payload[0] === AF_INET6 ? 6 : 4;
  const prefixLen = payload[1]!;
  // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links.
  const raw = a.raw(IFA.LOCAL) ?? a.raw(IFA.ADDRESS) ?? Buffer.alloc(family === 4 ? 4 : 16);
  const flags = a.u32(IFA.FLAGS) ?? payload[2]!;
  const address = formatIp(raw);
  const out: Address = {
    index: readU32(payload, 4),
    family,
    address,
    prefixLen,
    cidr: `${address}/${prefixLen}`,
    scope: scopeName(payload[3]!),
    flags,
    noPrefixRoute: (flags & IFA_F.NOPREFIXROUTE) !== 0,
    noDad: (flags & IFA_F.NODAD) !== 0,
    tentative: (flags & IFA_F.TENTATIVE) !== 0,
  };
  const label = a.str(IFA.LABEL);
  if (label) out.label = label;
  return out;
}

function addrMessage(type: number, flags: number, index: number, spec: AddressSpec): Buffer {
  const p = parsePrefix(spec.address);
  let ifaFlags = 0;
  if (spec.noPrefixRoute) ifaFlags |= IFA_F.NOPREFIXROUTE;
  if (spec.noDad) ifaFlags |= IFA_F.NODAD;
  const family = p.family === 4 ? AF_INET : AF_INET6;
  const scope = scopeValue(spec.scope ?? "global");
  const attrs = [
    attrBytes(IFA.LOCAL, p.bytes),
    attrBytes(IFA.ADDRESS, p.bytes),
    attrU32(IFA.FLAGS, ifaFlags),
  ];
  if (spec.label) attrs.push(attrStr(IFA.LABEL, spec.label));
  return encodeMessage({
    type,
    flags,
    header: encodeIfAddrMsg(family, p.prefixLen, ifaFlags, scope, index),
    attrs,
  });
}

const asSpec = (spec: AddressSpec | string): AddressSpec =>
  typeof spec === "string" ? { address: spec } : spec;

async function modify(
  link: LinkRef,
  spec: AddressSpec,
  replace: boolean,
  opts: NetOptions,
): Promise<void> {
  const index = linkIndex(link, opts);
  const flags = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL);
  await rtnlRequest(opts.netns, addrMessage(RTM.NEWADDR, flags, index, spec), {
    what: `add address ${spec.address} to link "${link}"`,
    netns: opts.netns,
    codes: { EEXIST: NetErrorCode.ADDR_EXISTS, ENODEV: NetErrorCode.LINK_NOT_FOUND },
    details: { link, address: spec.address },
  });
}

/** Adds an address; E_ADDR_EXISTS when the link has it already. */
export function addAddress(
  link: LinkRef,
  spec: AddressSpec | string,
  opts: NetOptions = {},
): Promise<void> {
  return modify(link, asSpec(spec), false, opts);
}

/** Adds an address or updates its flags/scope. */
export function replaceAddress(
  link: LinkRef,
  spec: AddressSpec | string,
  opts: NetOptions = {},
): Promise<void> {
  return modify(link, asSpec(spec), true, opts);
}

/** Deletes an address ("10.0.0.2/24"); E_ADDR_NOT_FOUND when the link does not have it. */
export async function deleteAddress(
  link: LinkRef,
  address: string,
  opts: NetOptions = {},
): Promise<void> {
  const index = linkIndex(link, opts);
  await rtnlRequest(
    opts.netns,
    addrMessage(RTM.DELADDR, NLM_F.REQUEST | NLM_F.ACK, index, { address, scope: 0 }),
    {
      what: `delete address ${address} from link "${link}"`,
      netns: opts.netns,
      codes: { EADDRNOTAVAIL: NetErrorCode.ADDR_NOT_FOUND, ENODEV: NetErrorCode.LINK_NOT_FOUND },
      reasons: { EADDRNOTAVAIL: "the link has no such address" },
      details: { link, address },
    },
  );
}

export interface AddressFilter {
  link?: LinkRef;
  family?: Family;
}

/** Addresses of the namespace, or of one link; the kernel filters (strict dump). */
export async function listAddresses(
  filter: AddressFilter = {},
  opts: NetOptions = {},
): Promise<Address[]> {
  const index = filter.link === undefined ? 0 : linkIndex(filter.link, opts);
  const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : AF_UNSPEC;
  const msg = encodeMessage({
    type: RTM.GETADDR,
    flags: NLM_F.REQUEST | NLM_F.DUMP,
    header: encodeIfAddrMsg(family, 0, 0, RT_SCOPE.UNIVERSE, index),
  });
  const replies = await rtnlDump(opts.netns, msg, { what: "list addresses", netns: opts.netns });
  return replies.map((r) => parseAddress(messagePayload(r)));
}
