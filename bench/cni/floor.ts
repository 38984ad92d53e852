// Not a network: an empty Node.js script exec'd exactly like fairway-cni
// (shebang, env, stdin). Its latency is what starting a Node process costs on
// this machine at the same concurrency, the floor under any plugin written
// for Node; the difference to Fairway is the plugin's own work plus the agent's.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchNetwork } from "./plugin.ts";

export const FLOOR_LABEL = "node start-up (floor)";

export function nodeFloor(): BenchNetwork {
  const dir = mkdtempSync(join(tmpdir(), "fwb-floor-"));
  const plugin = join(dir, "empty.mjs");
  writeFileSync(plugin, "#!/usr/bin/env node\n");
  chmodSync(plugin, 0o755);
  return {
    label: FLOOR_LABEL,
    conflist: { cniVersion: "1.0.0", name: "floor", plugins: [{ type: "empty.mjs" }] },
    plugin,
    cniPath: dir,
    plumbs: false,
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
