// Neighbour entries (RTM_*NEIGH): static ARP/NDP entries, e.g. the pod's
// gateway 169.254.1.1 -> host veth MAC, so the pod never has to ARP for it.

import { NetErrorCode } from "./errors.ts";
import { type Family, formatIp, formatMac, parseIp, parseMac } from "./ip.ts";
import { type LinkRef, linkIndex, type NetOptions } from "./link.ts";
import {
  type Attr,
  Attrs,
  attrBytes,
  attrU32,
  encodeMessage,
  messagePayload,
  readI32,
  readU16,
  writeI32,
  writeU16,
} from "./netlink.ts";
import { rtnlDump, rtnlRequest } from "./socket.ts";
import { AF_INET, AF_INET6, AF_UNSPEC, NDA, NLM_F, NTF, NUD, RTM } from "./uapi.ts";

export type NeighState = keyof typeof NUD | "NONE";

export interface NeighbourSpec {
  /** The IP the entry resolves. */
  address: string;
  /** Its MAC. */
  lladdr: string;
  dev: LinkRef;
  /** NUD state; default PERMANENT (never expires, never probed). */
  state?: NeighState;
  router?: boolean;
}

export interface Neighbour {
  family: Family;
  dev: number;
  address: string;
  lladdr?: string;
  /** NUD_* bits */
  state: number;
  permanent: boolean;
  flags: number;
}

const NDMSG_LEN = 12;

function encodeNdMsg(family: number, index: number, state: number, flags: number): Buffer {
  const b = Buffer.alloc(NDMSG_LEN);
  b[0] = family;
  writeI32(b, 4, index);
  writeU16(b, 8, state);
  b[10] = flags;
  return b;
}

export function parseNeighbour(payload: Buffer): Neighbour {
  const a = Attrs.parse(payload, NDMSG_LEN);
  const family: Family = payload[0] === AF_INET6 ? 6 : 4;
  const state = readU16(payload, 8);
  const dst = a.raw(NDA.DST);
  const ll = a.raw(NDA.LLADDR);
  const n: Neighbour = {
    family,
    dev: readI32(payload, 4),
    address: dst ? formatIp(dst) : "",
    state,
    permanent: (state & NUD.PERMANENT) !== 0,
    flags: payload[10]!,
  };
  if (ll && ll.length === 6) n.lladdr = formatMac(ll);
  return n;
}

function neighMessage(
  type: number,
  flags: number,
  index: number,
  spec: { address: string; lladdr?: string; state?: NeighState; router?: boolean },
): Buffer {
  const ip = parseIp(spec.address);
  const state =
    spec.state === undefined ? NUD.PERMANENT : spec.state === "NONE" ? 0 : NUD[spec.state];
  const attrs: Attr[] = [attrBytes(NDA.DST, ip.bytes)];
  if (spec.lladdr) attrs.push(attrBytes(NDA.LLADDR, parseMac(spec.lladdr)));
  const header = encodeNdMsg(
    ip.family === 4 ? AF_INET : AF_INET6,
    index,
    state,
    spec.router ? NTF.ROUTER : 0,
  );
  return encodeMessage({ type, flags, header, attrs });
}

async function modify(spec: NeighbourSpec, replace: boolean, opts: NetOptions): Promise<void> {
  const index = linkIndex(spec.dev, opts);
  const flags = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL);
  await rtnlRequest(opts.netns, neighMessage(RTM.NEWNEIGH, flags, index, spec), {
    what: `${replace ? "replace" : "add"} neighbour ${spec.address} lladdr ${spec.lladdr} dev "${spec.dev}"`,
    netns: opts.netns,
    codes: { EEXIST: NetErrorCode.NEIGH_EXISTS, ENODEV: NetErrorCode.LINK_NOT_FOUND },
    details: { link: spec.dev, address: spec.address },
  });
}

/** Adds an entry; E_NEIGH_EXISTS when there is one for that address on that link. */
export function addNeighbour(spec: NeighbourSpec, opts: NetOptions = {}): Promise<void> {
  return modify(spec, false, opts);
}

/** Adds or overwrites the entry (also turns a learnt entry into a permanent one). */
export function replaceNeighbour(spec: NeighbourSpec, opts: NetOptions = {}): Promise<void> {
  return modify(spec, true, opts);
}

/** Deletes the entry for address on dev; E_NEIGH_NOT_FOUND when there is none. */
export async function deleteNeighbour(
  spec: { address: string; dev: LinkRef },
  opts: NetOptions = {},
): Promise<void> {
  const index = linkIndex(spec.dev, opts);
  await rtnlRequest(
    opts.netns,
    neighMessage(RTM.DELNEIGH, NLM_F.REQUEST | NLM_F.ACK, index, { ...spec, state: "NONE" }),
    {
      what: `delete neighbour ${spec.address} dev "${spec.dev}"`,
      netns: opts.netns,
      codes: { ENOENT: NetErrorCode.NEIGH_NOT_FOUND, ENODEV: NetErrorCode.LINK_NOT_FOUND },
      reasons: { ENOENT: "no such neighbour entry" },
      details: { link: spec.dev, address: spec.address },
    },
  );
}

export interface NeighbourFilter {
  dev?: LinkRef;
  family?: Family;
}

export async function listNeighbours(
  filter: NeighbourFilter = {},
  opts: NetOptions = {},
): Promise<Neighbour[]> {
  const index = filter.dev === undefined ? 0 : linkIndex(filter.dev, opts);
  const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : AF_UNSPEC;
  const msg = encodeMessage({
    type: RTM.GETNEIGH,
    flags: NLM_F.REQUEST | NLM_F.DUMP,
    // Strict dumps refuse ndm_ifindex in the header; the filter is NDA_IFINDEX.
    header: encodeNdMsg(family, 0, 0, 0),
    attrs: index ? [attrU32(NDA.IFINDEX, index)] : [],
  });
  const replies = await rtnlDump(opts.netns, msg, { what: "list neighbours", netns: opts.netns });
  return replies.map((r) => parseNeighbour(messagePayload(r)));
}
