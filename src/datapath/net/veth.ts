// veth pairs: both ends created by one RTM_NEWLINK, the peer directly inside
// its namespace with its final name (no create-move-rename round trips).

import { closeSync } from "node:fs";
import { loadNative } from "../native/binding.ts";
import { NetErrorCode, netError, nsLabel } from "./errors.ts";
import { parseMac } from "./ip.ts";
import {
  checkName,
  deleteLinkIfExists,
  encodeIfInfoMsg,
  type IfInfoMsg,
  type NetOptions,
  openNetns,
  setLink,
} from "./link.ts";
import {
  type Attr,
  attrBytes,
  attrNest,
  attrStr,
  attrU32,
  encodeAttrs,
  encodeMessage,
} from "./netlink.ts";
import { rtnlRequest } from "./socket.ts";
import { IFF, IFLA, IFLA_INFO, NLM_F, RTM, VETH_INFO_PEER } from "./uapi.ts";

export interface VethSpec {
  name: string;
  peerName: string;
  /** Namespace path for the peer end; it is created there directly, with its final name. */
  peerNetns?: string;
  /** MTU of both ends. */
  mtu?: number;
  mac?: string;
  peerMac?: string;
  /** Bring the end up as part of the creation (default false, like `ip link add`). */
  up?: boolean;
  /**
   * Bring the peer up too. Takes a second request (RTM_SETLINK in the peer's
   * namespace): veth refuses to open a peer before both ends are paired (ENOTCONN).
   */
  peerUp?: boolean;
}

const upFlags = (up: boolean | undefined): IfInfoMsg =>
  up ? { flags: IFF.UP, change: IFF.UP } : {};

/**
 * Creates a veth pair in one RTM_NEWLINK: `name` in opts.netns, `peerName` in
 * spec.peerNetns (via IFLA_NET_NS_FD inside VETH_INFO_PEER). A name already taken
 * on either side throws E_LINK_EXISTS naming that side.
 */
export async function createVeth(spec: VethSpec, opts: NetOptions = {}): Promise<void> {
  checkName(spec.name);
  checkName(spec.peerName);
  const where = spec.peerNetns ? ` in netns ${spec.peerNetns}` : "";
  const what = `create veth "${spec.name}" (peer "${spec.peerName}"${where})`;
  const nsFd = spec.peerNetns ? openNetns(spec.peerNetns, what) : -1;
  try {
    const peer: Attr[] = [attrStr(IFLA.IFNAME, spec.peerName)];
    if (spec.mtu) peer.push(attrU32(IFLA.MTU, spec.mtu));
    if (spec.peerMac) peer.push(attrBytes(IFLA.ADDRESS, parseMac(spec.peerMac)));
    if (nsFd >= 0) peer.push(attrU32(IFLA.NET_NS_FD, nsFd));
    // VETH_INFO_PEER is not a plain nest: an ifinfomsg comes before the attributes.
    const peerInfo = Buffer.concat([encodeIfInfoMsg(), encodeAttrs(peer)]);
    const attrs: Attr[] = [attrStr(IFLA.IFNAME, spec.name)];
    if (spec.mtu) attrs.push(attrU32(IFLA.MTU, spec.mtu));
    if (spec.mac) attrs.push(attrBytes(IFLA.ADDRESS, parseMac(spec.mac)));
    attrs.push(
      attrNest(IFLA.LINKINFO, [
        attrStr(IFLA_INFO.KIND, "veth"),
        attrNest(IFLA_INFO.DATA, [attrBytes(VETH_INFO_PEER, peerInfo)]),
      ]),
    );
    const msg = encodeMessage({
      type: RTM.NEWLINK,
      flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
      header: encodeIfInfoMsg(upFlags(spec.up)),
      attrs,
    });
    await rtnlRequest(opts.netns, msg, { what, netns: opts.netns, details: { link: spec.name } });
    if (spec.peerUp) await peerUp(spec, opts);
  } catch (err) {
    if ((err as { details?: { errno?: string } }).details?.errno === "EEXIST") {
      throw vethExists(spec, opts, (err as Error).cause ?? err);
    }
    throw err;
  } finally {
    if (nsFd >= 0) closeSync(nsFd);
  }
}

/** Brings the peer up; on failure removes the pair it just made (release what we created). */
async function peerUp(spec: VethSpec, opts: NetOptions): Promise<void> {
  try {
    await setLink(spec.peerName, { up: true }, { netns: spec.peerNetns ?? opts.netns });
  } catch (err) {
    await deleteLinkIfExists(spec.name, opts).catch(() => undefined);
    throw err;
  }
}

/** EEXIST from a veth creation: find out which end's name is taken. */
function vethExists(spec: VethSpec, opts: NetOptions, cause: unknown) {
  let hostTaken = true;
  try {
    hostTaken = loadNative().ifNameToIndex(spec.name, opts.netns) !== 0;
  } catch {
    // keep the host side as the suspect
  }
  const [name, netns] = hostTaken
    ? [spec.name, opts.netns]
    : [spec.peerName, spec.peerNetns ?? opts.netns];
  return netError(
    NetErrorCode.LINK_EXISTS,
    `cannot create veth "${spec.name}": link "${name}" already exists in ${nsLabel(netns)}`,
    {
      cause,
      details: { link: name, netns: netns ?? "" },
    },
  );
}
