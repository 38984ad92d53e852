// The import-direction rule of DESIGN.md, checked on every source file:
// entry points > agent > subsystems > datapath > base; a subsystem is entered
// only through its index.ts; the CNI plugin depends on base/ alone.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../harness/index.ts";

const SRC = join(repoRoot, "src");
const SUBSYSTEMS = [
  "cluster",
  "ipam",
  "endpoint",
  "service",
  "identity",
  "policy",
  "observe",
  "dns",
];

/** Which top folders each top folder may import from. */
const ALLOWED: Record<string, string[]> = {
  base: ["base"],
  datapath: ["base", "datapath"],
  agent: ["base", "datapath", "agent", ...SUBSYSTEMS],
  cli: ["base", "datapath", "cli", "lab", ...SUBSYSTEMS],
  lab: ["base", "datapath", "lab", ...SUBSYSTEMS],
  cni: ["base", "cni"],
};
for (const s of SUBSYSTEMS) ALLOWED[s] = ["base", "datapath", ...SUBSYSTEMS];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) specs.push(m[1]!);
  return specs.filter((s) => s.startsWith("."));
}

function topOf(path: string): string {
  return relative(SRC, path).split("/")[0]!;
}

test("imports point down the layers and enter subsystems through index.ts", () => {
  const problems: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = topOf(file);
    const allowed = ALLOWED[from];
    if (!allowed) {
      problems.push(`${relative(repoRoot, file)}: folder src/${from} is not in the layer table`);
      continue;
    }
    for (const spec of importsOf(file)) {
      const target = resolve(dirname(file), spec);
      const to = topOf(target);
      const where = `${relative(repoRoot, file)} imports ${spec}`;
      if (!allowed.includes(to)) problems.push(`${where}: src/${from} may not import src/${to}`);
      const deep = relative(join(SRC, to), target);
      if (SUBSYSTEMS.includes(to) && to !== from && deep !== "index.ts") {
        problems.push(`${where}: enter src/${to} through its index.ts`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("the layer check sees a violation when there is one", () => {
  // Guards the checker itself: a cni -> agent import must be refused.
  assert.equal(ALLOWED.cni!.includes("agent"), false);
  assert.equal(topOf(join(SRC, "agent/main.ts")), "agent");
});
