// The IPAM module instance: owns the state database connection and the
// allocator between start() and stop(). Methods are async so that callers do
// not change when a pool needs I/O to refill (ENI mode); in cluster-pool mode
// each call is one SQLite transaction, committed before the promise resolves.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BugError, FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import type { Lifecycle } from "../base/module.ts";
import { Allocator } from "./allocator.ts";
import type { IpFamily } from "./cidr.ts";
import { type IpamConfig, poolCidrs } from "./config.ts";
import { openStateDb, STATE_DB_FILE, type StateDb, translateSqliteError } from "./db.ts";
import { IpamCode, StateCode } from "./errors.ts";
import { IPAM_MIGRATIONS } from "./state.ts";
import type {
  Allocation,
  AttachmentKey,
  GcOptions,
  Owner,
  PoolUsage,
  ReconcileReport,
} from "./types.ts";

export interface IpamServiceOptions {
  /** Clock in ms (tests). */
  now?: () => number;
  /** Where pod CIDRs come from when the config names none: the Node object. */
  nodeCidrs?: () => Promise<string[]>;
}

export class IpamService implements Lifecycle {
  private db: StateDb | undefined;
  private allocator: Allocator | undefined;
  /** The pod CIDRs in use: from the config, or from the Node object at start. */
  private podCIDRs: readonly string[] = [];

  /** Validates and allocates only (module contract): no I/O until start(). */
  constructor(
    readonly config: IpamConfig,
    private readonly log: Logger,
    private readonly options: IpamServiceOptions = {},
  ) {}

  /** Path of the state database file. */
  get dbPath(): string {
    return join(this.config.stateDir, STATE_DB_FILE);
  }

  /** Opens the database, migrates it, and reports allocations outside the configured pod CIDRs. */
  async start(): Promise<void> {
    if (this.db) throw new BugError("ipam started twice");
    try {
      mkdirSync(this.config.stateDir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new FairwayError(
        StateCode.open,
        `cannot create state directory ${this.config.stateDir}`,
        {
          cause: err,
          details: { path: this.config.stateDir },
        },
      );
    }
    this.podCIDRs =
      this.config.podCIDRs.length > 0 ? this.config.podCIDRs : await this.cidrsFromNode();
    const db = openStateDb(this.dbPath, {
      durability: this.config.durability,
      migrations: [IPAM_MIGRATIONS],
    });
    let allocator: Allocator;
    let stale: Allocation[];
    try {
      allocator = new Allocator(db, {
        cidrs: poolCidrs(this.podCIDRs),
        log: this.log,
        ...(this.options.now ? { now: this.options.now } : {}),
      });
      stale = allocator.outOfPool();
    } catch (err) {
      db.close(); // release what start() opened before failing
      throw translateSqliteError(err, "starting ipam");
    }
    this.db = db;
    this.allocator = allocator;
    if (stale.length > 0) {
      this.log.warn(
        {
          outOfPool: stale.map((a) => `${a.ip} ${a.containerId}/${a.ifname}`),
          podCIDRs: this.podCIDRs,
        },
        "allocations outside the configured pod CIDRs (pod CIDRs changed); they are kept until their pods are deleted",
      );
    }
    this.log.info({ db: this.dbPath, podCIDRs: this.podCIDRs }, "ipam started");
  }

  private async cidrsFromNode(): Promise<string[]> {
    if (!this.options.nodeCidrs) {
      throw new FairwayError(
        IpamCode.badConfig,
        "ipam.podCIDRs is empty and no Node object source is wired",
      );
    }
    return this.options.nodeCidrs();
  }

  /** Closes the database. Safe to call twice. */
  async stop(): Promise<void> {
    this.allocator = undefined;
    const db = this.db;
    this.db = undefined;
    db?.close();
  }

  async allocate(owner: Owner, family: IpFamily): Promise<Allocation> {
    return this.ready().allocate(owner, family);
  }

  async allocateAll(owner: Owner): Promise<Allocation[]> {
    return this.ready().allocateAll(owner);
  }

  async get(key: AttachmentKey): Promise<Allocation[]> {
    return this.ready().get(key);
  }

  async release(key: AttachmentKey): Promise<Allocation[]> {
    return this.ready().release(key);
  }

  async releaseByIp(ip: string): Promise<Allocation | null> {
    return this.ready().releaseByIp(ip);
  }

  async list(): Promise<Allocation[]> {
    return this.ready().list();
  }

  async usage(): Promise<PoolUsage[]> {
    return this.ready().usage();
  }

  /** For `fairway status`: usage per pool (bigint sizes as strings, JSON-safe). */
  async statusDetails(): Promise<{ pools: Record<string, string | number>[] }> {
    const pools = await this.usage();
    return {
      pools: pools.map((p) => ({
        cidr: p.cidr,
        family: p.family,
        size: p.size.toString(),
        used: p.used,
        free: p.free.toString(),
      })),
    };
  }

  async outOfPool(): Promise<Allocation[]> {
    return this.ready().outOfPool();
  }

  async gc(valid: readonly AttachmentKey[], options: GcOptions = {}): Promise<Allocation[]> {
    return this.ready().gc(valid, options);
  }

  async reconcile(liveContainerIds: Iterable<string>): Promise<ReconcileReport> {
    return this.ready().reconcile(liveContainerIds);
  }

  private ready(): Allocator {
    if (!this.allocator) {
      throw new FairwayError(IpamCode.notStarted, "ipam is not started", { kind: "bug" });
    }
    return this.allocator;
  }
}
