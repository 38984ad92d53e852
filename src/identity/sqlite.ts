// A node-local allocator that survives restarts: every new identity is written
// to the node's state database (<stateDir>/fairway.db, ipam/db.ts) before it
// is returned, and a restart reads the held identities back, so a pod keeps
// its number and the pinned ipcache and policy maps stay right while the agent
// is down. One table holds several scopes ("labels", "cidr"), each with its own
// range and its next fresh number (identities are not reused at once).

import type { MigrationSet, StateDb } from "../ipam/index.ts";
import { translateSqliteError } from "../ipam/index.ts";
import { type IdentityAllocator, NumberPool } from "./allocator.ts";
import { IdentityCode } from "./errors.ts";
import type { IdentityRange } from "./reserved.ts";

export const IDENTITY_MIGRATIONS: MigrationSet = Object.freeze({
  owner: "identity",
  migrations: Object.freeze([
    {
      name: "001-identities",
      sql: `
        CREATE TABLE identity_allocations (
          scope TEXT    NOT NULL,
          key   TEXT    NOT NULL,
          id    INTEGER NOT NULL,
          PRIMARY KEY (scope, key),
          UNIQUE (scope, id)
        );
        CREATE TABLE identity_next (
          scope TEXT    NOT NULL PRIMARY KEY,
          next  INTEGER NOT NULL
        );
      `,
    },
  ]),
});

export class SqliteIdentityAllocator implements IdentityAllocator {
  private readonly byKey = new Map<string, number>();
  private readonly pool: NumberPool;
  private readonly insert;
  private readonly remove;
  private readonly saveNext;

  /** `db` must have IDENTITY_MIGRATIONS applied (openStateDb's `migrations`). */
  constructor(
    private readonly db: StateDb,
    readonly scope: string,
    readonly range: IdentityRange,
  ) {
    this.pool = new NumberPool(range, scope);
    try {
      const rows = db
        .prepare("SELECT key, id FROM identity_allocations WHERE scope = ? ORDER BY id")
        .all(scope) as { key: string; id: number }[];
      for (const { key, id } of rows) {
        this.byKey.set(key, id);
        this.pool.take(id);
      }
      const next = db.prepare("SELECT next FROM identity_next WHERE scope = ?").pluck().get(scope);
      if (typeof next === "number") this.pool.resume(next);
      this.insert = db.prepare(
        "INSERT INTO identity_allocations (scope, key, id) VALUES (?, ?, ?)",
      );
      this.remove = db.prepare("DELETE FROM identity_allocations WHERE scope = ? AND key = ?");
      this.saveNext = db.prepare(
        "INSERT INTO identity_next (scope, next) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET next = excluded.next",
      );
    } catch (err) {
      throw translateSqliteError(err, `reading ${scope} identities`, IdentityCode.state);
    }
  }

  acquire(key: string): number {
    const held = this.byKey.get(key);
    if (held !== undefined) return held;
    const id = this.pool.allocate();
    try {
      this.db.transaction(() => {
        this.insert.run(this.scope, key, id);
        this.saveNext.run(this.scope, this.pool.nextFresh());
      })();
    } catch (err) {
      this.pool.free(id);
      throw translateSqliteError(err, `saving ${this.scope} identity ${id}`, IdentityCode.state);
    }
    this.byKey.set(key, id);
    return id;
  }

  release(key: string): void {
    const id = this.byKey.get(key);
    if (id === undefined) return;
    try {
      this.remove.run(this.scope, key);
    } catch (err) {
      throw translateSqliteError(err, `releasing ${this.scope} identity ${id}`, IdentityCode.state);
    }
    this.byKey.delete(key);
    this.pool.free(id);
  }

  lookup(key: string): number | undefined {
    return this.byKey.get(key);
  }

  entries(): ReadonlyMap<string, number> {
    return this.byKey;
  }
}
