// Where the compiled BPF objects are: build/bpf/ of the source tree, found from
// the running file (a bundle in dist/ or a source file under src/), or the
// directory in FAIRWAY_BPF_DIR.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FairwayError } from "../../base/errors.ts";

export function bpfObjectPath(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [
    process.env.FAIRWAY_BPF_DIR,
    join(here, "bpf"), // dist/<bundle>.js with dist/bpf/*.o beside it
    join(here, "../build/bpf"), // dist/<bundle>.js in a source tree
    join(here, "../../../build/bpf"), // src/datapath/bpf/paths.ts
  ].filter((d): d is string => Boolean(d));
  for (const dir of dirs) {
    const path = join(dir, `${name}.o`);
    if (existsSync(path)) return path;
  }
  throw new FairwayError(
    "E_BPF_OBJECT_MISSING",
    `BPF object ${name}.o not found (looked in ${dirs.join(", ")}); run: npm run setup`,
  );
}
