// Kernel UAPI constants used by the rtnetlink codecs, written from
// /usr/include/linux/{netlink,rtnetlink,if_link,if_addr,neighbour,veth}.h.
// test/unit/netlink-codec.test.ts compares them with the headers when a C
// compiler is present. Only what Fairway uses is here; add more from the headers.

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const NETLINK_ROUTE = 0;

/** nlmsghdr sizes and alignment (netlink.h). */
export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;
export const NLA_HDRLEN = 4;

/** Control message types (netlink.h). */
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

/** nlmsg_flags (netlink.h). NEW requests and GET requests give 0x100..0x800 different meanings. */
export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10,
  // GET
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  // NEW
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
} as const;

/** nla_type flag bits (netlink.h). */
export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** rtnetlink message types (rtnetlink.h). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
} as const;

/** Link attributes (if_link.h). */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_PID: 19,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  LINK_NETNSID: 37,
} as const;

/** Nested in IFLA_LINKINFO (if_link.h). */
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4 } as const;

/** Nested in IFLA_INFO_DATA of a veth (veth.h): an ifinfomsg followed by IFLA_* attributes. */
export const VETH_INFO_PEER = 1;

/** IFLA_EXT_MASK bits (rtnetlink.h). */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

/** net_device flags (if.h). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
} as const;

/** IFLA_OPERSTATE values (if.h, RFC 2863), indexed by value. */
export const OPERSTATES = [
  "unknown",
  "notpresent",
  "down",
  "lowerlayerdown",
  "testing",
  "dormant",
  "up",
] as const;

/** Address attributes and flags (if_addr.h). */
export const IFA = {
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  CACHEINFO: 6,
  FLAGS: 8,
} as const;
export const IFA_F = {
  SECONDARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  NOPREFIXROUTE: 0x200,
} as const;

/** Route attributes, types, protocols, scopes, tables, next-hop flags (rtnetlink.h). */
export const RTA = {
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  TABLE: 15,
} as const;
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
} as const;
export const RTPROT = { UNSPEC: 0, REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4 } as const;
export const RT_SCOPE = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 } as const;
export const RT_TABLE = { UNSPEC: 0, DEFAULT: 253, MAIN: 254, LOCAL: 255 } as const;
export const RTNH_F_ONLINK = 4;
export const RTM_F_CLONED = 0x200;

/** Neighbour attributes, states and flags (neighbour.h). */
export const NDA = { DST: 1, LLADDR: 2, PROBES: 4, IFINDEX: 8 } as const;
export const NUD = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;
export const NTF = { PROXY: 0x08, ROUTER: 0x80 } as const;

/** A scope by name (iproute2's words) or number. */
export type Scope = "global" | "site" | "link" | "host" | "nowhere" | number;

const SCOPES: Record<string, number> = {
  global: RT_SCOPE.UNIVERSE,
  site: RT_SCOPE.SITE,
  link: RT_SCOPE.LINK,
  host: RT_SCOPE.HOST,
  nowhere: RT_SCOPE.NOWHERE,
};

export function scopeValue(scope: Scope): number {
  return typeof scope === "number" ? scope : (SCOPES[scope] ?? RT_SCOPE.UNIVERSE);
}

export function scopeName(value: number): Scope {
  return (Object.keys(SCOPES).find((k) => SCOPES[k] === value) as Scope | undefined) ?? value;
}
