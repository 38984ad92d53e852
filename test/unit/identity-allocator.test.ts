// Identity allocation: numbers stay with their label set, are not reused at
// once, survive a restart (SQLite), and reserved/CIDR ranges are as Cilium's.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  CIDR_IDENTITY_RANGE,
  ENDPOINT_IDENTITY_RANGE,
  IDENTITY_MIGRATIONS,
  MemoryIdentityAllocator,
  ReservedIdentity,
  releaseUnused,
  SqliteIdentityAllocator,
} from "../../src/identity/index.ts";
import { openStateDb } from "../../src/ipam/index.ts";

test("reserved identities are numbered as Cilium numbers them; label and CIDR ranges", () => {
  assert.deepEqual(ReservedIdentity, {
    host: 1,
    world: 2,
    unmanaged: 3,
    health: 4,
    init: 5,
    remoteNode: 6,
    kubeApiserver: 7,
  });
  assert.equal(ENDPOINT_IDENTITY_RANGE.first, 256);
  assert.equal(CIDR_IDENTITY_RANGE.first, 16_777_216);
});

test("memory allocator: stable per key, released numbers wait until the range is used up", () => {
  const a = new MemoryIdentityAllocator({ first: 256, last: 259 });
  assert.equal(a.acquire("a"), 256);
  assert.equal(a.acquire("b"), 257);
  assert.equal(a.acquire("a"), 256, "idempotent");
  a.release("a");
  assert.equal(a.acquire("c"), 258, "a fresh number before the released one");
  assert.equal(a.acquire("d"), 259);
  assert.equal(a.acquire("e"), 256, "then the released one");
  assert.throws(
    () => a.acquire("f"),
    (e: Error & { code?: string }) => e.code === "E_IDENTITY_EXHAUSTED",
  );
});

test("memory allocator seeded with a previous run keeps the numbers", () => {
  const a = new MemoryIdentityAllocator(ENDPOINT_IDENTITY_RANGE, [
    ["web", 300],
    ["db", 280],
  ]);
  assert.equal(a.acquire("db"), 280);
  assert.equal(a.acquire("new"), 301);
  assert.deepEqual(releaseUnused(a, new Set(["db", "new"])), ["web"]);
  assert.equal(a.lookup("web"), undefined);
});

test("SQLite allocator: identities and the next number survive a restart", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "fw-identity-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "fairway.db");
  let db = openStateDb(path, { migrations: [IDENTITY_MIGRATIONS] });
  let labels = new SqliteIdentityAllocator(db, "labels", ENDPOINT_IDENTITY_RANGE);
  const cidrs = new SqliteIdentityAllocator(db, "cidr", CIDR_IDENTITY_RANGE);
  assert.equal(labels.acquire("k8s:app=web"), 256);
  assert.equal(labels.acquire("k8s:app=db"), 257);
  assert.equal(cidrs.acquire("cidr:10.0.0.0/8"), 16_777_216);
  labels.release("k8s:app=db");
  db.close();

  db = openStateDb(path, { migrations: [IDENTITY_MIGRATIONS] });
  t.after(() => db.close());
  labels = new SqliteIdentityAllocator(db, "labels", ENDPOINT_IDENTITY_RANGE);
  assert.equal(labels.lookup("k8s:app=web"), 256, "held identity read back");
  assert.equal(labels.lookup("k8s:app=db"), undefined, "released identity gone");
  assert.equal(labels.acquire("k8s:app=cache"), 258, "257 is not reused right after a restart");
  assert.equal(
    new SqliteIdentityAllocator(db, "cidr", CIDR_IDENTITY_RANGE).lookup("cidr:10.0.0.0/8"),
    16_777_216,
  );
});
