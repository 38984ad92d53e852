// Links: list/get, changes (up/down, mtu, mac, name, namespace) and delete.
// RTM_*LINK messages are built and parsed here (veth creation: veth.ts); the
// kernel finds a link by ifindex, or by IFLA_IFNAME when the index is 0.

import { closeSync } from "node:fs";
import { loadNative } from "../native/binding.ts";
import { NetErrorCode, netError, nsLabel, translateError } from "./errors.ts";
import { formatMac, parseMac } from "./ip.ts";
import {
  type Attr,
  Attrs,
  attrBytes,
  attrStr,
  attrU32,
  encodeMessage,
  messagePayload,
  readI32,
  readU32,
  writeI32,
  writeU32,
} from "./netlink.ts";
import { rtnlDump, rtnlRequest } from "./socket.ts";
import {
  AF_UNSPEC,
  IFF,
  IFLA,
  IFLA_INFO,
  NLM_F,
  OPERSTATES,
  RTEXT_FILTER_SKIP_STATS,
  RTM,
} from "./uapi.ts";

/** Options every function of datapath/net takes. */
export interface NetOptions {
  /** Namespace path (/run/netns/x, /proc/<pid>/ns/net); default: the current one. */
  netns?: string;
}

/** A link by name or ifindex. */
export type LinkRef = string | number;

export interface Link {
  index: number;
  name: string;
  mtu: number;
  /** "aa:bb:cc:dd:ee:ff"; absent when the link has no 6-byte IFLA_ADDRESS (lo reports 00:00:00:00:00:00). */
  mac?: string;
  /** IFF_* flags */
  flags: number;
  up: boolean;
  lowerUp: boolean;
  operstate: (typeof OPERSTATES)[number];
  /** IFLA_INFO_KIND: "veth", "dummy", ...; undefined for physical and lo. */
  kind?: string;
  /** IFLA_LINK: for a veth, the peer's ifindex (in the peer's namespace). */
  peerIndex?: number;
  /** IFLA_LINK_NETNSID: the peer's namespace, as an nsid of this namespace. */
  linkNetnsId?: number;
  master?: number;
}

const IFINFOMSG_LEN = 16;

export interface IfInfoMsg {
  family?: number;
  index?: number;
  flags?: number;
  change?: number;
}

export function encodeIfInfoMsg(m: IfInfoMsg = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b[0] = m.family ?? AF_UNSPEC;
  writeI32(b, 4, m.index ?? 0);
  writeU32(b, 8, m.flags ?? 0);
  writeU32(b, 12, m.change ?? 0);
  return b;
}

/** Parses the payload of an RTM_NEWLINK message (from a reply, a dump or an event). */
export function parseLink(payload: Buffer): Link {
  const flags = readU32(payload, 8);
  const a = Attrs.parse(payload, IFINFOMSG_LEN);
  const mac = a.raw(IFLA.ADDRESS);
  const info = a.nested(IFLA.LINKINFO);
  const link: Link = {
    index: readI32(payload, 4),
    name: a.str(IFLA.IFNAME) ?? "",
    mtu: a.u32(IFLA.MTU) ?? 0,
    flags,
    up: (flags & IFF.UP) !== 0,
    lowerUp: (flags & IFF.LOWER_UP) !== 0,
    operstate: OPERSTATES[a.u8(IFLA.OPERSTATE) ?? 0] ?? "unknown",
  };
  if (mac && mac.length === 6) link.mac = formatMac(mac);
  const kind = info?.str(IFLA_INFO.KIND);
  if (kind) link.kind = kind;
  // The peer may have the same ifindex as this end when it lives in another namespace.
  const peer = a.u32(IFLA.LINK);
  if (peer) link.peerIndex = peer;
  const nsid = a.i32(IFLA.LINK_NETNSID);
  if (nsid !== undefined) link.linkNetnsId = nsid;
  const master = a.u32(IFLA.MASTER);
  if (master) link.master = master;
  return link;
}

/** The ifinfomsg header and IFLA_IFNAME attribute that name `ref` to the kernel. */
function refHeader(ref: LinkRef, m: IfInfoMsg = {}): { header: Buffer; attrs: Attr[] } {
  if (typeof ref === "number") return { header: encodeIfInfoMsg({ ...m, index: ref }), attrs: [] };
  checkName(ref);
  return { header: encodeIfInfoMsg(m), attrs: [attrStr(IFLA.IFNAME, ref)] };
}

export function checkName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > 15 || /[/\s:]/.test(name)) {
    throw netError(
      NetErrorCode.INVALID,
      `invalid interface name "${name}" (1-15 chars, no "/", ":" or space)`,
      {
        details: { link: name },
      },
    );
  }
}

const linkLabel = (ref: LinkRef): string =>
  typeof ref === "number" ? `ifindex ${ref}` : `"${ref}"`;

/** ifindex of a link; a number is returned as is. Throws E_LINK_NOT_FOUND. */
export function linkIndex(ref: LinkRef, opts: NetOptions = {}): number {
  if (typeof ref === "number") return ref;
  checkName(ref);
  let index: number;
  try {
    index = loadNative().ifNameToIndex(ref, opts.netns);
  } catch (err) {
    throw translateError(err, { what: `resolve link "${ref}"`, netns: opts.netns });
  }
  if (index === 0) {
    throw netError(
      NetErrorCode.LINK_NOT_FOUND,
      `link "${ref}" not found in ${nsLabel(opts.netns)}`,
      {
        details: { link: ref, netns: opts.netns ?? "" },
      },
    );
  }
  return index;
}

const extMask = attrU32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS);

export async function listLinks(opts: NetOptions = {}): Promise<Link[]> {
  const msg = encodeMessage({
    type: RTM.GETLINK,
    flags: NLM_F.REQUEST | NLM_F.DUMP,
    header: encodeIfInfoMsg(),
    attrs: [extMask],
  });
  const replies = await rtnlDump(opts.netns, msg, { what: "list links", netns: opts.netns });
  return replies.map((r) => parseLink(messagePayload(r)));
}

/** The link, or undefined when there is none by that name/index. */
export async function findLink(ref: LinkRef, opts: NetOptions = {}): Promise<Link | undefined> {
  try {
    return await getLink(ref, opts);
  } catch (err) {
    if ((err as { code?: string }).code === NetErrorCode.LINK_NOT_FOUND) return undefined;
    throw err;
  }
}

/** The link; throws E_LINK_NOT_FOUND naming it. */
export async function getLink(ref: LinkRef, opts: NetOptions = {}): Promise<Link> {
  const { header, attrs } = refHeader(ref);
  const msg = encodeMessage({
    type: RTM.GETLINK,
    flags: NLM_F.REQUEST,
    header,
    attrs: [...attrs, extMask],
  });
  const [reply] = await rtnlRequest(opts.netns, msg, {
    what: `get link ${linkLabel(ref)}`,
    netns: opts.netns,
    codes: { ENODEV: NetErrorCode.LINK_NOT_FOUND },
    reasons: { ENODEV: "no such link" },
    details: { link: ref },
  });
  if (!reply)
    throw netError(NetErrorCode.NETLINK, `no reply for link ${linkLabel(ref)}`, { kind: "bug" });
  return parseLink(messagePayload(reply));
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  mac?: string;
  /** New name (needs the ifindex: a name ref is resolved first). */
  name?: string;
  /** Move the link into this namespace path (combined with `name`, renamed there). */
  toNetns?: string;
}

/** Applies several changes in one RTM_SETLINK. */
export async function setLink(
  ref: LinkRef,
  change: LinkChange,
  opts: NetOptions = {},
): Promise<void> {
  const flagsMsg = change.up === undefined ? {} : { flags: change.up ? IFF.UP : 0, change: IFF.UP };
  const byIndex = change.name !== undefined ? linkIndex(ref, opts) : ref;
  const { header, attrs } = refHeader(byIndex, flagsMsg);
  if (change.name !== undefined) {
    checkName(change.name);
    attrs.push(attrStr(IFLA.IFNAME, change.name));
  }
  if (change.mtu !== undefined) attrs.push(attrU32(IFLA.MTU, change.mtu));
  if (change.mac !== undefined) attrs.push(attrBytes(IFLA.ADDRESS, parseMac(change.mac)));
  const ctx = {
    what: `change link ${linkLabel(ref)} (${describeChange(change)})`,
    netns: opts.netns,
    codes: { ENODEV: NetErrorCode.LINK_NOT_FOUND, EEXIST: NetErrorCode.LINK_EXISTS },
    reasons: { ENODEV: "no such link", EEXIST: "the name is taken" },
    details: { link: ref },
  };
  const nsFd = change.toNetns === undefined ? -1 : openNetns(change.toNetns, ctx.what);
  try {
    if (nsFd >= 0) attrs.push(attrU32(IFLA.NET_NS_FD, nsFd));
    const msg = encodeMessage({
      type: RTM.SETLINK,
      flags: NLM_F.REQUEST | NLM_F.ACK,
      header,
      attrs,
    });
    await rtnlRequest(opts.netns, msg, ctx);
  } finally {
    if (nsFd >= 0) closeSync(nsFd);
  }
}

function describeChange(c: LinkChange): string {
  const parts: string[] = [];
  if (c.up !== undefined) parts.push(c.up ? "up" : "down");
  if (c.mtu !== undefined) parts.push(`mtu ${c.mtu}`);
  if (c.mac !== undefined) parts.push(`address ${c.mac}`);
  if (c.name !== undefined) parts.push(`name ${c.name}`);
  if (c.toNetns !== undefined) parts.push(`netns ${c.toNetns}`);
  return parts.join(", ");
}

/** Opens a namespace path for IFLA_NET_NS_FD; the caller closes the fd. */
export function openNetns(path: string, what: string): number {
  try {
    return loadNative().netnsOpen(path);
  } catch (err) {
    throw translateError(err, { what, netns: path });
  }
}

export const setLinkUp = (ref: LinkRef, opts?: NetOptions) => setLink(ref, { up: true }, opts);
export const setLinkDown = (ref: LinkRef, opts?: NetOptions) => setLink(ref, { up: false }, opts);
export const setLinkMtu = (ref: LinkRef, mtu: number, opts?: NetOptions) =>
  setLink(ref, { mtu }, opts);
export const setLinkMac = (ref: LinkRef, mac: string, opts?: NetOptions) =>
  setLink(ref, { mac }, opts);
export const renameLink = (ref: LinkRef, name: string, opts?: NetOptions) =>
  setLink(ref, { name }, opts);
/** Moves a link into another namespace, optionally renaming it there in the same request. */
export const moveLinkToNetns = (
  ref: LinkRef,
  toNetns: string,
  newName?: string,
  opts?: NetOptions,
) => setLink(ref, newName === undefined ? { toNetns } : { toNetns, name: newName }, opts);

/** Deletes a link (for a veth, both ends). Throws E_LINK_NOT_FOUND naming it. */
export async function deleteLink(ref: LinkRef, opts: NetOptions = {}): Promise<void> {
  const { header, attrs } = refHeader(ref);
  const msg = encodeMessage({ type: RTM.DELLINK, flags: NLM_F.REQUEST | NLM_F.ACK, header, attrs });
  await rtnlRequest(opts.netns, msg, {
    what: `delete link ${linkLabel(ref)}`,
    netns: opts.netns,
    codes: { ENODEV: NetErrorCode.LINK_NOT_FOUND },
    reasons: { ENODEV: "no such link" },
    details: { link: ref },
  });
}

/** Deletes a link if it is there; true when it was. */
export async function deleteLinkIfExists(ref: LinkRef, opts: NetOptions = {}): Promise<boolean> {
  try {
    await deleteLink(ref, opts);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === NetErrorCode.LINK_NOT_FOUND) return false;
    throw err;
  }
}
