// Shared output of benchmarks: a JSON file under bench/results/ and a markdown
// table on stdout, plus small statistics helpers.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchRoot = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoRoot = dirname(benchRoot);

export function machine(): Record<string, unknown> {
  return {
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export function writeResult(name: string, data: unknown): string {
  const dir = join(benchRoot, "results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ machine: machine(), ...(data as object) }, null, 2)}\n`);
  return path;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Compiles a C tool under bench/tools/ into build/bench/ when its source is newer. */
export function buildTool(name: string, libs: string[] = []): string {
  const src = join(benchRoot, "tools", `${name}.c`);
  const out = join(repoRoot, "build/bench", name);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync("gcc", ["-O2", "-Wall", "-o", out, src, ...libs]);
  return out;
}
