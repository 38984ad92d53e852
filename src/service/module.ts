// The service module (id "service"): the kube-proxy replacement in the agent.
//
//   start: load sock.o into the node's pin directory (creating the LB maps if
//          the endpoint module has not), read back what a previous agent left
//          in them (LbSync.adopt: IDs survive a restart), attach or re-point
//          the socket LB, wait for the cluster store's first full list, build
//          the table, ONE full sync (orphans removed), then follow changes:
//          each changed service is synced on its own, coalesced per tick.
//   stop:  stops following. Maps, links and programs stay: services keep
//          working while the agent is down, and the next start resyncs.

import { isAbsolute } from "node:path";
import { z } from "zod";
import type { ReadinessReporter } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import type { Lifecycle, ModuleDecl } from "../base/module.ts";
import type { ClusterStoreReader, Node } from "../cluster/index.ts";
import {
  attachSockLb,
  detachSockLb,
  LbMaps,
  resolveCgroup2,
  SOCK_LB_HOOKS,
  sockLbAttached,
} from "../datapath/lb/index.ts";
import { parseServiceConfig, type ServiceConfig } from "./config.ts";
import { ServiceCode } from "./errors.ts";
import { MemoryIdAllocator } from "./ids.ts";
import { LbSync } from "./lb-sync.ts";
import { type ServiceStatus, serviceStatus } from "./status.ts";
import type { ServiceTable } from "./types.ts";
import { ServiceModel } from "./watch.ts";

const sliceSchema = z.looseObject({
  nodeName: z.string().min(1),
  bpffsRoot: z.string().refine(isAbsolute, "must be an absolute path"),
  cgroupRoot: z.string().refine(isAbsolute, "must be an absolute path"),
  datapath: z.looseObject({ mode: z.string().default("veth") }).prefault({}),
  service: z.unknown().optional(),
});

export interface ServiceModuleConfig {
  readonly nodeName: string;
  readonly pinRoot: string;
  readonly cgroupRoot: string;
  /** The tc LB only runs in veth mode (veth-legacy leaves packets to the host stack). */
  readonly tcLb: boolean;
  readonly socketLb: boolean;
  readonly service: ServiceConfig;
}

export function parseServiceModuleConfig(agentConfig: unknown): ServiceModuleConfig {
  const parsed = sliceSchema.safeParse(agentConfig ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new FairwayError(
      ServiceCode.badConfig,
      `invalid service config:\n  ${problems.join("\n  ")}`,
      {
        details: { problems },
      },
    );
  }
  const c = parsed.data;
  const service = parseServiceConfig(c.service);
  return Object.freeze({
    nodeName: c.nodeName,
    pinRoot: `${c.bpffsRoot.replace(/\/+$/, "")}/${c.nodeName}`,
    cgroupRoot: c.cgroupRoot,
    tcLb: (service.tcLb ?? true) && c.datapath.mode === "veth",
    socketLb: service.socketLb ?? true,
    service,
  });
}

/** InternalIP and ExternalIP addresses of the Node object. */
function nodeObjectAddresses(node: Node | undefined): string[] {
  return (node?.status?.addresses ?? [])
    .filter((a) => a.type === "InternalIP" || a.type === "ExternalIP")
    .map((a) => a.address);
}

export class ServiceModule implements Lifecycle, ReadinessReporter {
  private maps: LbMaps | undefined;
  private sync: LbSync | undefined;
  private model: ServiceModel | undefined;
  private unsubscribe: (() => void) | undefined;
  private pending = new Set<string>();
  private flushScheduled = false;
  private synced = false;
  private lastSyncMs: number | undefined;
  private readonly errors: string[] = [];
  private stopped = false;

  constructor(
    readonly config: ServiceModuleConfig,
    private readonly store: ClusterStoreReader,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { config, log } = this;
    const lb = { maglevTableSize: config.service.maglevTableSize, tcLb: config.tcLb };
    if (config.socketLb) {
      const cgroupPath = resolveCgroup2(config.cgroupRoot);
      try {
        const r = attachSockLb({ pinRoot: config.pinRoot, cgroupPath, ...lb });
        log.info({ ...r, cgroup: cgroupPath }, "socket LB attached");
      } catch (err) {
        // Services still work per packet (tc LB); say clearly what is missing.
        const msg = `socket LB not attached: ${(err as Error).message}`;
        this.errors.push(msg);
        log.error(
          { err, cgroup: cgroupPath },
          "socket LB not attached; services rely on the tc LB",
        );
      }
    } else {
      const gone = detachSockLb(config.pinRoot);
      if (gone.length) log.info({ detached: gone }, "socket LB switched off: hooks detached");
    }
    this.maps = LbMaps.open(config.pinRoot, config.service.maglevTableSize);
    const ids = {
      frontends: new MemoryIdAllocator("frontend"),
      backends: new MemoryIdAllocator("backend", 1, 0xffffffff),
    };
    this.sync = new LbSync(this.maps, ids, log);
    const adopted = this.sync.adopt();
    log.info(adopted, "service maps adopted");

    await this.store.synced;
    if (this.stopped) return;
    const nodeAddresses = config.service.nodeAddresses?.length
      ? [...config.service.nodeAddresses]
      : nodeObjectAddresses(this.store.get("Node", config.nodeName));
    this.sync.setNodeAddresses(nodeAddresses);
    this.model = new ServiceModel({
      store: this.store,
      config: config.service,
      nodeName: config.nodeName,
      nodeAddresses,
      ids,
    });
    this.unsubscribe = this.model.onTableChange((keys) => this.enqueue(keys));
    this.model.start();
    this.pending.clear();
    const r = this.syncAll();
    this.synced = true;
    this.report(
      this.model
        .table()
        .services.map((e) => e.key)
        .concat(this.model.table().skipped.map((e) => e.key)),
    );
    log.info({ ...r, services: this.model.table().services.length }, "service maps synced");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.model?.stop();
    this.maps?.close();
    this.maps = undefined;
  }

  readiness(): { ready: boolean; reason?: string } {
    if (this.synced) return { ready: true };
    return { ready: false, reason: "service: waiting for the first sync of the service maps" };
  }

  table(): ServiceTable {
    return this.model?.table() ?? { services: [], skipped: [] };
  }

  serviceStatus(): ServiceStatus {
    const sync = this.sync;
    return serviceStatus(this.table(), (id) => sync?.state(id) ?? { ok: false }, {
      socketLb: sockLbAttached(this.config.pinRoot).length === SOCK_LB_HOOKS,
      tcLb: this.config.tcLb,
      algorithm: this.config.service.algorithm,
      maglevTableSize: this.config.service.maglevTableSize,
      ...(this.lastSyncMs === undefined ? {} : { lastSyncMs: this.lastSyncMs }),
      errors: [...this.errors],
    });
  }

  /** Logs what a rebuild of `keys` refused or ignored: invalid services, bad endpoints. */
  private report(keys: readonly string[]): void {
    for (const key of keys) {
      const e = this.model?.get(key);
      if (!e) continue;
      if ("reason" in e) {
        // Headless and ExternalName services are skipped by design, not by mistake.
        const expected = /^(headless|ExternalName)/.test(e.reason);
        this.log[expected ? "debug" : "warn"](
          { service: key, reason: e.reason },
          "service skipped",
        );
      } else if (e.problems.length) {
        this.log.warn({ service: key, problems: e.problems }, "service has problems");
      }
    }
  }

  private syncAll(): { written: number; removed: number; ms: number } {
    const r = this.sync!.sync(this.model!.table());
    this.lastSyncMs = r.ms;
    return r;
  }

  private enqueue(keys: readonly string[]): void {
    for (const k of keys) this.pending.add(k);
    if (!this.synced || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.stopped || !this.sync || !this.model) return;
    const keys = [...this.pending];
    this.pending.clear();
    const model = this.model;
    const services = keys.flatMap((k) => {
      const e = model.get(k);
      return e && !("reason" in e) ? [e] : [];
    });
    this.report(keys);
    try {
      this.sync.sync({ services, skipped: [] }, keys);
    } catch (err) {
      const msg = `syncing ${keys.join(", ")}: ${(err as Error).message}`;
      this.errors.push(msg);
      if (this.errors.length > 20) this.errors.shift();
      this.log.error({ err, services: keys }, "service map sync failed");
    }
  }
}

export const serviceModule: ModuleDecl<ServiceModuleConfig, ServiceModule> = {
  id: "service",
  deps: ["cluster", "endpoint"],
  config: parseServiceModuleConfig,
  create(ctx) {
    const cluster = ctx.deps.cluster as { store?: ClusterStoreReader } | undefined;
    if (!cluster?.store) throw new Error('the service module needs the "cluster" module');
    return new ServiceModule(ctx.config, cluster.store, ctx.log);
  },
};
