// Config loading helpers (STYLE.md rule 11): a zod schema holds the shape and the
// defaults side by side; values come in layers (file < env < flags), each leaf
// remembers where it came from, the merge is validated once, every problem is
// reported in one error naming the field path, and the result is frozen.

import { readFileSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { FairwayError } from "./errors.ts";

export type LeafKind = "string" | "number" | "boolean" | "string[]" | "other";

export interface Leaf {
  /** dotted path, e.g. "ipam.podCIDRs" */
  path: string;
  kind: LeafKind;
}

/** One source of values: a partial config object plus where each leaf came from. */
export interface Layer {
  values: Record<string, unknown>;
  /** leaf path -> "file /etc/...", "env FAIRWAY_X", "flag --x" */
  sources: Map<string, string>;
  problems: string[];
}

export class ConfigError extends FairwayError {
  readonly problems: readonly string[];
  constructor(what: string, problems: string[]) {
    super("E_CONFIG", `invalid ${what}:\n${problems.map((p) => `  - ${p}`).join("\n")}`, {
      details: { problems },
    });
    this.name = "ConfigError";
    this.problems = problems;
  }
}

// --- schema introspection

interface Def {
  type: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  in?: z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { def: Def }).def;
}

/** The leaves of an object schema (through default/optional/prefault wrappers). */
export function schemaLeaves(schema: z.ZodType, prefix = ""): Leaf[] {
  const def = unwrap(schema);
  if (def.type !== "object" || !def.shape) return [{ path: prefix, kind: kindOf(def) }];
  return Object.entries(def.shape).flatMap(([key, child]) =>
    schemaLeaves(child, prefix ? `${prefix}.${key}` : key),
  );
}

function unwrap(schema: z.ZodType): Def {
  let def = defOf(schema);
  const wrappers = ["default", "optional", "prefault", "nullable", "readonly", "catch"];
  while (wrappers.includes(def.type) && def.innerType) def = defOf(def.innerType);
  if (def.type === "pipe" && def.in) return unwrap(def.in);
  return def;
}

function kindOf(def: Def): LeafKind {
  if (def.type === "string" || def.type === "enum" || def.type === "literal") return "string";
  if (def.type === "number" || def.type === "int") return "number";
  if (def.type === "boolean") return "boolean";
  if (def.type === "array" && def.element && kindOf(unwrap(def.element)) === "string")
    return "string[]";
  return "other";
}

/** "ipam.podCIDRs" -> "FAIRWAY_IPAM_POD_CIDRS" (prefix "FAIRWAY_"). */
export function envName(prefix: string, path: string): string {
  return (
    prefix +
    path
      .split(".")
      .map((seg) => seg.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase())
      .join("_")
  );
}

// --- layers

/** Reads a YAML file as a layer. A missing file is a problem only when `required`. */
export function fileLayer(path: string, required: boolean): Layer {
  const layer: Layer = { values: {}, sources: new Map(), problems: [] };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !required) return layer;
    layer.problems.push(`config file ${path}: cannot read it (${code ?? String(err)})`);
    return layer;
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where =
      err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : "";
    const first = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
    layer.problems.push(`config file ${path}: not valid YAML${where}: ${first}`);
    return layer;
  }
  if (doc === null || doc === undefined) return layer;
  if (!isPlainObject(doc)) {
    layer.problems.push(`config file ${path}: must be a mapping of settings, got ${describe(doc)}`);
    return layer;
  }
  layer.values = doc;
  for (const leaf of objectLeafPaths(doc)) layer.sources.set(leaf, `file ${path}`);
  return layer;
}

/** Values from environment variables named envName(prefix, leaf.path). Others are ignored. */
export function envLayer(env: NodeJS.ProcessEnv, prefix: string, leaves: readonly Leaf[]): Layer {
  const layer: Layer = { values: {}, sources: new Map(), problems: [] };
  for (const leaf of leaves) {
    const name = envName(prefix, leaf.path);
    const raw = env[name];
    if (raw === undefined) continue;
    setPath(layer.values, leaf.path, coerce(raw, leaf.kind));
    layer.sources.set(leaf.path, `env ${name}`);
  }
  return layer;
}

export interface ParsedFlag {
  name: string;
  value: string | undefined;
}

/**
 * Splits argv into flags: `--name=value`, `--name value`, or `--name` alone for
 * names in `booleans`. Positionals are reported as problems.
 */
export function parseFlags(
  argv: readonly string[],
  booleans: readonly string[],
): { flags: ParsedFlag[]; problems: string[] } {
  const flags: ParsedFlag[] = [];
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h") {
      flags.push({ name: "help", value: undefined });
      continue;
    }
    if (!arg.startsWith("--") || arg === "--") {
      problems.push(`unexpected argument "${arg}" (settings are given as --name=value)`);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (eq !== -1) flags.push({ name, value: arg.slice(eq + 1) });
    else if (booleans.includes(name)) flags.push({ name, value: undefined });
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith("--"))
      flags.push({ name, value: argv[++i] });
    else problems.push(`flag --${name} needs a value (--${name}=value)`);
  }
  return { flags, problems };
}

/** Values from `--<leaf.path>=value` flags. Repeating a list flag appends. */
export function flagLayer(flags: readonly ParsedFlag[], leaves: readonly Leaf[]): Layer {
  const layer: Layer = { values: {}, sources: new Map(), problems: [] };
  const byPath = new Map(leaves.map((l) => [l.path, l]));
  for (const flag of flags) {
    const leaf = byPath.get(flag.name);
    if (!leaf) {
      const hint = closest(flag.name, [...byPath.keys()]);
      layer.problems.push(`unknown flag --${flag.name}${hint ? ` (did you mean --${hint}?)` : ""}`);
      continue;
    }
    const raw = flag.value ?? "";
    const previous = getPath(layer.values, leaf.path);
    const value = coerce(raw, leaf.kind);
    setPath(
      layer.values,
      leaf.path,
      Array.isArray(previous) && Array.isArray(value) ? [...previous, ...value] : value,
    );
    layer.sources.set(leaf.path, `flag --${flag.name}`);
  }
  return layer;
}

function coerce(raw: string, kind: LeafKind): unknown {
  const text = raw.trim();
  if (kind === "string[]") return text === "" ? [] : text.split(",").map((s) => s.trim());
  if (kind === "number" && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (kind === "boolean" && (text === "true" || text === "false")) return text === "true";
  return raw;
}

// --- merge, validate, freeze

/** Deep-merges layers in order (later wins; lists are replaced, not concatenated). */
export function mergeLayers(layers: readonly Layer[]): Layer {
  const out: Layer = { values: {}, sources: new Map(), problems: [] };
  for (const layer of layers) {
    out.values = deepMerge(out.values, layer.values);
    for (const [path, source] of layer.sources) {
      for (const old of [...out.sources.keys()]) {
        if (old === path || old.startsWith(`${path}.`) || path.startsWith(`${old}.`))
          out.sources.delete(old);
      }
      out.sources.set(path, source);
    }
    out.problems.push(...layer.problems);
  }
  return out;
}

function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/**
 * Validates the merged layers once. Throws one ConfigError listing the layers'
 * own problems and every schema issue, each naming the field path and where the
 * value came from. Returns the parsed value, deeply frozen.
 */
export function validateConfig<S extends z.ZodType>(
  what: string,
  schema: S,
  merged: Layer,
): Readonly<z.output<S>> {
  const problems = [...merged.problems];
  const result = schema.safeParse(merged.values);
  if (!result.success)
    problems.push(...result.error.issues.flatMap((i) => describeIssue(i, merged, schema)));
  if (problems.length > 0) throw new ConfigError(what, problems);
  return deepFreeze(result.data as z.output<S>);
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, merged: Layer, schema: z.ZodType): string[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const known = knownKeys(schema, path);
    return issue.keys.map((key) => {
      const full = formatPath([...path, key]);
      const hint = closest(key, known);
      return `${full}: unknown setting${hint ? ` (did you mean ${hint}?)` : ""}${sourceNote(merged, full)}`;
    });
  }
  const at = formatPath(path);
  const value = getPath(merged.values, path);
  // Custom checks put the value in their own message.
  const got = issue.code === "custom" || value === undefined ? "" : `, got ${describe(value)}`;
  const message = issue.code === "custom" ? issue.message : plainMessage(issue);
  return [`${at || "(top level)"}: ${message}${got}${sourceNote(merged, at)}`];
}

/** The keys an object schema declares at `path`. */
function knownKeys(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let def = unwrap(schema);
  for (const seg of path) {
    const next = typeof seg === "number" ? def.element : def.shape?.[seg];
    if (!next) return [];
    def = unwrap(next);
  }
  return def.shape ? Object.keys(def.shape) : [];
}

function plainMessage(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return issue.origin === "array" || issue.origin === "string"
        ? `must have at least ${issue.minimum} ${issue.origin === "array" ? "entries" : "characters"}`
        : `must be at least ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array" || issue.origin === "string"
        ? `must have at most ${issue.maximum} ${issue.origin === "array" ? "entries" : "characters"}`
        : `must be at most ${issue.maximum}`;
    default:
      return issue.message;
  }
}

function sourceNote(merged: Layer, path: string): string {
  const dotted = path.replace(/\[\d+\]/g, "");
  for (let p = dotted; p; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
    const source = merged.sources.get(p);
    if (source) return ` (from ${source})`;
  }
  return "";
}

/** ["ipam", "podCIDRs", 1] -> "ipam.podCIDRs[1]" */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

// --- small object helpers

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function objectLeafPaths(obj: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return isPlainObject(v) ? objectLeafPaths(v, path) : [path];
  });
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let cur = obj;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(cur[key])) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

function getPath(obj: unknown, path: string | readonly (string | number)[]): unknown {
  const keys = typeof path === "string" ? path.split(".") : path;
  let cur: unknown = obj;
  for (const key of keys) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/** A short, safe rendering of a value for messages. */
export function describe(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/** The candidate closest to `word`: equal ignoring case, or a typo away (1 edit per 3 letters, at most 2). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}
