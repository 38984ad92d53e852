// A child process for the cross-process tests: opens the same state database
// as its siblings, prints {"ready":true}, waits for "go" on stdin, then
// allocates and prints one JSON line per result (see WorkerSpec in
// ipam-fixtures.ts). stdout to a pipe is synchronous on Linux, so a printed
// line means the allocation call had returned, and so had its commit.

import { once } from "node:events";
import { silentLogger } from "../../src/base/log.ts";
import { ipamModule } from "../../src/ipam/index.ts";
import type { WorkerSpec } from "./ipam-fixtures.ts";

const spec = JSON.parse(process.argv[2]!) as WorkerSpec;
const config = ipamModule.config({ ipam: { podCIDRs: spec.podCIDRs, stateDir: spec.stateDir } });
const ipam = ipamModule.create({ config, log: silentLogger(), deps: {} });
await ipam.start();

const print = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v)}\n`);
};
print({ ready: true });
if (spec.mode === "batch") await once(process.stdin, "data");

const count = spec.mode === "loop" ? Number.POSITIVE_INFINITY : (spec.count ?? 1);
for (let i = 0; i < count; i += 1) {
  const containerId = spec.sameOwner ? spec.prefix : `${spec.prefix}-${i}`;
  try {
    const got = await ipam.allocateAll({ containerId, ifname: "eth0" });
    print({ ok: true, containerId, ips: got.map((a) => a.ip) });
  } catch (err) {
    const e = err as { code?: string; message: string };
    print({ ok: false, containerId, code: e.code ?? "?", message: e.message });
  }
}
await ipam.stop();
process.stdin.destroy();
