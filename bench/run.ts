// `npm run bench -- <name> [options]`: runs bench/<name>.ts. Lists the
// benchmarks when called without a name.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { benchRoot } from "./lib/report.ts";

const names = readdirSync(benchRoot)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3));
const [name, ...rest] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- <${names.join("|")}> [options]`);
  process.exit(name ? 2 : 0);
}
process.argv = [process.argv[0]!, join(benchRoot, `${name}.ts`), ...rest];
await import(join(benchRoot, `${name}.ts`));
