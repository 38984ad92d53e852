// Per-pod plumbing of the veth datapath (both modes), with rtnetlink only:
//
//   pod netns                                 node netns
//   eth0  <podIp>/32 (and <podIp6>/128)       <hostIfname>  (no address)
//     default via 169.254.1.1 onlink            <podIp>/32 dev <hostIfname>
//     neigh 169.254.1.1 -> <hostMac> PERM       neigh <podIp> -> <podMac> PERM
//     (IPv6: default via fe80::1,               sysctls: forwarding=1,
//      neigh fe80::1 -> <hostMac> PERM)         rp_filter=0, proxy_arp=0
//
// The pod's gateway is a link-local address nobody owns; the static neighbour
// makes its frames go to the host veth's MAC without ARP, so no bridge and no
// proxy ARP are needed. The host's /32 route is what veth-legacy forwards by
// and what the node's own traffic to the pod uses; the static neighbour on the
// host side saves the ARP round trip for it. The veth pair is created with
// the peer directly inside the pod netns, under its final name.

import * as net from "../net/index.ts";
import { VethErrorCode, vethError } from "./errors.ts";
import { bareIp, familyOf, randomMac } from "./keys.ts";

/** The pod's IPv4 gateway: link-local, owned by nobody, resolved by a static neighbour. */
export const POD_GATEWAY_V4 = "169.254.1.1";
/** The pod's IPv6 gateway, likewise. */
export const POD_GATEWAY_V6 = "fe80::1";

export interface PlumbSpec {
  /** The pod's network namespace (/run/netns/x, /proc/<pid>/ns/net). */
  netnsPath: string;
  /** Interface name inside the pod. Default "eth0". */
  ifname?: string;
  /** Host-side veth name, in the node's namespace (at most 15 characters). */
  hostIfname: string;
  /** The pod's addresses: "10.0.1.5" or "10.0.1.5/32", "fd00::5" or "fd00::5/128"; at most one per family. */
  podIps: readonly string[];
  /** MTU of both ends. Default: the kernel's (1500). */
  mtu?: number;
  /** MACs; random locally administered ones by default. */
  podMac?: string;
  hostMac?: string;
}

export interface PlumbOptions {
  /** The node's namespace (where the host veth lives); default the current one. */
  netns?: string;
}

export interface PlumbedPod {
  netnsPath: string;
  ifname: string;
  hostIfname: string;
  hostIfindex: number;
  hostMac: string;
  podMac: string;
  /** Bare addresses, in the order given. */
  podIps: string[];
}

function validate(spec: PlumbSpec): { ips: string[]; ifname: string } {
  const ifname = spec.ifname ?? "eth0";
  if (spec.podIps.length === 0) {
    throw vethError(VethErrorCode.INVALID, `plumbPod ${spec.hostIfname}: no pod IP given`);
  }
  const ips = spec.podIps.map(bareIp);
  const families = ips.map(familyOf);
  if (new Set(families).size !== families.length) {
    throw vethError(
      VethErrorCode.INVALID,
      `plumbPod ${spec.hostIfname}: at most one address per family, got ${spec.podIps.join(", ")}`,
    );
  }
  return { ips, ifname };
}

/** Creates the veth pair, addresses, routes, neighbours and sysctls of one pod. On failure nothing stays. */
export async function plumbPod(spec: PlumbSpec, opts: PlumbOptions = {}): Promise<PlumbedPod> {
  const { ips, ifname } = validate(spec);
  const hostMac = spec.hostMac ?? randomMac();
  const podMac = spec.podMac ?? randomMac();
  const node = { netns: opts.netns };
  const pod = { netns: spec.netnsPath };
  await net.createVeth(
    {
      name: spec.hostIfname,
      peerName: ifname,
      peerNetns: spec.netnsPath,
      mac: hostMac,
      peerMac: podMac,
      ...(spec.mtu ? { mtu: spec.mtu } : {}),
      up: true,
      peerUp: true,
    },
    node,
  );
  try {
    hostSysctls(spec.hostIfname, ips, opts);
    // The pod's side and the node's side do not depend on each other: both
    // namespaces are set up at once.
    await Promise.all([
      ...ips.map((ip) => podSide(ifname, ip, hostMac, pod)),
      ...ips.map((ip) => hostSide(spec.hostIfname, ip, podMac, node)),
    ]);
    const hostIfindex = net.linkIndex(spec.hostIfname, node);
    return {
      netnsPath: spec.netnsPath,
      ifname,
      hostIfname: spec.hostIfname,
      hostIfindex,
      hostMac,
      podMac,
      podIps: ips,
    };
  } catch (err) {
    // Release what we created: the host veth takes the pod's end with it.
    await net.deleteLinkIfExists(spec.hostIfname, node).catch(() => undefined);
    throw err;
  } finally {
    // A cached socket inside the pod's namespace would keep it alive after the
    // runtime deletes it.
    net.closeNetlinkSocket(spec.netnsPath);
  }
}

function hostSysctls(hostIfname: string, ips: string[], opts: PlumbOptions): void {
  const conf = (family: "ipv4" | "ipv6", key: string) => `net/${family}/conf/${hostIfname}/${key}`;
  // Forwarding on the host veth: the FIB helper refuses to route packets that
  // arrive on an interface without it (BPF_FIB_LKUP_RET_FWD_DISABLED), and the
  // stack does too, in veth-legacy mode.
  net.writeSysctl(conf("ipv4", "forwarding"), 1, opts);
  // Packets the programs rewrite and redirect would fail a strict reverse-path
  // check of the stack's view; the kernel takes max(all, dev), see README.
  net.writeSysctl(conf("ipv4", "rp_filter"), 0, opts);
  // The pod's gateway is a static neighbour: the host must not answer ARP for it.
  net.writeSysctl(conf("ipv4", "proxy_arp"), 0, opts);
  if (ips.some((ip) => familyOf(ip) === 6)) {
    net.writeSysctl(conf("ipv6", "forwarding"), 1, opts);
    net.writeSysctl(conf("ipv6", "accept_ra"), 0, opts);
  }
}

async function podSide(
  ifname: string,
  ip: string,
  hostMac: string,
  pod: net.NetOptions,
): Promise<void> {
  // In order: the kernel may refuse the gateway route ("Nexthop has invalid
  // gateway") when it is sent together with the address it follows.
  if (familyOf(ip) === 4) {
    await net.replaceAddress(ifname, { address: `${ip}/32` }, pod);
    await net.replaceNeighbour({ address: POD_GATEWAY_V4, lladdr: hostMac, dev: ifname }, pod);
    await net.replaceRoute(
      { dst: "default", gateway: POD_GATEWAY_V4, dev: ifname, onlink: true },
      pod,
    );
    return;
  }
  await net.replaceAddress(ifname, { address: `${ip}/128`, noDad: true }, pod);
  await net.replaceNeighbour(
    { address: POD_GATEWAY_V6, lladdr: hostMac, dev: ifname, router: true },
    pod,
  );
  await net.replaceRoute({ dst: "default6", gateway: POD_GATEWAY_V6, dev: ifname }, pod);
}

async function hostSide(
  hostIfname: string,
  ip: string,
  podMac: string,
  node: net.NetOptions,
): Promise<void> {
  const host = familyOf(ip) === 4 ? `${ip}/32` : `${ip}/128`;
  await Promise.all([
    net.replaceRoute({ dst: host, dev: hostIfname }, node),
    net.replaceNeighbour({ address: ip, lladdr: podMac, dev: hostIfname }, node),
  ]);
}

/**
 * Deletes the host veth, which takes the pod's end, the host routes and the
 * neighbours with it. Idempotent: false when it was already gone.
 */
export async function unplumbPod(
  spec: { hostIfname: string; netnsPath?: string },
  opts: PlumbOptions = {},
): Promise<boolean> {
  try {
    return await net.deleteLinkIfExists(spec.hostIfname, { netns: opts.netns });
  } finally {
    if (spec.netnsPath) net.closeNetlinkSocket(spec.netnsPath);
  }
}
