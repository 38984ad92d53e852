// Public face of datapath/net: network namespaces and rtnetlink (links,
// addresses, routes, neighbours) and net.* sysctls, without forking `ip`.
// Import from here only; see README.md for the map of files.

export {
  type Address,
  type AddressFilter,
  type AddressSpec,
  addAddress,
  deleteAddress,
  listAddresses,
  replaceAddress,
} from "./addr.ts";
export { NetErrorCode } from "./errors.ts";
export {
  type Family,
  formatIp,
  formatMac,
  mapAddr,
  mapAddrText,
  parseIp,
  parseMac,
  parsePrefix,
} from "./ip.ts";
export {
  deleteLink,
  deleteLinkIfExists,
  findLink,
  getLink,
  type Link,
  type LinkChange,
  type LinkRef,
  linkIndex,
  listLinks,
  moveLinkToNetns,
  type NetOptions,
  renameLink,
  setLink,
  setLinkDown,
  setLinkMac,
  setLinkMtu,
  setLinkUp,
} from "./link.ts";
export {
  addNeighbour,
  deleteNeighbour,
  listNeighbours,
  type Neighbour,
  type NeighbourFilter,
  type NeighbourSpec,
  type NeighState,
  replaceNeighbour,
} from "./neigh.ts";
export {
  createNetns,
  deleteNetns,
  listNetns,
  NETNS_RUN_DIR,
  netnsExists,
  netnsPath,
  pidNetnsPath,
} from "./netns.ts";
export {
  addRoute,
  deleteRoute,
  listRoutes,
  type Route,
  type RouteFilter,
  type RouteSpec,
  type RouteType,
  replaceRoute,
} from "./route.ts";
export { closeNetlinkSocket, closeNetlinkSockets, openNetlinkSockets } from "./socket.ts";
export { readSysctl, sysctlKeyPath, writeSysctl } from "./sysctl.ts";
export type { Scope } from "./uapi.ts";
export { createVeth, type VethSpec } from "./veth.ts";
