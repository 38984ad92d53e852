// How the lab starts its pod server. From a bundle (dist/fairway.js) the CLI
// itself serves it (`fairway lab pod-server ...`, hidden). From the source tree
// it is compiled once with esbuild into <stateDir>/bin/fairway-pod.mjs, so a
// pod starts in ~50 ms instead of paying tsx's start-up in every pod.
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FairwayError } from "../../base/errors.ts";

const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith(".ts");

/** The argv that runs the pod server; append the mode and its arguments. */
export async function podServerArgv(stateDir: string): Promise<string[]> {
  if (!fromSource) return [process.execPath, here, "lab", "pod-server"];
  const out = join(stateDir, "bin", "fairway-pod.mjs");
  const sources = [join(dirname(here), "server.ts"), join(dirname(here), "entry.ts")];
  const newest = Math.max(...sources.map((s) => statSync(s).mtimeMs));
  if (!existsSync(out) || statSync(out).mtimeMs < newest) {
    mkdirSync(dirname(out), { recursive: true });
    try {
      // A dev dependency, present in a source tree; named through a variable so
      // bundling the CLI does not pull esbuild into dist/.
      const esbuild = "esbuild";
      const { build } = (await import(esbuild)) as typeof import("esbuild");
      await build({
        entryPoints: [sources[1]!],
        outfile: `${out}.${process.pid}.tmp`,
        bundle: true,
        platform: "node",
        target: "node20",
        format: "esm",
        logLevel: "silent",
      });
      renameSync(`${out}.${process.pid}.tmp`, out);
    } catch (err) {
      throw new FairwayError(
        "E_LAB_POD_SERVER",
        `cannot build the pod server from ${sources[1]} (esbuild, a dev dependency): ${(err as Error).message}; run npm install, or use the bundle: node dist/fairway.js lab ...`,
        { cause: err },
      );
    }
  }
  return [process.execPath, out];
}
