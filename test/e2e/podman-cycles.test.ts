// 100 container start/stop cycles through podman on Fairway's network leave
// nothing behind: the node's links, addresses, routes, tc filters, podman's
// namespaces, libcni's cache, pinned map entries, database rows and endpoint
// records are counted before and after and must be equal. Cycles run in a few
// lanes at once, so ADDs and DELs of different containers overlap.
// Needs root and podman set up by scripts/setup-podman.sh; fails loudly without.

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { cleanupFor } from "../harness/index.ts";
import { type Inventory, inCidr, takeInventory } from "./podman/inventory.ts";
import { FairwayNode, NETWORK, podCidrFor } from "./podman/node.ts";
import { IMAGE, requirePodman } from "./podman/podman.ts";

const POD_CIDR = podCidrFor(1);
const CYCLES = Number(process.env.FAIRWAY_PODMAN_CYCLES ?? 100);
const LANES = 4;

/** One cycle: run (ADD), check the address, stop (DEL), start (ADD), stop (DEL), rm. */
async function cycle(node: FairwayNode, i: number, seen: string[]): Promise<void> {
  const p = node.podman;
  const name = p.name("cyc");
  const ok = async (args: string[]) => {
    const r = await p.exec(args);
    assert.equal(r.code, 0, `cycle ${i}: podman ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  await ok(["run", "-d", "--name", name, "--network", NETWORK, IMAGE, "sleep", "600"]);
  const ipOf = async () => (await p.inspect(name, NETWORK)).ip;
  const ip = await ipOf();
  assert.ok(inCidr(ip, POD_CIDR), `cycle ${i}: address "${ip}" not in ${POD_CIDR}`);
  seen.push(ip);
  await ok(["stop", "--time", "0", name]);
  await ok(["start", name]);
  assert.ok(inCidr(await ipOf(), POD_CIDR), `cycle ${i}: no address after restart`);
  await ok(["stop", "--time", "0", name]);
  await ok(["rm", name]);
}

function summary(inv: Inventory): string {
  const n = (x: unknown) =>
    Array.isArray(x) ? x.length : Object.values(x as object).reduce((a, b) => a + b, 0);
  return Object.entries(inv)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(", ");
}

describe("podman start/stop cycles on Fairway's network", () => {
  before(() => requirePodman());

  test(`${CYCLES} cycles leave no address, link, route, tc filter, map entry or database row`, async (t) => {
    const c = cleanupFor(t);
    const node = await FairwayNode.start(t, c, { podCIDR: POD_CIDR });
    if (node.conflistCompat) t.diagnostic(node.conflistCompat);
    // A first container: the counting sees each kind of state one container
    // makes, and tables or cursors that exist from the first ADD on are in "before".
    const first = node.podman.start("cyc", NETWORK, ["sleep", "600"]);
    await node.podman.inspect(first, NETWORK);
    const during = await takeInventory(node);
    node.podman.remove(first);
    for (const kind of [
      "links",
      "routes",
      "tcFilters",
      "netns",
      "cniCache",
      "endpoints",
    ] as const) {
      assert.ok(
        during[kind].length >= 1,
        `a running container shows in ${kind}: ${summary(during)}`,
      );
    }
    assert.equal(during.dbRows.ipam_allocations, 1, summary(during));
    assert.ok(
      Object.values(during.mapEntries).some((n) => n > 0),
      summary(during),
    );
    const before = await takeInventory(node);
    assert.deepEqual(before.endpoints, []);
    assert.deepEqual(before.links, []);

    const seen: string[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        while (next < CYCLES) {
          const i = next++;
          await cycle(node, i, seen);
        }
      }),
    );
    const ms = performance.now() - t0;
    t.diagnostic(
      `${CYCLES} cycles (${CYCLES * 2} ADD + ${CYCLES * 2} DEL) in ${(ms / 1000).toFixed(1)} s, ${new Set(seen).size} distinct addresses`,
    );
    assert.equal(seen.length, CYCLES);

    const after = await takeInventory(node);
    t.diagnostic(`counted before/after: ${summary(before)} / ${summary(after)}`);
    assert.deepEqual(after, before, "the cycles leaked kernel or database state");
    assert.ok(
      !/level":(50|60)/.test(node.agent.stderr),
      `agent logged errors:\n${node.agent.stderr
        .split("\n")
        .filter((l) => /level":(50|60)/.test(l))
        .slice(0, 5)
        .join("\n")}`,
    );
  });
});
