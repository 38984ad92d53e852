// The endpoint module's view of the kernel: one seam over the veth datapath
// (the program set, its endpoint map, tc filters) and rtnetlink (per-pod
// plumbing, link and namespace lookups), all relative to the node's network
// namespace. The service and its steps talk to this interface only, so they
// can be driven without root by a fake.

import * as net from "../datapath/net/index.ts";
import {
  type EndpointRecord as DatapathEntry,
  type EndpointCounters,
  type EndpointSpec,
  type PlumbedPod,
  type PlumbSpec,
  plumbPod,
  unplumbPod,
  VethDatapath,
  type VethMode,
} from "../datapath/veth/index.ts";

export type { DatapathEntry, EndpointCounters, EndpointSpec, PlumbedPod, PlumbSpec };

/** What CHECK reads back for one endpoint. */
export interface ObservedEndpoint {
  hostLink?: net.Link;
  podLink?: net.Link;
  /** "ip/prefix" on the pod's interface */
  podAddresses: string[];
  /** the pod's routes through its interface (main table) */
  podRoutes: net.Route[];
  /** datapath map entries of this endpoint id */
  entries: DatapathEntry[];
  /** tc program attached at Fairway's priority on the host veth */
  filterAttached: boolean;
}

export interface EndpointKernel {
  readonly mode: VethMode;
  readonly pinRoot: string;
  /** ifindex of a link in the node's namespace; 0 when absent */
  hostLinkIndex(name: string): number;
  /** ifindex of a link inside a pod namespace; 0 when absent */
  podLinkIndex(netns: string, ifname: string): number;
  netnsExists(path: string): boolean;
  plumb(spec: PlumbSpec): Promise<PlumbedPod>;
  /** Deletes the host veth (its peer, routes and neighbours go with it); false when absent. */
  unplumb(hostIfname: string, podNetns?: string): Promise<boolean>;
  attach(spec: EndpointSpec): void;
  /** false when the id had no map entry */
  /** `known`: the row's addresses and host ifindex, so no map walk is needed */
  detach(endpointId: number, known?: { hostIfindex: number | null; podIps: string[] }): boolean;
  filterAttached(hostIfindex: number): boolean;
  /** every entry of the pinned endpoint map (a full map walk: not for ADD) */
  entries(): DatapathEntry[];
  counters(endpointId: number): EndpointCounters | undefined;
  /** links of the node's namespace (a dump: start-up and GC only) */
  hostLinks(): Promise<net.Link[]>;
  /** the MTU of a link in the node's namespace */
  linkMtu(name: string): Promise<number>;
  attachUplink(name: string): number;
  observe(args: {
    endpointId: number;
    hostIfindex: number;
    netns: string;
    ifname: string;
  }): Promise<ObservedEndpoint>;
  /** Releases fds; pins, filters and links stay. */
  close(): void;
}

export interface VethKernelOptions {
  mode: VethMode;
  pinRoot: string;
  /** the node's namespace; default the agent's own */
  netns?: string;
  ipv6?: boolean;
  /** directory of lxc.o/host.o; default the datapath's search path */
  objectDir?: string;
  /** service LB load settings (shared with sock.o) */
  lb?: { tcLb: boolean; maglevTableSize: number };
}

/** The production kernel: VethDatapath + rtnetlink. */
export class VethKernel implements EndpointKernel {
  private constructor(
    private readonly dp: VethDatapath,
    private readonly netns: string | undefined,
  ) {}

  /** Loads (or reuses) the pinned program set. */
  static load(options: VethKernelOptions): VethKernel {
    const dp = VethDatapath.load({
      mode: options.mode,
      pinRoot: options.pinRoot,
      ...(options.netns === undefined ? {} : { netns: options.netns }),
      ...(options.ipv6 ? { ipv6: true } : {}),
      ...(options.objectDir === undefined ? {} : { objectDir: options.objectDir }),
      ...(options.lb === undefined ? {} : { lb: options.lb }),
    });
    return new VethKernel(dp, options.netns);
  }

  get mode(): VethMode {
    return this.dp.mode;
  }

  get pinRoot(): string {
    return this.dp.pinRoot;
  }

  private get node(): net.NetOptions {
    return this.netns === undefined ? {} : { netns: this.netns };
  }

  hostLinkIndex(name: string): number {
    return indexOrZero(() => net.linkIndex(name, this.node));
  }

  podLinkIndex(netns: string, ifname: string): number {
    return indexOrZero(() => net.linkIndex(ifname, { netns }));
  }

  netnsExists(path: string): boolean {
    return net.netnsExists(path);
  }

  plumb(spec: PlumbSpec): Promise<PlumbedPod> {
    return plumbPod(spec, this.node);
  }

  unplumb(hostIfname: string, podNetns?: string): Promise<boolean> {
    return unplumbPod(
      podNetns === undefined ? { hostIfname } : { hostIfname, netnsPath: podNetns },
      this.node,
    );
  }

  attach(spec: EndpointSpec): void {
    this.dp.attachEndpoint(spec);
  }

  detach(endpointId: number, known?: { hostIfindex: number | null; podIps: string[] }): boolean {
    return this.dp.detachEndpoint(endpointId, known);
  }

  filterAttached(hostIfindex: number): boolean {
    try {
      return this.dp.attachedProgramId(hostIfindex) !== null;
    } catch {
      return false; // the link is gone
    }
  }

  entries(): DatapathEntry[] {
    return this.dp.endpoints();
  }

  counters(endpointId: number): EndpointCounters | undefined {
    return this.dp.endpointStats(endpointId);
  }

  hostLinks(): Promise<net.Link[]> {
    return net.listLinks(this.node);
  }

  async linkMtu(name: string): Promise<number> {
    return (await net.getLink(name, this.node)).mtu;
  }

  attachUplink(name: string): number {
    return this.dp.attachUplink(name);
  }

  async observe(args: {
    endpointId: number;
    hostIfindex: number;
    netns: string;
    ifname: string;
  }): Promise<ObservedEndpoint> {
    const out: ObservedEndpoint = {
      podAddresses: [],
      podRoutes: [],
      entries: this.dp.endpoints().filter((e) => e.endpointId === args.endpointId),
      filterAttached: this.filterAttached(args.hostIfindex),
    };
    const hostLink = await net.findLink(args.hostIfindex, this.node);
    if (hostLink) out.hostLink = hostLink;
    if (!net.netnsExists(args.netns)) return out;
    const pod = { netns: args.netns };
    try {
      const podLink = await net.findLink(args.ifname, pod);
      if (!podLink) return out;
      out.podLink = podLink;
      const addrs = await net.listAddresses({ link: podLink.index }, pod);
      out.podAddresses = addrs.filter((a) => a.scope === "global").map((a) => a.cidr);
      const routes = await Promise.all([
        net.listRoutes({ family: 4, dev: podLink.index }, pod),
        net.listRoutes({ family: 6, dev: podLink.index }, pod),
      ]);
      out.podRoutes = routes.flat();
    } finally {
      // A cached socket would keep the pod's namespace alive after the runtime deletes it.
      net.closeNetlinkSocket(args.netns);
    }
    return out;
  }

  close(): void {
    this.dp.close();
  }
}

function indexOrZero(fn: () => number): number {
  try {
    return fn();
  } catch (err) {
    if ((err as { code?: string }).code === net.NetErrorCode.LINK_NOT_FOUND) return 0;
    throw err;
  }
}
