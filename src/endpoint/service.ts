// The endpoint module instance: the agent's CNI backend and endpoint reader.
// start() opens the endpoint table in the shared state database, loads the
// datapath once (pins under <bpffsRoot>/<nodeName>), attaches the uplink and
// restores what the last agent left; stop() waits for running operations and
// releases fds only — pins, filters and links stay, pods keep working.

import type {
  CniBackend,
  CniGcRequest,
  CniRequest,
  CniResult,
  CniStatus,
  EndpointReader,
  ReadinessReporter,
} from "../base/api.ts";
import { BugError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import type { Lifecycle } from "../base/module.ts";
import { type AttachmentKey, openStateDb } from "../ipam/index.ts";
import { addEndpoint, validateAttachment } from "./add.ts";
import { checkEndpoint } from "./check.ts";
import type { EndpointConfig } from "./config.ts";
import type { EndpointContext, IpamPort } from "./context.ts";
import { badRequest, notStarted } from "./errors.ts";
import { type EndpointKernel, VethKernel, type VethKernelOptions } from "./kernel.ts";
import { KeyedLock } from "./lock.ts";
import { hostIfnameFor } from "./naming.ts";
import { restore, sweepOrphans } from "./restore.ts";
import { type EndpointView, endpointView } from "./result.ts";
import { ENDPOINT_MIGRATIONS, type EndpointRow, EndpointStore } from "./store.ts";
import { teardown, teardownUnrecorded } from "./teardown.ts";

const DEFAULT_MTU = 1500;
const STOP_WAIT_MS = 10_000;

export interface EndpointServiceOptions {
  config: EndpointConfig;
  ipam: IpamPort;
  log: Logger;
  /** The node's network namespace (tests, the lab); default the agent's own. */
  netns?: string;
  /** Directory of lxc.o/host.o; default the datapath's search path. */
  objectDir?: string;
  /** Loads the kernel seam (tests inject a fake); default VethKernel.load. */
  loadKernel?: (options: VethKernelOptions) => EndpointKernel;
}

const attachmentId = (k: AttachmentKey) => `${k.containerId}\u0000${k.ifname}`;

export class EndpointService implements CniBackend, EndpointReader, ReadinessReporter, Lifecycle {
  private ctx: EndpointContext | undefined;
  private readonly locks = new KeyedLock();
  /** ADDs in progress, by host veth name: GC keeps their addresses. */
  private readonly adding = new Map<string, AttachmentKey>();

  /** Validates and allocates only (module contract): no I/O until start(). */
  constructor(private readonly options: EndpointServiceOptions) {}

  get config(): EndpointConfig {
    return this.options.config;
  }

  async start(): Promise<void> {
    if (this.ctx) throw new BugError("endpoint module started twice");
    const { config, ipam, log } = this.options;
    const db = openStateDb(ipam.dbPath, {
      durability: ipam.config.durability,
      migrations: [ENDPOINT_MIGRATIONS],
    });
    const store = new EndpointStore(db);
    let kernel: EndpointKernel | undefined;
    try {
      const load = this.options.loadKernel ?? ((o: VethKernelOptions) => VethKernel.load(o));
      kernel = load({
        mode: config.mode,
        pinRoot: config.pinRoot,
        ipv6: ipam.config.podCIDRs.some((c) => c.includes(":")),
        lb: { ...config.lb },
        ...(this.options.netns === undefined ? {} : { netns: this.options.netns }),
        ...(this.options.objectDir === undefined ? {} : { objectDir: this.options.objectDir }),
      });
      if (config.uplink) kernel.attachUplink(config.uplink);
      const mtu = config.mtu ?? (config.uplink ? await kernel.linkMtu(config.uplink) : DEFAULT_MTU);
      const ctx: EndpointContext = { config, store, kernel, ipam, log, mtu };
      const t0 = performance.now();
      const report = await restore(ctx);
      log.info(
        {
          ...report,
          ms: Math.round(performance.now() - t0),
          pinRoot: config.pinRoot,
          mode: config.mode,
          mtu,
        },
        "endpoints restored",
      );
      this.ctx = ctx;
    } catch (err) {
      kernel?.close();
      store.close();
      throw err;
    }
  }

  /** Waits for running operations, then releases fds. Pod networking stays. */
  async stop(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    if (!(await this.locks.idle(STOP_WAIT_MS))) {
      this.options.log.warn({ ms: STOP_WAIT_MS }, "endpoint operations still running at stop");
    }
    this.ctx = undefined;
    ctx.kernel.close();
    ctx.store.close();
  }

  readiness(): { ready: boolean; reason?: string } {
    return this.ctx ? { ready: true } : { ready: false, reason: "datapath not loaded" };
  }

  async status(): Promise<CniStatus> {
    const ctx = this.ctx;
    if (!ctx) return { ready: false, reason: "endpoint module: datapath not loaded" };
    const usage = await ctx.ipam.usage();
    // A family without a free address fails every ADD (dual-stack is all or nothing).
    const families = [...new Set(usage.map((u) => u.family))];
    const full = families.filter((f) => usage.every((u) => u.family !== f || u.free === 0n));
    if (full.length > 0) {
      const pools = usage.filter((u) => full.includes(u.family));
      return {
        ready: false,
        reason: `no free pod address: ${pools.map((u) => `${u.cidr} (${u.used} of ${u.size} used)`).join(", ")}`,
      };
    }
    return { ready: true };
  }

  /** For `fairway status`. */
  async statusDetails(): Promise<Record<string, unknown>> {
    const ctx = this.ready();
    const rows = ctx.store.all();
    const states: Record<string, number> = {};
    for (const r of rows) states[r.state] = (states[r.state] ?? 0) + 1;
    return {
      endpoints: rows.length,
      states,
      mode: ctx.kernel.mode,
      pinRoot: ctx.kernel.pinRoot,
      mtu: ctx.mtu,
    };
  }

  async add(req: CniRequest): Promise<CniResult> {
    const ctx = this.ready();
    validateAttachment(req, "ADD");
    const name = this.hostIfname(req);
    return this.locks.run(name, async () => {
      this.adding.set(name, { containerId: req.containerId, ifname: req.ifname });
      try {
        return await addEndpoint(ctx, req);
      } finally {
        this.adding.delete(name);
      }
    });
  }

  async del(req: CniRequest): Promise<void> {
    const ctx = this.ready();
    validateAttachment(req, "DEL");
    await this.locks.run(this.hostIfname(req), async () => {
      const row = ctx.store.get(req.containerId, req.ifname);
      if (row) await teardown(ctx, row);
      else await teardownUnrecorded(ctx, req, req.netns);
    });
  }

  async check(req: CniRequest): Promise<void> {
    const ctx = this.ready();
    validateAttachment(req, "CHECK");
    if (!req.prevResult) throw badRequest("CHECK", "prevResult is required");
    await this.locks.run(this.hostIfname(req), () => checkEndpoint(ctx, req));
  }

  async gc(req: CniGcRequest): Promise<void> {
    const ctx = this.ready();
    const valid = new Set(req.validAttachments.map(attachmentId));
    const stale = ctx.store
      .all()
      .filter(
        (r) =>
          r.network === req.network &&
          !valid.has(attachmentId(r)) &&
          r.state !== "creating" &&
          !this.locks.has(r.hostIfname),
      );
    for (const row of stale) {
      await this.locks.run(row.hostIfname, async () => {
        const current = ctx.store.byId(row.id);
        if (current) await teardown(ctx, current);
      });
    }
    // Addresses: keep the valid ones, those of every remaining record and of ADDs in flight.
    // Computed and handed over in one synchronous step, so no ADD slips in between.
    const keep = new Map<string, AttachmentKey>();
    for (const k of req.validAttachments) keep.set(attachmentId(k), k);
    for (const r of ctx.store.all()) keep.set(attachmentId(r), r);
    for (const k of this.adding.values()) keep.set(attachmentId(k), k);
    const released = await ctx.ipam.gc([...keep.values()]);
    const swept = await sweepOrphans(ctx, {
      withLock: (name, fn) => this.locks.run(name, fn),
    });
    ctx.log.info(
      {
        endpoints: stale.map((r) => `${r.containerId}/${r.ifname}`),
        addresses: released.map((a) => a.ip),
        ...swept,
      },
      "gc done",
    );
  }

  async listEndpoints(): Promise<EndpointView[]> {
    const ctx = this.ready();
    return ctx.store.all().map((r) => endpointView(r, this.counters(ctx, r.id)));
  }

  /** By endpoint id, "containerId:ifname", or containerId (its first interface). */
  async getEndpoint(id: string): Promise<EndpointView | undefined> {
    const ctx = this.ready();
    let row: EndpointRow | undefined;
    if (/^\d+$/.test(id)) row = ctx.store.byId(Number(id));
    if (!row && id.includes(":")) {
      const at = id.lastIndexOf(":");
      row = ctx.store.get(id.slice(0, at), id.slice(at + 1));
    }
    row ??= ctx.store.byContainer(id)[0];
    return row ? endpointView(row, this.counters(ctx, row.id)) : undefined;
  }

  private counters(ctx: EndpointContext, id: number) {
    try {
      return ctx.kernel.counters(id);
    } catch {
      return undefined; // counters are a nicety: never fail a listing over them
    }
  }

  private hostIfname(req: AttachmentKey): string {
    return hostIfnameFor(this.options.config.hostIfPrefix, req.containerId, req.ifname);
  }

  private ready(): EndpointContext {
    if (!this.ctx) throw notStarted();
    return this.ctx;
  }
}
