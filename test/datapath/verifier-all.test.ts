// Every product BPF object, under every combination of its on/off load-time
// switches, goes through the kernel verifier. A program that only passes with
// its default config would otherwise hide until someone flips a knob.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { GlobalLayout } from "../../src/datapath/codec.ts";
import { BpfObject } from "../../src/datapath/index.ts";
import { cleanupFor, repoRoot, requireRoot, tempPinDir } from "../harness/index.ts";

requireRoot();

const objects = readdirSync(join(repoRoot, "build/bpf"))
  .filter((f) => f.endsWith(".o"))
  .map((f) => f.slice(0, -2));

/** All combinations of the 0/1 switches of a config table (others keep their default). */
function featureSets(config: Record<string, GlobalLayout>): Record<string, Uint8Array>[] {
  const switches = Object.entries(config).filter(
    ([, l]) => l.codec.size === 1 && (l.default === 0 || l.default === 1),
  );
  const sets: Record<string, Uint8Array>[] = [];
  for (let mask = 0; mask < 1 << switches.length; mask++) {
    sets.push(
      Object.fromEntries(
        switches.map(([name, l], i) => [name, l.codec.encode((mask >> i) & 1) as Uint8Array]),
      ),
    );
  }
  return sets;
}

test("there are product objects to verify", () => {
  assert.ok(objects.includes("diag") && objects.length >= 2, `objects: ${objects.join(", ")}`);
});

for (const name of objects) {
  test(`${name}.o loads under every feature set`, async (t) => {
    const c = cleanupFor(t);
    const generated = (await import(`../../src/datapath/generated/${name}.ts`)) as {
      config: Record<string, GlobalLayout>;
    };
    const sets = featureSets(generated.config);
    for (const globals of sets) {
      const pinRoot = tempPinDir(c, "ver");
      const obj = BpfObject.load(join(repoRoot, "build/bpf", `${name}.o`), { pinRoot, globals });
      assert.ok(obj.programs().length > 0, `${name}.o has loaded programs`);
      obj.close();
    }
  });
}
