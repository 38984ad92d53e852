// The node's state database: one SQLite file, <stateDir>/fairway.db, shared by
// every subsystem that keeps crash-safe node-local state (IPAM today, endpoint
// records and the ENI inventory later).
//
// Durability. The file is in WAL mode. A commit appends the transaction's pages
// to fairway.db-wal with write(2) before COMMIT returns, so once a call returns
// the data is in the kernel's page cache and survives the agent being killed
// (kill -9, OOM, panic) at any instant. What synchronous decides is power loss:
//   "process" (synchronous=NORMAL, the default): the WAL is fsynced at
//       checkpoints, not per commit. A power cut or kernel crash may roll back
//       the last commits, never corrupt the file. Right for IPAM: a power cut
//       also kills every pod on the node, so the allocations it can lose belong
//       to pods that are gone, and start-up reconciliation runs anyway.
//   "power" (synchronous=FULL): fsync of the WAL on every commit. For state that
//       outlives a reboot of the node (for instance cloud-side ENI inventory); it
//       costs one fsync per write.
// synchronous is per connection: a subsystem that needs "power" opens with it.
//
// Migrations. Each subsystem owns a named list of migrations (MigrationSet) and
// applies it with applyMigrations(); fairway_migrations records, per owner, the
// names applied so far, in order. PRAGMA user_version holds the version of that
// bookkeeping itself (META_VERSION), so a file written by a newer layout is
// refused instead of misread. Migrations run in BEGIN IMMEDIATE transactions and
// re-read the history under the lock: two processes opening one file at once
// apply each migration exactly once.

import Database from "better-sqlite3";
import { FairwayError } from "../base/errors.ts";
import { StateCode } from "./errors.ts";

export type StateDb = Database.Database;

export type Durability = "process" | "power";

export interface Migration {
  /** Stable, never renamed once released: "001-allocations". */
  readonly name: string;
  /** DDL/DML run inside the migration's transaction. */
  readonly sql: string;
}

export interface MigrationSet {
  /** The subsystem that owns these tables, e.g. "ipam", "endpoint". */
  readonly owner: string;
  /** In order; append only. */
  readonly migrations: readonly Migration[];
}

export interface OpenStateDbOptions {
  durability?: Durability;
  /** Applied in order right after opening. More can be applied later with applyMigrations. */
  migrations?: readonly MigrationSet[];
  /** How long a writer waits for another process's write lock (default 5000 ms). */
  busyTimeoutMs?: number;
}

/** Version of the migration bookkeeping (the fairway_migrations table), kept in user_version. */
export const META_VERSION = 1;

export const STATE_DB_FILE = "fairway.db";

/** Opens (creating if needed) the state database and applies the given migrations. */
export function openStateDb(path: string, options: OpenStateDbOptions = {}): StateDb {
  let db: StateDb;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw new FairwayError(StateCode.open, `cannot open state database ${path}: ${message(err)}`, {
      cause: err,
      details: { path },
    });
  }
  try {
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (String(mode).toLowerCase() !== "wal") {
      throw new FairwayError(
        StateCode.open,
        `state database ${path} refused WAL mode (got ${mode})`,
      );
    }
    db.pragma(`synchronous = ${options.durability === "power" ? "FULL" : "NORMAL"}`);
    db.pragma("foreign_keys = ON");
    setUpBookkeeping(db, path);
    for (const set of options.migrations ?? []) applyMigrations(db, set);
    return db;
  } catch (err) {
    db.close();
    throw translateSqliteError(err, `opening state database ${path}`, StateCode.open);
  }
}

function setUpBookkeeping(db: StateDb, path: string): void {
  db.transaction(() => {
    const version = Number(db.pragma("user_version", { simple: true }));
    if (version > META_VERSION) {
      throw new FairwayError(
        StateCode.tooNew,
        `state database ${path} has layout version ${version}, newer than this Fairway (${META_VERSION}); ` +
          "it was written by a newer release: upgrade, or move the file away to start empty",
        { details: { path, version, supported: META_VERSION } },
      );
    }
    if (version === META_VERSION) return;
    db.exec(`
      CREATE TABLE IF NOT EXISTS fairway_migrations (
        owner      TEXT    NOT NULL,
        seq        INTEGER NOT NULL,
        name       TEXT    NOT NULL,
        applied_at TEXT    NOT NULL,
        PRIMARY KEY (owner, seq)
      );
    `);
    db.pragma(`user_version = ${META_VERSION}`);
  }).immediate();
}

/**
 * Applies the migrations of `set` that the file does not have yet; returns their names.
 * Refuses a history that diverges from the code (renamed migration, or more applied
 * migrations than the code knows: a downgrade).
 */
export function applyMigrations(db: StateDb, set: MigrationSet): string[] {
  const applied: string[] = [];
  const step = db.transaction(() => {
    const done = db
      .prepare("SELECT name FROM fairway_migrations WHERE owner = ? ORDER BY seq")
      .pluck()
      .all(set.owner) as string[];
    checkHistory(set, done);
    for (let i = done.length; i < set.migrations.length; i += 1) {
      const m = set.migrations[i]!;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw translateSqliteError(
          err,
          `running migration ${set.owner}/${m.name}`,
          StateCode.migration,
        );
      }
      db.prepare(
        "INSERT INTO fairway_migrations (owner, seq, name, applied_at) VALUES (?, ?, ?, ?)",
      ).run(set.owner, i + 1, m.name, new Date().toISOString());
      applied.push(m.name);
    }
  });
  try {
    step.immediate();
  } catch (err) {
    throw translateSqliteError(err, `migrating ${set.owner} tables`, StateCode.migration);
  }
  return applied;
}

function checkHistory(set: MigrationSet, done: readonly string[]): void {
  const known = set.migrations.map((m) => m.name);
  if (new Set(known).size !== known.length) {
    throw new FairwayError(StateCode.migration, `migrations of ${set.owner} repeat a name`, {
      kind: "bug",
      details: { owner: set.owner, known },
    });
  }
  done.forEach((name, i) => {
    if (i >= known.length) {
      throw new FairwayError(
        StateCode.tooNew,
        `state database has ${set.owner} migration "${name}" that this Fairway does not know ` +
          `(it knows ${known.length}): written by a newer release`,
        { details: { owner: set.owner, applied: done, known } },
      );
    }
    if (known[i] !== name) {
      throw new FairwayError(
        StateCode.migration,
        `${set.owner} migration #${i + 1} is "${name}" in the database but "${known[i]}" in the code`,
        { kind: "bug", details: { owner: set.owner, applied: done, known } },
      );
    }
  });
}

/**
 * Turns a better-sqlite3 error into a FairwayError (FairwayErrors pass through).
 * BUSY/LOCKED are transient; I/O, full disk, read-only and corruption are
 * expected (the operator must act); anything else (constraint, SQL) is a bug.
 */
export function translateSqliteError(
  err: unknown,
  doing: string,
  fallbackCode: string = StateCode.io,
): FairwayError {
  if (err instanceof FairwayError) return err;
  const code = (err as { code?: unknown }).code;
  const sqlite = typeof code === "string" ? code : "";
  const details = { sqlite, doing };
  if (/^SQLITE_(BUSY|LOCKED)/.test(sqlite)) {
    return new FairwayError(StateCode.busy, `state database busy while ${doing}: ${message(err)}`, {
      kind: "transient",
      cause: err,
      details,
    });
  }
  const environmental = /^SQLITE_(IOERR|FULL|READONLY|CANTOPEN|CORRUPT|NOTADB|PERM)/.test(sqlite);
  return new FairwayError(fallbackCode, `state database error while ${doing}: ${message(err)}`, {
    kind: environmental ? "expected" : "bug",
    cause: err,
    details,
  });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
