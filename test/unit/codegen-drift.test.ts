// The generated codecs must match the built BPF objects: this runs the
// generator in --check mode exactly as CI does, so a changed C struct without
// `npm run gen` fails here with the names of the drifted files.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../harness/index.ts";

const OBJ_DIR = join(repoRoot, "build/bpf");
const EXPECTED_OBJECTS = ["bench.o", "diag.o"];

function requireObjects(): void {
  const present = existsSync(OBJ_DIR) ? readdirSync(OBJ_DIR) : [];
  const missing = EXPECTED_OBJECTS.filter((o) => !present.includes(o));
  if (missing.length > 0) {
    throw new Error(
      `BPF objects missing from build/bpf/: ${missing.join(", ")}. ` +
        "The codec drift check needs them: run `npm run setup` (or `npm run build:bpf`).",
    );
  }
}

test("generated codecs match the built objects (gen-codecs --check)", () => {
  requireObjects();
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/gen-codecs.ts", "--check"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  assert.equal(
    r.status,
    0,
    `generated code drifted from the BPF objects; run \`npm run gen\`:\n${r.stderr}${r.stdout}`,
  );
});

test("check mode names a drifted file and a stale one", async () => {
  requireObjects();
  const { drift, generate } = await import("../../scripts/gen-codecs.ts");
  const files = generate();
  const target = "src/datapath/generated/diag.ts";
  assert.ok(files.has(target), `generator no longer produces ${target}`);
  files.set(target, `${files.get(target)}// edited\n`);
  const stalePath = "src/datapath/generated/bench.ts";
  files.delete(stalePath);
  const result = drift(files);
  assert.deepEqual(result.changed, [target]);
  assert.deepEqual(result.stale, [stalePath]);
});
