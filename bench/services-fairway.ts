// Fairway's two service load balancers for bench/services.ts, behind its
// LbImpl interface (see there for the topology and the order of calls):
//
//   fairway-sock  the socket LB: connect4 & co. on the client's cgroup, the
//                 client's connect() goes straight to a backend; the tc LB is
//                 loaded as well, as on a real node (it sees backend addresses
//                 only, so it translates nothing).
//   fairway-tc    the tc LB alone (socket LB off): DNAT on the pods' host
//                 veths (from_container), CT, rev-NAT on the way back.
//
// Both go the agent's way: Service + EndpointSlice objects into a cluster
// store, the incremental ServiceModel (src/service/watch.ts) and the map
// reconciler (LbSync). program() times store -> table -> maps for all N
// services from scratch; change() times one EndpointSlice update -> the
// model's rebuild of that service -> its maps (the new set switched in with
// one update). Both resolve when the maps say so: the next connect() or
// packet uses them.

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ClusterStore, type EndpointSlice, type Service } from "../src/cluster/index.ts";
import { attachSockLb, detachSockLb, LbMaps } from "../src/datapath/lb/index.ts";
import { VethDatapath } from "../src/datapath/veth/index.ts";
import {
  LbSync,
  MemoryIdAllocator,
  parseServiceConfig,
  SERVICE_NAME_LABEL,
  ServiceModel,
} from "../src/service/index.ts";
import type { BenchService, LbImpl, Timing, Topology } from "./services.ts";

const NODE_NAME = "bench-node";

function toService(s: BenchService): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: s.name, namespace: s.namespace },
    spec: {
      type: "ClusterIP",
      selector: { app: s.name },
      clusterIP: s.clusterIP,
      clusterIPs: [s.clusterIP],
      ports: [
        {
          name: s.portName,
          port: s.port,
          targetPort: s.endpoints[0]?.port ?? s.port,
          protocol: s.protocol,
        },
      ],
    },
  } as Service;
}

function toSlice(s: BenchService): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${s.name}-x`,
      namespace: s.namespace,
      labels: { [SERVICE_NAME_LABEL]: s.name },
    },
    addressType: "IPv4",
    endpoints: s.endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: true },
      nodeName: NODE_NAME,
    })),
    ports: [{ name: s.portName, port: s.endpoints[0]?.port ?? s.port, protocol: s.protocol }],
  } as unknown as EndpointSlice;
}

/** One node's Fairway: datapath, maps, store, model, reconciler. */
class FairwayLb implements LbImpl {
  private dp: VethDatapath | undefined;
  private maps: LbMaps | undefined;
  private store = new ClusterStore();
  private model: ServiceModel | undefined;
  private sync: LbSync | undefined;
  private pinRoot = "";
  private pending: string[] = [];

  constructor(
    readonly name: string,
    private readonly socketLb: boolean,
  ) {}

  async setup(topo: Topology): Promise<void> {
    this.pinRoot = join("/sys/fs/bpf", topo.tag);
    mkdirSync(this.pinRoot, { recursive: true });
    this.dp = VethDatapath.load({
      mode: "veth",
      pinRoot: this.pinRoot,
      netns: topo.node.netnsPath,
      lb: { tcLb: true },
    });
    let id = 100;
    for (const pod of [topo.client, ...topo.backends]) {
      this.dp.attachEndpoint({
        endpointId: ++id,
        hostIfname: pod.hostIfname,
        podIps: [pod.ip],
        podMac: pod.podMac,
        hostMac: pod.hostMac,
      });
    }
    if (this.socketLb) attachSockLb({ pinRoot: this.pinRoot, cgroupPath: topo.clientCgroup });
    this.maps = LbMaps.open(this.pinRoot, 16381);
    this.fresh();
  }

  /** A new store, model and reconciler over the same maps (what an agent start does). */
  private fresh(): void {
    this.model?.stop();
    this.store = new ClusterStore({ kinds: ["Service", "EndpointSlice"] });
    this.store.markSynced("Service");
    this.store.markSynced("EndpointSlice");
    const ids = {
      frontends: new MemoryIdAllocator("frontend"),
      backends: new MemoryIdAllocator("backend", 1, 0xffffffff),
    };
    this.sync = new LbSync(this.maps!, ids);
    this.sync.adopt();
    this.model = new ServiceModel({
      store: this.store,
      config: parseServiceConfig({}),
      nodeName: NODE_NAME,
      nodeAddresses: [],
      ids,
    });
    this.model.onTableChange((keys) => this.pending.push(...keys));
    this.model.start();
  }

  async reset(): Promise<void> {
    this.fresh();
    // An empty table, fully synced: every frontend, set and backend leaves the maps.
    this.sync!.sync({ services: [], skipped: [] });
    this.pending = [];
  }

  async program(services: readonly BenchService[]): Promise<Timing> {
    const t0 = performance.now();
    for (const s of services) this.store.apply("EndpointSlice", toSlice(s));
    for (const s of services) this.store.apply("Service", toService(s));
    const modelMs = performance.now() - t0;
    const r = this.sync!.sync(this.model!.table());
    this.pending = [];
    return { detail: { modelMs: round(modelMs), mapsMs: round(r.ms), written: r.written } };
  }

  async change(service: BenchService): Promise<Timing> {
    this.pending = [];
    this.store.apply("EndpointSlice", toSlice(service));
    const keys = [...new Set(this.pending)];
    this.pending = [];
    const model = this.model!;
    const entries = keys.flatMap((k) => {
      const e = model.get(k);
      return e && !("reason" in e) ? [e] : [];
    });
    const r = this.sync!.sync({ services: entries, skipped: [] }, keys);
    return { detail: { mapsMs: round(r.ms), written: r.written } };
  }

  async describe(): Promise<Record<string, unknown>> {
    const m = this.maps!;
    return {
      services: m.services.dump().length,
      slots: m.slots.dump().length,
      backends: m.backends.dump().length,
    };
  }

  async teardown(): Promise<void> {
    this.model?.stop();
    if (this.socketLb && this.pinRoot) detachSockLb(this.pinRoot);
    this.maps?.close();
    this.dp?.close();
    if (this.pinRoot) rmSync(this.pinRoot, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

export class FairwaySockLb extends FairwayLb {
  constructor() {
    super("fairway-sock", true);
  }
}

export class FairwayTcLb extends FairwayLb {
  constructor() {
    super("fairway-tc", false);
  }
}
