// The service load balancer's kernel side: the pinned LB maps, the socket LB
// attachment, and the load settings the objects sharing the maps agree on.

/** Addresses as the LB maps hold them (union ip_addr: 16 bytes, IPv4 first). */
export { mapAddr, mapAddrText } from "../net/index.ts";
export type * from "./maps.ts";
export {
  LB_MAP_NAMES,
  LbAction,
  LbBackendFlags,
  LbFamily,
  LbKind,
  LbMaps,
  LbServiceFlags,
} from "./maps.ts";
export { LB_DEFAULT_MAGLEV_SIZE, type LbLoadSettings, lbLoadOptions } from "./objects.ts";
export {
  attachSockLb,
  detachSockLb,
  resolveCgroup2,
  SOCK_LB_HOOKS,
  type SockLbOptions,
  sockLbAttached,
} from "./sock.ts";
