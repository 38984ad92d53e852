// Routes (RTM_*ROUTE): add/replace/delete/list, IPv4 and IPv6, with a gateway
// (optionally onlink), a device, a scope, a table, a protocol and a source.
// Defaults follow iproute2, so a route reads the same in `ip route` as in code.

import { NetErrorCode, netError } from "./errors.ts";
import { type Family, formatIp, type IpAddr, type Prefix, parseIp, parsePrefix } from "./ip.ts";
import { type LinkRef, linkIndex, type NetOptions } from "./link.ts";
import {
  type Attr,
  Attrs,
  attrBytes,
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
  NLM_F,
  RT_SCOPE,
  RT_TABLE,
  RTA,
  RTM,
  RTN,
  RTNH_F_ONLINK,
  RTPROT,
  type Scope,
  scopeName,
  scopeValue,
} from "./uapi.ts";

export type RouteType = "unicast" | "local" | "blackhole" | "unreachable" | "prohibit" | "throw";

export interface RouteSpec {
  /** "10.0.0.0/8", "10.1.2.3" (host route), "fd00::/64" or "default"/"default6". */
  dst: string;
  gateway?: string;
  dev?: LinkRef;
  /** Default: "link" without a gateway, "global" with one (as iproute2). */
  scope?: Scope;
  /** Use the gateway even if no route says it is on the link (RTNH_F_ONLINK). */
  onlink?: boolean;
  /** Default main (254). */
  table?: number;
  /** RTPROT_* value; default boot (3), as iproute2. Deletes match any protocol unless given. */
  protocol?: number;
  /** Preferred source address (RTA_PREFSRC). */
  src?: string;
  /** Priority / metric. */
  metric?: number;
  type?: RouteType;
}

export interface Route {
  family: Family;
  /** "default" or a prefix "10.0.0.0/8" */
  dst: string;
  gateway?: string;
  /** Output ifindex */
  dev?: number;
  scope: Scope;
  table: number;
  protocol: number;
  type: RouteType | number;
  onlink: boolean;
  src?: string;
  metric?: number;
}

const RTMSG_LEN = 12;
const TYPES: Record<RouteType, number> = {
  unicast: RTN.UNICAST,
  local: RTN.LOCAL,
  blackhole: RTN.BLACKHOLE,
  unreachable: RTN.UNREACHABLE,
  prohibit: RTN.PROHIBIT,
  throw: RTN.THROW,
};

interface RtMsg {
  family: number;
  dstLen?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}

function encodeRtMsg(m: RtMsg): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b[0] = m.family;
  b[1] = m.dstLen ?? 0;
  b[4] = (m.table ?? 0) < 256 ? (m.table ?? 0) : RT_TABLE.UNSPEC;
  b[5] = m.protocol ?? 0;
  b[6] = m.scope ?? 0;
  b[7] = m.type ?? 0;
  writeU32(b, 8, m.flags ?? 0);
  return b;
}

export function parseRoute(payload: Buffer): Route {
  const a = Attrs.parse(payload, RTMSG_LEN);
  const family: Family = payload[0] === AF_INET6 ? 6 : 4;
  const dstLen = payload[1]!;
  const dst = a.raw(RTA.DST);
  const typeNum = payload[7]!;
  const route: Route = {
    family,
    dst: dst && dstLen > 0 ? `${formatIp(dst)}/${dstLen}` : "default",
    scope: scopeName(payload[6]!),
    table: a.u32(RTA.TABLE) ?? payload[4]!,
    protocol: payload[5]!,
    type: (Object.keys(TYPES) as RouteType[]).find((k) => TYPES[k] === typeNum) ?? typeNum,
    onlink: (readU32(payload, 8) & RTNH_F_ONLINK) !== 0,
  };
  const gw = a.raw(RTA.GATEWAY);
  if (gw) route.gateway = formatIp(gw);
  const oif = a.u32(RTA.OIF);
  if (oif !== undefined) route.dev = oif;
  const src = a.raw(RTA.PREFSRC);
  if (src) route.src = formatIp(src);
  const metric = a.u32(RTA.PRIORITY);
  if (metric !== undefined) route.metric = metric;
  return route;
}

function parseDst(dst: string): Prefix {
  if (dst === "default") return { family: 4, bytes: Buffer.alloc(4), prefixLen: 0 };
  if (dst === "default6") return { family: 6, bytes: Buffer.alloc(16), prefixLen: 0 };
  return parsePrefix(dst);
}

function routeMessage(type: number, flags: number, spec: RouteSpec, opts: NetOptions): Buffer {
  const dst = parseDst(spec.dst);
  const gw: IpAddr | undefined = spec.gateway === undefined ? undefined : parseIp(spec.gateway);
  if (gw && gw.family !== dst.family) {
    throw netError(
      NetErrorCode.INVALID,
      `route ${spec.dst}: gateway ${spec.gateway} is of another family`,
    );
  }
  const del = type === RTM.DELROUTE;
  const table = spec.table ?? RT_TABLE.MAIN;
  const routeType = spec.type ? TYPES[spec.type] : del ? RTN.UNSPEC : RTN.UNICAST;
  const defaultScope = del
    ? RT_SCOPE.NOWHERE
    : gw || routeType !== RTN.UNICAST
      ? RT_SCOPE.UNIVERSE
      : RT_SCOPE.LINK;
  const attrs: Attr[] = [];
  if (dst.prefixLen > 0) attrs.push(attrBytes(RTA.DST, dst.bytes));
  if (gw) attrs.push(attrBytes(RTA.GATEWAY, gw.bytes));
  if (spec.dev !== undefined) attrs.push(attrU32(RTA.OIF, linkIndex(spec.dev, opts)));
  if (spec.src) attrs.push(attrBytes(RTA.PREFSRC, parseIp(spec.src).bytes));
  if (spec.metric !== undefined) attrs.push(attrU32(RTA.PRIORITY, spec.metric));
  if (table >= 256) attrs.push(attrU32(RTA.TABLE, table));
  const header = encodeRtMsg({
    family: dst.family === 4 ? AF_INET : AF_INET6,
    dstLen: dst.prefixLen,
    table,
    protocol: spec.protocol ?? (del ? RTPROT.UNSPEC : RTPROT.BOOT),
    scope: spec.scope === undefined ? defaultScope : scopeValue(spec.scope),
    type: routeType,
    flags: spec.onlink ? RTNH_F_ONLINK : 0,
  });
  return encodeMessage({ type, flags, header, attrs });
}

function describe(spec: RouteSpec): string {
  let s = spec.dst;
  if (spec.gateway) s += ` via ${spec.gateway}`;
  if (spec.dev !== undefined) s += ` dev ${spec.dev}`;
  if (spec.table !== undefined) s += ` table ${spec.table}`;
  return s;
}

async function send(
  op: string,
  type: number,
  flags: number,
  spec: RouteSpec,
  opts: NetOptions,
): Promise<void> {
  await rtnlRequest(opts.netns, routeMessage(type, flags, spec, opts), {
    what: `${op} route ${describe(spec)}`,
    netns: opts.netns,
    codes: {
      EEXIST: NetErrorCode.ROUTE_EXISTS,
      ESRCH: NetErrorCode.ROUTE_NOT_FOUND,
      ENODEV: NetErrorCode.LINK_NOT_FOUND,
    },
    details: { route: describe(spec) },
    reasons: { ESRCH: "no such route" },
  });
}

/** Adds a route; E_ROUTE_EXISTS when the same route is there. */
export function addRoute(spec: RouteSpec, opts: NetOptions = {}): Promise<void> {
  return send(
    "add",
    RTM.NEWROUTE,
    NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
    spec,
    opts,
  );
}

/** Adds the route or replaces the one with the same destination/table/metric. */
export function replaceRoute(spec: RouteSpec, opts: NetOptions = {}): Promise<void> {
  return send(
    "replace",
    RTM.NEWROUTE,
    NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE,
    spec,
    opts,
  );
}

/** Deletes the first route matching spec; E_ROUTE_NOT_FOUND when none does. */
export function deleteRoute(spec: RouteSpec, opts: NetOptions = {}): Promise<void> {
  return send("delete", RTM.DELROUTE, NLM_F.REQUEST | NLM_F.ACK, spec, opts);
}

export interface RouteFilter {
  family?: Family;
  /** Default main; "all" for every table (local, default, custom). */
  table?: number | "all";
  dev?: LinkRef;
}

/** Routes of the namespace; table and device are filtered by the kernel (strict dump). */
export async function listRoutes(
  filter: RouteFilter = {},
  opts: NetOptions = {},
): Promise<Route[]> {
  const table = filter.table === "all" ? RT_TABLE.UNSPEC : (filter.table ?? RT_TABLE.MAIN);
  const attrs: Attr[] = [];
  if (table >= 256) attrs.push(attrU32(RTA.TABLE, table));
  if (filter.dev !== undefined) attrs.push(attrU32(RTA.OIF, linkIndex(filter.dev, opts)));
  const family = filter.family === 4 ? AF_INET : filter.family === 6 ? AF_INET6 : AF_UNSPEC;
  const msg = encodeMessage({
    type: RTM.GETROUTE,
    flags: NLM_F.REQUEST | NLM_F.DUMP,
    header: encodeRtMsg({ family, table }),
    attrs,
  });
  const replies = await rtnlDump(opts.netns, msg, { what: "list routes", netns: opts.netns });
  const routes = replies.map((r) => parseRoute(messagePayload(r)));
  // The kernel filters by table only when asked for one; keep the answer exact.
  return table === RT_TABLE.UNSPEC ? routes : routes.filter((r) => r.table === table);
}
