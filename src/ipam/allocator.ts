// The allocator: owners -> addresses over the configured pools, every change in
// one BEGIN IMMEDIATE transaction committed before the call returns.
//
// BEGIN IMMEDIATE takes SQLite's write lock before the first read, so the
// "is it free? then take it" of one caller cannot interleave with another's,
// whether the other is in this process or in another one (a second agent during
// an upgrade, the CLI). A writer that finds the lock taken waits up to the busy
// timeout, then fails with E_STATE_BUSY (transient).

import { FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import {
  type Cidr,
  familyName,
  formatIp,
  type IpFamily,
  ipKey,
  parseCidr,
  parseIp,
} from "./cidr.ts";
import { type StateDb, translateSqliteError } from "./db.ts";
import { IpamCode } from "./errors.ts";
import { Pool } from "./pool.ts";
import { type AllocationRow, IpamStore } from "./state.ts";
import {
  type Allocation,
  type AttachmentKey,
  type GcOptions,
  type Owner,
  type PoolUsage,
  type ReconcileReport,
  validateAttachment,
  validateOwner,
} from "./types.ts";

export interface AllocatorOptions {
  /** Parsed, validated, non-overlapping pod CIDRs (see config.ts). */
  cidrs: readonly Cidr[];
  log?: Logger;
  /** Clock in ms, for allocatedAt and GC ages (tests inject one). */
  now?: () => number;
}

export class Allocator {
  private readonly store: IpamStore;
  private readonly pools: readonly Pool[];
  private readonly now: () => number;

  constructor(
    private readonly db: StateDb,
    private readonly options: AllocatorOptions,
  ) {
    this.store = new IpamStore(db);
    this.pools = [...options.cidrs]
      .sort((a, b) => a.family - b.family) // IPv4 first; stable within a family
      .map((c) => new Pool(c));
    this.now = options.now ?? Date.now;
  }

  /** The families that have at least one pool, IPv4 first. */
  get families(): IpFamily[] {
    return [...new Set(this.pools.map((p) => p.cidr.family))];
  }

  /** One address of `family` for the owner; the same one again on a repeated call. */
  allocate(owner: Owner, family: IpFamily): Allocation {
    const o = validateOwner(owner);
    return this.tx("allocating", () => this.allocateIn(o, family));
  }

  /** One address per configured family (dual-stack), all or none, IPv4 first. */
  allocateAll(owner: Owner): Allocation[] {
    const o = validateOwner(owner);
    return this.tx("allocating", () => this.families.map((f) => this.allocateIn(o, f)));
  }

  /** The owner's addresses, if any. */
  get(key: AttachmentKey): Allocation[] {
    const k = validateAttachment(key);
    return this.read("reading allocations", () => this.store.byOwner(k.containerId, k.ifname)).map(
      (r) => this.toAllocation(r),
    );
  }

  /** Frees every address of the owner; returns what was freed (empty when nothing was held). */
  release(key: AttachmentKey): Allocation[] {
    const k = validateAttachment(key);
    const rows = this.tx("releasing", () => this.store.deleteByOwner(k.containerId, k.ifname));
    for (const r of rows)
      this.options.log?.debug({ ip: r.ip, containerId: r.containerId }, "released");
    return rows.map((r) => this.toAllocation(r));
  }

  /** Frees one address whoever holds it; null when it was not allocated. */
  releaseByIp(ip: string): Allocation | null {
    const addr = parseIp(ip);
    const canonical = formatIp(addr.family, addr.value);
    const row = this.tx("releasing", () => this.store.deleteByIp(canonical));
    return row ? this.toAllocation(row) : null;
  }

  list(): Allocation[] {
    return this.read("listing allocations", () => this.store.all()).map((r) =>
      this.toAllocation(r),
    );
  }

  usage(): PoolUsage[] {
    return this.tx("reading usage", () => this.pools.map((p) => p.usage(this.store)));
  }

  /** Allocations whose address no configured pool contains (pod CIDRs changed since). */
  outOfPool(): Allocation[] {
    return this.read("listing allocations", () => this.store.all())
      .filter((r) => this.poolOf(r) === undefined)
      .map((r) => this.toAllocation(r));
  }

  /** CNI GC: frees every allocation whose attachment is not in `valid`. */
  gc(valid: readonly AttachmentKey[], options: GcOptions = {}): Allocation[] {
    const keep = new Set(valid.map((v) => attachmentId(validateAttachment(v))));
    const cutoff = new Date(this.now() - (options.minAgeMs ?? 0)).toISOString();
    const released = this.tx("garbage-collecting", () =>
      this.store
        .all()
        .filter((r) => !keep.has(attachmentId(r)) && r.allocatedAt <= cutoff)
        .flatMap((r) => (this.store.deleteByIp(r.ip) ? [r] : [])),
    );
    if (released.length > 0) {
      this.options.log?.info(
        { released: released.map((r) => r.ip) },
        "gc released leaked addresses",
      );
    }
    return released.map((r) => this.toAllocation(r));
  }

  /** Start-up: frees allocations of containers the kernel no longer has; reports out-of-pool ones. */
  reconcile(liveContainerIds: Iterable<string>): ReconcileReport {
    const live = new Set(liveContainerIds);
    const released = this.tx("reconciling", () =>
      this.store
        .all()
        .filter((r) => !live.has(r.containerId))
        .flatMap((r) => (this.store.deleteByIp(r.ip) ? [r] : [])),
    );
    const outOfPool = this.outOfPool();
    if (released.length > 0) {
      this.options.log?.info(
        { released: released.map((r) => r.ip) },
        "reconcile released addresses of dead containers",
      );
    }
    return { released: released.map((r) => this.toAllocation(r)), outOfPool };
  }

  private allocateIn(owner: Owner, family: IpFamily): Allocation {
    if (family !== 4 && family !== 6) {
      throw new FairwayError(
        IpamCode.badFamily,
        `unknown IP family ${JSON.stringify(family)}: use 4 or 6`,
        {
          details: { family: String(family) },
        },
      );
    }
    const pools = this.pools.filter((p) => p.cidr.family === family);
    if (pools.length === 0) throw this.noPool(family);
    const existing = this.store.byOwnerFamily(owner.containerId, owner.ifname, family);
    if (existing) {
      if (this.poolOf(existing) === undefined) throw this.outOfPoolError(existing);
      return this.toAllocation(existing);
    }
    for (const pool of pools) {
      const value = pool.nextFree(this.store);
      if (value === null) continue;
      const ip = formatIp(family, value);
      const row: AllocationRow = {
        ip,
        family,
        pool: pool.text,
        containerId: owner.containerId,
        ifname: owner.ifname,
        podNamespace: owner.podNamespace ?? null,
        podName: owner.podName ?? null,
        allocatedAt: new Date(this.now()).toISOString(),
      };
      this.store.insert({ ...row, ipKey: ipKey(family, value) });
      pool.advance(this.store, value);
      this.options.log?.debug(
        { ip, containerId: owner.containerId, ifname: owner.ifname },
        "allocated",
      );
      return this.toAllocation(row);
    }
    throw this.exhausted(family, pools);
  }

  private tx<T>(doing: string, fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw translateSqliteError(err, doing);
    }
  }

  /** A read of one statement: consistent on its own, needs no lock; errors translated. */
  private read<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw translateSqliteError(err, doing);
    }
  }

  private poolOf(row: AllocationRow): Pool | undefined {
    const addr = parseIp(row.ip);
    return this.pools.find((p) => p.holds(addr));
  }

  private toAllocation(row: AllocationRow): Allocation {
    const pool = this.poolOf(row)?.cidr ?? safeCidr(row.pool);
    const a: Allocation = {
      ip: row.ip,
      family: row.family,
      prefixLen: pool?.prefixLen ?? (row.family === 4 ? 32 : 128),
      cidr: pool?.text ?? row.pool,
      containerId: row.containerId,
      ifname: row.ifname,
      allocatedAt: row.allocatedAt,
    };
    if (row.podNamespace !== null) a.podNamespace = row.podNamespace;
    if (row.podName !== null) a.podName = row.podName;
    return a;
  }

  private noPool(family: IpFamily): FairwayError {
    const configured = this.pools.map((p) => p.text);
    return new FairwayError(
      IpamCode.noPool,
      `no ${familyName(family)} pod CIDR is configured (podCIDRs: ${configured.join(", ") || "none"})`,
      { details: { family, podCIDRs: configured } },
    );
  }

  private exhausted(family: IpFamily, pools: readonly Pool[]): FairwayError {
    const described = pools.map((p) => `${p.text} (${p.range.size} usable addresses)`);
    const message =
      pools.length === 1
        ? `${familyName(family)} pool ${described[0]} is exhausted: every address is allocated`
        : `every ${familyName(family)} pool is exhausted: ${described.join(", ")}`;
    return new FairwayError(IpamCode.exhausted, message, {
      details: {
        family,
        pools: pools.map((p) => ({ cidr: p.text, size: p.range.size.toString() })),
      },
    });
  }

  private outOfPoolError(row: AllocationRow): FairwayError {
    const configured = this.pools.map((p) => p.text);
    return new FairwayError(
      IpamCode.outOfPool,
      `${row.containerId}/${row.ifname} holds ${row.ip}, which none of the configured pod CIDRs ` +
        `(${configured.join(", ")}) contains; the pod CIDRs changed: delete the attachment (CNI DEL) to get a new address`,
      {
        details: {
          ip: row.ip,
          containerId: row.containerId,
          ifname: row.ifname,
          podCIDRs: configured,
        },
      },
    );
  }
}

function attachmentId(k: AttachmentKey): string {
  return `${k.containerId}\u0000${k.ifname}`;
}

function safeCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}
