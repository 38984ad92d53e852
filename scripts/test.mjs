#!/usr/bin/env node
// Test runner: `node scripts/test.mjs <unit|datapath|e2e|all>`.
// `all` type-checks, lints, checks generated code for drift, then runs every
// tier in one node:test run (one summary) followed by the leftover check.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const tiers = ["unit", "datapath", "e2e"];
const which = process.argv[2] ?? "all";
if (which !== "all" && !tiers.includes(which)) {
  console.error(`unknown test tier "${which}": use one of ${[...tiers, "all"].join(", ")}`);
  process.exit(2);
}

function findTests(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out = out.concat(findTests(path));
    else if (entry.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

function step(name, cmd, args) {
  console.log(`\n== ${name}: ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`\n${name} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

if (which === "all") {
  step("typecheck", "npx", ["tsc", "--noEmit", "-p", "."]);
  step("lint", "npx", ["biome", "check", "."]);
  step("generated code", "node", ["--import", "tsx", "scripts/gen-codecs.ts", "--check"]);
}

const selected = which === "all" ? tiers : [which];
const files = selected.flatMap((tier) => findTests(join("test", tier)));
if (files.length === 0) {
  console.error(`no test files found for ${selected.join(", ")}`);
  process.exit(1);
}
if (which !== "unit") files.push("test/zz-leftovers.test.ts");

const extra = process.env.FAIRWAY_TEST_ARGS ? process.env.FAIRWAY_TEST_ARGS.split(" ") : [];
step("tests", "node", [
  "--import",
  "tsx",
  "--test",
  "--test-concurrency=1",
  "--test-reporter=spec",
  ...extra,
  ...files,
]);
