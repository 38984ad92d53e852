#!/usr/bin/env node
// Bundles the entry points into single files under dist/ with esbuild, so that
// fairway-cni starts fast (one file to parse, no module resolution). Skips the
// work when every bundle is newer than every source file.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const entries = {
  "fairway-cni": "src/cni/main.ts",
  "fairway-agent": "src/agent/main.ts",
  fairway: "src/cli/main.ts",
};

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const st = statSync(path);
    t = Math.max(t, st.isDirectory() ? newest(path) : st.mtimeMs);
  }
  return t;
}

// The addon sits next to the bundles so an installed dist/ is self-contained.
const addon = "native/build/Release/fairway_native.node";
const addonCopy = "dist/fairway_native.node";
mkdirSync("dist", { recursive: true });
if (
  existsSync(addon) &&
  (!existsSync(addonCopy) || statSync(addon).mtimeMs > statSync(addonCopy).mtimeMs)
) {
  copyFileSync(addon, addonCopy);
}

// So do the BPF objects (dist/bpf/*.o), found by src/datapath/bpf/paths.ts.
mkdirSync("dist/bpf", { recursive: true });
for (const obj of existsSync("build/bpf") ? readdirSync("build/bpf") : []) {
  if (!obj.endsWith(".o")) continue;
  const from = join("build/bpf", obj);
  const to = join("dist/bpf", obj);
  if (!existsSync(to) || statSync(from).mtimeMs > statSync(to).mtimeMs) copyFileSync(from, to);
}

// And the CNI front end (built by scripts/bootstrap.sh), installed by the agent as <binDir>/fairway-cni.
const frontEnd = "build/bin/fairway-cni";
const frontEndCopy = "dist/fairway-cni";
if (
  existsSync(frontEnd) &&
  (!existsSync(frontEndCopy) || statSync(frontEnd).mtimeMs > statSync(frontEndCopy).mtimeMs)
) {
  copyFileSync(frontEnd, frontEndCopy);
}

const outputs = Object.keys(entries).map((name) => join("dist", `${name}.js`));
const sourceTime = Math.max(newest("src"), statSync("package-lock.json").mtimeMs);
const upToDate = outputs.every((o) => existsSync(o) && statSync(o).mtimeMs >= sourceTime);
if (upToDate && process.argv[2] !== "--force") process.exit(0);

for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    outfile: join("dist", `${name}.js`),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    sourcemap: "linked",
    minify: false,
    legalComments: "none",
    // The native addon is loaded with createRequire at run time, never bundled.
    // Packages with native addons (better-sqlite3 finds its .node file relative to
    // its own package) or lazy heavy imports stay in node_modules, loaded at run time.
    external: ["*.node", "better-sqlite3", "@kubernetes/client-node"],
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __fwCreateRequire } from 'node:module'; const require = __fwCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
}
console.log(`[setup] bundled ${outputs.join(", ")}`);
