// Output formats shared by CLI commands: -o table (default), json, yaml.
import { stringify } from "yaml";
import { FairwayError } from "../base/errors.ts";

export type OutputFormat = "table" | "json" | "yaml";

export function parseFormat(
  value: string | undefined,
  allowed: OutputFormat[] = ["table", "json", "yaml"],
): OutputFormat {
  const format = (value ?? "table") as OutputFormat;
  if (!allowed.includes(format)) {
    throw new FairwayError(
      "E_CLI_USAGE",
      `unknown output format "${value}" (use ${allowed.join(", ")})`,
    );
  }
  return format;
}

/** Renders rows as an aligned text table with upper-case headers. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("   ")
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join("\n") + "\n";
}

export function renderData(format: "json" | "yaml", data: unknown): string {
  return format === "json" ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);
}
