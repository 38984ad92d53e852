import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  applyMigrations,
  IPAM_MIGRATIONS,
  META_VERSION,
  type MigrationSet,
  openStateDb,
  StateCode,
} from "../../src/ipam/index.ts";
import { tempStateDir } from "./ipam-fixtures.ts";

const endpointV1: MigrationSet = {
  owner: "endpoint",
  migrations: [
    { name: "001-endpoints", sql: "CREATE TABLE endpoint_records (id INTEGER PRIMARY KEY)" },
  ],
};

test("the state db is WAL, synchronous by durability, with user_version and a migration history", (t) => {
  const path = join(tempStateDir(t), "fairway.db");
  const db = openStateDb(path, { migrations: [IPAM_MIGRATIONS] });
  t.after(() => db.close());
  assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
  assert.equal(db.pragma("synchronous", { simple: true }), 1, "NORMAL by default");
  assert.equal(db.pragma("user_version", { simple: true }), META_VERSION);
  const history = db.prepare("SELECT owner, seq, name FROM fairway_migrations").all();
  assert.deepEqual(history, [{ owner: "ipam", seq: 1, name: "001-allocations" }]);
  const power = openStateDb(path, { durability: "power" });
  t.after(() => power.close());
  assert.equal(power.pragma("synchronous", { simple: true }), 2, "FULL for power-loss durability");
});

test("each subsystem registers its own named migrations; each applies once", (t) => {
  const path = join(tempStateDir(t), "fairway.db");
  openStateDb(path, { migrations: [IPAM_MIGRATIONS] }).close();
  // Later, another module appends its set to the same file.
  const db = openStateDb(path, { migrations: [IPAM_MIGRATIONS] });
  t.after(() => db.close());
  assert.deepEqual(applyMigrations(db, endpointV1), ["001-endpoints"]);
  assert.deepEqual(applyMigrations(db, endpointV1), [], "idempotent");
  const endpointV2: MigrationSet = {
    owner: "endpoint",
    migrations: [
      ...endpointV1.migrations,
      { name: "002-add-mac", sql: "ALTER TABLE endpoint_records ADD COLUMN mac TEXT" },
    ],
  };
  assert.deepEqual(applyMigrations(db, endpointV2), ["002-add-mac"]);
  assert.deepEqual(applyMigrations(db, IPAM_MIGRATIONS), []);
  const owners = db
    .prepare("SELECT owner || '/' || name AS m FROM fairway_migrations ORDER BY owner, seq")
    .pluck()
    .all();
  assert.deepEqual(owners, [
    "endpoint/001-endpoints",
    "endpoint/002-add-mac",
    "ipam/001-allocations",
  ]);
});

test("a failing migration rolls back whole and says which one failed", (t) => {
  const db = openStateDb(join(tempStateDir(t), "fairway.db"));
  t.after(() => db.close());
  const broken: MigrationSet = {
    owner: "x",
    migrations: [{ name: "001-half", sql: "CREATE TABLE x_a (id INTEGER); CREATE TABLE oops (" }],
  };
  assert.throws(
    () => applyMigrations(db, broken),
    (e: { code: string; message: string }) =>
      e.code === StateCode.migration && e.message.includes("running migration x/001-half"),
  );
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE name = 'x_a'").all();
  assert.deepEqual(tables, [], "the half-applied migration left nothing");
});

test("a history from a newer release, or one that diverges, is refused", (t) => {
  const path = join(tempStateDir(t), "fairway.db");
  const db = openStateDb(path, { migrations: [IPAM_MIGRATIONS] });
  t.after(() => db.close());
  applyMigrations(db, {
    owner: "endpoint",
    migrations: [...endpointV1.migrations, { name: "002-future", sql: "SELECT 1" }],
  });
  assert.throws(
    () => applyMigrations(db, endpointV1),
    (e: { code: string; message: string }) => {
      return (
        e.code === StateCode.tooNew &&
        /migration "002-future" that this Fairway does not know/.test(e.message)
      );
    },
  );
  assert.throws(
    () =>
      applyMigrations(db, {
        owner: "endpoint",
        migrations: [
          { name: "001-renamed", sql: "SELECT 1" },
          { name: "002-future", sql: "SELECT 1" },
        ],
      }),
    (e: { code: string }) => e.code === StateCode.migration,
  );
  db.pragma(`user_version = ${META_VERSION + 1}`);
  assert.throws(
    () => openStateDb(path),
    (e: { code: string; message: string }) =>
      e.code === StateCode.tooNew && /layout version 2/.test(e.message),
  );
});

test("open errors name the path", (t) => {
  const dir = tempStateDir(t);
  assert.throws(
    () => openStateDb(join(dir, "missing", "fairway.db")),
    (e: { code: string; message: string }) =>
      e.code === StateCode.open && e.message.includes(join(dir, "missing")),
  );
  const notDb = join(dir, "garbage.db");
  writeFileSync(
    notDb,
    "this is not a database, just some text long enough to be looked at".repeat(100),
  );
  assert.throws(
    () => openStateDb(notDb),
    (e: { code: string; kind: string; message: string }) =>
      e.code === StateCode.open && e.kind === "expected" && e.message.includes(notDb),
  );
});
