// Generates the TypeScript side of every BPF layout, so it is never kept in
// sync by hand:
//   build/bpf/<name>.o   --BTF-->  src/datapath/generated/<name>.ts
//       struct codecs for map keys/values and events, the map table, the
//       load-time config (DECLARE_CONFIG) and the event table;
//   bpf/lib/drop_reasons.h    -->  src/datapath/generated/drop_reasons.ts
//   bpf/lib/events.h, common.h -> src/datapath/generated/events.ts
//
// Usage: node --import tsx scripts/gen-codecs.ts [--check]
//   (no flag)  write the files (only those that changed), delete stale ones
//   --check    regenerate in memory; exit 1 naming every file that drifted
// Needs the objects built (`npm run build:bpf`) and bpftool on PATH.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Btf } from "./gen-codecs/btf.ts";
import { type CEnum, parseConfigDecls, parseDefines, parseEnums } from "./gen-codecs/c-source.ts";
import { ModelBuilder } from "./gen-codecs/model.ts";
import { renderEnumsFile, renderObject } from "./gen-codecs/render.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OBJ_DIR = join(ROOT, "build/bpf");
const OUT_DIR = join(ROOT, "src/datapath/generated");
const LIB_DIR = join(ROOT, "bpf/lib");

function read(rel: string): string {
  return readFileSync(join(ROOT, rel), "utf8");
}

function findEnum(enums: CEnum[], name: string, file: string): CEnum {
  const e = enums.find((x) => x.name === name);
  if (!e) throw new Error(`${file}: enum ${name} not found`);
  return e;
}

/** drop_reasons.ts: the registry as a TS enum plus a name/description table. */
function dropReasonsFile(): string {
  const file = "bpf/lib/drop_reasons.h";
  const text = read(file);
  const reasons = findEnum(parseEnums(text, file), "drop_reason", file);
  const seen = new Map<number, string>();
  for (const r of reasons.entries) {
    if (!r.name.startsWith("DROP_")) throw new Error(`${file}: ${r.name} must start with DROP_`);
    if (seen.has(r.value))
      throw new Error(`${file}: ${r.name} reuses ${r.value} of ${seen.get(r.value)}`);
    if (r.value > 255)
      throw new Error(`${file}: ${r.name} = ${r.value} does not fit the event's __u8`);
    seen.set(r.value, r.name);
  }
  const max = parseDefines(text).get("DROP_REASON_MAX");
  if (max === undefined) throw new Error(`${file}: #define DROP_REASON_MAX not found`);
  return renderEnumsFile(
    [file],
    [{ tsName: "DropReason", cEnum: reasons, table: true }],
    [["DROP_REASON_MAX", max]],
  );
}

/** events.ts: event types, subtypes, verdicts and the L3 family numbers records carry. */
function eventsFile(eventEnums: CEnum[]): string {
  const common = "bpf/lib/common.h";
  const family = findEnum(parseEnums(read(common), common), "l3_family", common);
  const enums = eventEnums.map((e) => ({ tsName: pascal(e.name), cEnum: e, table: false }));
  enums.push({ tsName: "L3Family", cEnum: family, table: false });
  return renderEnumsFile(["bpf/lib/events.h", common], enums, []);
}

function pascal(cName: string): string {
  return cName.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
}

/** Every DECLARE_CONFIG visible to an object: its own source plus the lib headers. */
function configDecls(objectName: string) {
  const files = [
    `bpf/${objectName}.c`,
    ...readdirSync(LIB_DIR)
      .sort()
      .map((f) => `bpf/lib/${f}`),
  ];
  return files
    .filter((f) => existsSync(join(ROOT, f)))
    .flatMap((f) => parseConfigDecls(read(f), f));
}

function objectFile(objectPath: string, eventEnums: CEnum[]): string {
  const name = basename(objectPath, ".o");
  const btf = Btf.load(objectPath);
  const eventTypes = eventEnums.find((e) => e.name === "event_type");
  const model = new ModelBuilder(btf, relative(ROOT, objectPath)).build(
    configDecls(name),
    eventTypes,
  );
  return renderObject(name, model);
}

/**
 * Pipes through biome so output equals what `biome format` would write. The
 * stdin path is a made-up name at the repo root: biome.json ignores the
 * generated folder, and biome echoes an ignored file unformatted once it exists.
 */
function format(text: string, path: string): string {
  const biome = join(ROOT, "node_modules/.bin/biome");
  const r = spawnSync(biome, ["format", "--stdin-file-path=gen-codecs-output.ts"], {
    cwd: ROOT,
    input: text,
    encoding: "utf8",
  });
  if (r.status !== 0) {
    throw new Error(
      `biome format failed for ${path} (exit ${r.status ?? r.signal}):\n${r.stderr}${r.error ?? ""}`,
    );
  }
  return r.stdout;
}

/** All generated files: path relative to the repo -> content. */
export function generate(): Map<string, string> {
  if (!existsSync(OBJ_DIR)) {
    throw new Error(
      `${relative(ROOT, OBJ_DIR)}/ does not exist: build the BPF objects first (npm run setup)`,
    );
  }
  const objects = readdirSync(OBJ_DIR)
    .filter((f) => f.endsWith(".o"))
    .sort();
  if (objects.length === 0) {
    throw new Error(
      `no objects in ${relative(ROOT, OBJ_DIR)}/: build the BPF objects first (npm run setup)`,
    );
  }
  const eventEnums = parseEnums(read("bpf/lib/events.h"), "bpf/lib/events.h");
  const files = new Map<string, string>();
  const add = (name: string, text: string) => {
    const path = relative(ROOT, join(OUT_DIR, name));
    files.set(path, format(text, path));
  };
  for (const o of objects) add(`${basename(o, ".o")}.ts`, objectFile(join(OBJ_DIR, o), eventEnums));
  add("drop_reasons.ts", dropReasonsFile());
  add("events.ts", eventsFile(eventEnums));
  return files;
}

/** Files that differ from disk, and generated files on disk nothing generates any more. */
export function drift(files: Map<string, string>): { changed: string[]; stale: string[] } {
  const changed = [...files].filter(([p, text]) => {
    const abs = join(ROOT, p);
    return !existsSync(abs) || readFileSync(abs, "utf8") !== text;
  });
  const onDisk = existsSync(OUT_DIR) ? readdirSync(OUT_DIR).filter((f) => f.endsWith(".ts")) : [];
  const stale = onDisk.map((f) => relative(ROOT, join(OUT_DIR, f))).filter((p) => !files.has(p));
  return { changed: changed.map(([p]) => p), stale };
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    console.error(
      `gen-codecs: unknown argument ${unknown.join(" ")} (usage: gen-codecs.ts [--check])`,
    );
    return 2;
  }
  const files = generate();
  const { changed, stale } = drift(files);
  if (check) {
    if (changed.length === 0 && stale.length === 0) return 0;
    for (const p of changed) console.error(`drifted: ${p}`);
    for (const p of stale) console.error(`stale (no longer generated): ${p}`);
    console.error("generated code is out of date: run `npm run gen` and commit the result");
    return 1;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  for (const p of changed) {
    writeFileSync(join(ROOT, p), files.get(p)!);
    console.log(`  GEN   ${p}`);
  }
  for (const p of stale) {
    rmSync(join(ROOT, p));
    console.log(`  RM    ${p}`);
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`gen-codecs: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
