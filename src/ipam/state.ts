// IPAM's tables in the state database and the prepared statements over them.
// Nothing here decides anything: pool.ts and allocator.ts do, inside the
// BEGIN IMMEDIATE transactions the allocator opens.
//
//   ipam_allocations  one row per (containerId, ifname, family); the address is unique.
//                     ip_key is the address as fixed-width big-endian bytes (4 or 16),
//                     so the (family, ip_key) index walks addresses in numeric order.
//   ipam_cursors      per pool, the last address handed out: the next search starts
//                     after it, so a released address is reused only after the pool wraps.

import type { IpFamily } from "./cidr.ts";
import type { MigrationSet, StateDb } from "./db.ts";

export const IPAM_MIGRATIONS: MigrationSet = {
  owner: "ipam",
  migrations: [
    {
      name: "001-allocations",
      sql: `
        CREATE TABLE ipam_allocations (
          ip            TEXT    NOT NULL PRIMARY KEY,
          family        INTEGER NOT NULL CHECK (family IN (4, 6)),
          ip_key        BLOB    NOT NULL,
          pool          TEXT    NOT NULL,
          container_id  TEXT    NOT NULL,
          ifname        TEXT    NOT NULL,
          pod_namespace TEXT,
          pod_name      TEXT,
          allocated_at  TEXT    NOT NULL,
          UNIQUE (container_id, ifname, family)
        );
        CREATE UNIQUE INDEX ipam_allocations_key ON ipam_allocations (family, ip_key);
        CREATE TABLE ipam_cursors (
          pool    TEXT NOT NULL PRIMARY KEY,
          last_ip TEXT NOT NULL
        );
      `,
    },
  ],
};

/** A row as stored. */
export interface AllocationRow {
  ip: string;
  family: IpFamily;
  pool: string;
  containerId: string;
  ifname: string;
  podNamespace: string | null;
  podName: string | null;
  allocatedAt: string;
}

export interface NewAllocationRow extends AllocationRow {
  ipKey: Buffer;
}

const COLUMNS = `ip, family, pool, container_id AS containerId, ifname,
  pod_namespace AS podNamespace, pod_name AS podName, allocated_at AS allocatedAt`;

/** Prepared statements over the IPAM tables. Callers own the transactions. */
export class IpamStore {
  private readonly s;

  constructor(readonly db: StateDb) {
    this.s = {
      byOwner: db.prepare(
        `SELECT ${COLUMNS} FROM ipam_allocations WHERE container_id = ? AND ifname = ? ORDER BY family`,
      ),
      byOwnerFamily: db.prepare(
        `SELECT ${COLUMNS} FROM ipam_allocations WHERE container_id = ? AND ifname = ? AND family = ?`,
      ),
      insert: db.prepare(
        `INSERT INTO ipam_allocations
           (ip, family, ip_key, pool, container_id, ifname, pod_namespace, pod_name, allocated_at)
         VALUES (@ip, @family, @ipKey, @pool, @containerId, @ifname, @podNamespace, @podName, @allocatedAt)`,
      ),
      deleteByOwner: db.prepare(
        `DELETE FROM ipam_allocations WHERE container_id = ? AND ifname = ? RETURNING ${COLUMNS}`,
      ),
      deleteByIp: db.prepare(`DELETE FROM ipam_allocations WHERE ip = ? RETURNING ${COLUMNS}`),
      all: db.prepare(`SELECT ${COLUMNS} FROM ipam_allocations ORDER BY family, ip_key`),
      keysBetween: db
        .prepare(
          `SELECT ip_key FROM ipam_allocations
           WHERE family = ? AND ip_key >= ? AND ip_key <= ? ORDER BY ip_key`,
        )
        .pluck(),
      countBetween: db
        .prepare(
          `SELECT count(*) FROM ipam_allocations WHERE family = ? AND ip_key >= ? AND ip_key <= ?`,
        )
        .pluck(),
      cursor: db.prepare("SELECT last_ip FROM ipam_cursors WHERE pool = ?").pluck(),
      setCursor: db.prepare(
        `INSERT INTO ipam_cursors (pool, last_ip) VALUES (?, ?)
         ON CONFLICT (pool) DO UPDATE SET last_ip = excluded.last_ip`,
      ),
    };
  }

  byOwner(containerId: string, ifname: string): AllocationRow[] {
    return this.s.byOwner.all(containerId, ifname) as AllocationRow[];
  }

  byOwnerFamily(containerId: string, ifname: string, family: IpFamily): AllocationRow | undefined {
    return this.s.byOwnerFamily.get(containerId, ifname, family) as AllocationRow | undefined;
  }

  insert(row: NewAllocationRow): void {
    this.s.insert.run(row);
  }

  deleteByOwner(containerId: string, ifname: string): AllocationRow[] {
    return this.s.deleteByOwner.all(containerId, ifname) as AllocationRow[];
  }

  deleteByIp(ip: string): AllocationRow | undefined {
    return this.s.deleteByIp.get(ip) as AllocationRow | undefined;
  }

  all(): AllocationRow[] {
    return this.s.all.all() as AllocationRow[];
  }

  /** Allocated keys in [from, to], ascending, lazily (stop early to stop the scan). */
  keysBetween(family: IpFamily, from: Buffer, to: Buffer): IterableIterator<Buffer> {
    return this.s.keysBetween.iterate(family, from, to) as IterableIterator<Buffer>;
  }

  countBetween(family: IpFamily, from: Buffer, to: Buffer): number {
    return this.s.countBetween.get(family, from, to) as number;
  }

  cursor(pool: string): string | undefined {
    return this.s.cursor.get(pool) as string | undefined;
  }

  setCursor(pool: string, lastIp: string): void {
    this.s.setCursor.run(pool, lastIp);
  }
}
