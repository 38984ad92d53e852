// One measured round for one network: `batch` fresh namespaces, ADD into each
// with at most `concurrency` plugin processes in flight, then DEL of each the
// same way, then the namespaces go. Only the plugin runs are timed.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { NetnsSet } from "./netns.ts";
import { type Attachment, type BenchNetwork, cniAdd, cniDel } from "./plugin.ts";
import { runPool } from "./stats.ts";

export interface RoundSamples {
  add: number[];
  del: number[];
  addErrors: number;
  delErrors: number;
  addWallMs: number;
  delWallMs: number;
  /** first few failures, for the report */
  failures: string[];
  /** time inside the server (agent) per operation, when the network reports it */
  serverAdd: number[];
  serverDel: number[];
}

export async function runRound(
  net: BenchNetwork,
  netns: NetnsSet,
  batch: number,
  concurrency: number,
): Promise<RoundSamples> {
  const paths = netns.create(batch);
  const out: RoundSamples = {
    add: [],
    del: [],
    addErrors: 0,
    delErrors: 0,
    addWallMs: 0,
    delWallMs: 0,
    failures: [],
    serverAdd: [],
    serverDel: [],
  };
  net.serverTimes?.(); // drop what earlier rounds and warm-up logged
  const fail = (what: string, text: string) => {
    if (out.failures.length < 5) out.failures.push(`${net.label} ${what}: ${text.trim()}`);
  };
  const attachments: Attachment[] = paths.map((p) => ({
    containerId: randomBytes(32).toString("hex"),
    netns: p,
  }));
  try {
    let t0 = performance.now();
    await runPool(attachments, concurrency, async (a) => {
      const run = await cniAdd(net, a);
      if (run.code === 0) {
        out.add.push(run.ms);
        a.result = run.json;
      } else {
        out.addErrors += 1;
        fail("ADD", run.stdout || run.stderr);
      }
    });
    out.addWallMs = performance.now() - t0;
    t0 = performance.now();
    await runPool(attachments, concurrency, async (a) => {
      const run = await cniDel(net, a);
      if (run.code === 0) out.del.push(run.ms);
      else {
        out.delErrors += 1;
        fail("DEL", run.stdout || run.stderr);
      }
    });
    out.delWallMs = performance.now() - t0;
    const server = net.serverTimes?.();
    if (server) {
      out.serverAdd = server.add;
      out.serverDel = server.del;
    }
  } finally {
    netns.remove(paths);
  }
  for (const f of out.failures) console.error(f);
  return out;
}

/** Throws unless the pod side of `a` has eth0 up with the ADD result's first address. */
export function verifyAttachment(net: BenchNetwork, a: Attachment): void {
  const ips = (a.result?.ips as { address: string }[] | undefined) ?? [];
  const want = ips[0]?.address;
  const name = a.netns.slice("/run/netns/".length);
  const shown = execFileSync("ip", ["-n", name, "-o", "addr", "show", "dev", "eth0"], {
    encoding: "utf8",
  });
  if (!want || !shown.includes(want)) {
    throw new Error(`${net.label}: ADD returned ${want} but eth0 in ${name} has: ${shown}`);
  }
}
