// Rounds -> per (network, concurrency) cells -> the markdown tables of the CNI
// latency benchmark: latency per network with ratios to the reference
// plugins, and where Fairway's time goes (agent, Node start-up, the rest).

import { fmt, table } from "../lib/report.ts";
import { REFERENCE_LABEL } from "./reference.ts";
import type { RoundSamples } from "./round.ts";
import { type LatencyStats, latencyStats } from "./stats.ts";

export interface Cell {
  network: string;
  concurrency: number;
  add: LatencyStats;
  del: LatencyStats;
  addOpsPerSec: number;
  delOpsPerSec: number;
  /** time inside the agent per operation (Fairway only) */
  agentAdd?: LatencyStats;
  agentDel?: LatencyStats;
  failures: string[];
}

export const TARGET = { concurrency: 10, addP50: 50, addP99: 150 } as const;

export function toCell(network: string, concurrency: number, rounds: RoundSamples[]): Cell {
  const sum = (f: (s: RoundSamples) => number) => rounds.reduce((a, s) => a + f(s), 0);
  const n = sum((s) => s.add.length + s.addErrors);
  const serverAdd = rounds.flatMap((s) => s.serverAdd);
  const serverDel = rounds.flatMap((s) => s.serverDel);
  return {
    network,
    concurrency,
    add: latencyStats(
      rounds.flatMap((s) => s.add),
      sum((s) => s.addErrors),
    ),
    del: latencyStats(
      rounds.flatMap((s) => s.del),
      sum((s) => s.delErrors),
    ),
    addOpsPerSec: Math.round((n / sum((s) => s.addWallMs)) * 1000),
    delOpsPerSec: Math.round((n / sum((s) => s.delWallMs)) * 1000),
    ...(serverAdd.length ? { agentAdd: latencyStats(serverAdd) } : {}),
    ...(serverDel.length ? { agentDel: latencyStats(serverDel) } : {}),
    failures: rounds.flatMap((s) => s.failures).slice(0, 5),
  };
}

const ms = (s: LatencyStats) => `${fmt(s.p50, 1)} / ${fmt(s.p99, 1)}`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;

/** Latency per network and concurrency, with ratios to bridge+host-local. */
export function latencyTable(cells: readonly Cell[]): string {
  const rows = cells.map((c) => {
    const ref = cells.find((x) => x.concurrency === c.concurrency && x.network === REFERENCE_LABEL);
    const vs = (k: "add" | "del") =>
      !ref || ref === c ? "1x" : `${ratio(c[k].p50, ref[k].p50)} / ${ratio(c[k].p99, ref[k].p99)}`;
    return [
      c.network,
      c.concurrency,
      ms(c.add),
      ms(c.del),
      `${c.addOpsPerSec} / ${c.delOpsPerSec}`,
      vs("add"),
      vs("del"),
      c.add.errors + c.del.errors,
    ];
  });
  return table(
    [
      "plugin",
      "concurrency",
      "ADD p50 / p99 (ms)",
      "DEL p50 / p99 (ms)",
      "ops/s ADD / DEL",
      "ADD vs reference (p50 / p99)",
      "DEL vs reference (p50 / p99)",
      "errors",
    ],
    rows,
  );
}

/** Fairway's ADD p50 split into: inside the agent, starting Node, and the rest (plugin code, socket, scheduling). */
/**
 * Fairway's ADD split into the agent's own work and everything outside it
 * (process start of the front end, the socket, the in-agent plugin logic),
 * for the installed front end ("fairway") and the JS plugin ("fairway-js").
 */
export function breakdownTable(cells: readonly Cell[]): string {
  const rows = cells
    .filter((c) => (c.network === "fairway" || c.network === "fairway-js") && c.agentAdd)
    .map((c) => [
      c.concurrency,
      c.network,
      fmt(c.add.p50, 1),
      ms(c.agentAdd!),
      fmt(c.add.p50 - c.agentAdd!.p50, 1),
      c.agentDel ? ms(c.agentDel) : "-",
    ]);
  return table(
    [
      "concurrency",
      "plugin",
      "ADD p50 (ms)",
      "in agent ADD p50 / p99",
      "outside the agent",
      "in agent DEL p50 / p99",
    ],
    rows,
  );
}

export function targetLine(cells: readonly Cell[]): string {
  const t = cells.find((c) => c.network === "fairway" && c.concurrency === TARGET.concurrency);
  if (!t) return `(no Fairway cell at concurrency ${TARGET.concurrency}: target not measured)`;
  const met = t.add.p50 <= TARGET.addP50 && t.add.p99 <= TARGET.addP99;
  return (
    `Target at concurrency ${TARGET.concurrency}: ADD p50 <= ${TARGET.addP50} ms and p99 <= ${TARGET.addP99} ms: ` +
    `${met ? "**met**" : "**not met**"} (p50 ${t.add.p50} ms, p99 ${t.add.p99} ms)`
  );
}
