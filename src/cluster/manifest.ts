// Parsing one manifest file (pure, no I/O): multi-document YAML or JSON, each
// document one object or a v1 List of objects. Every object is checked (known
// kind and apiVersion, metadata.name, string labels...) and given what the API
// server would have given it:
//   metadata.namespace        "default" for namespaced kinds when absent
//                             (dropped for cluster-scoped kinds, as kubectl does)
//   metadata.uid              derived from kind/namespace/name when absent
//   metadata.annotations[SOURCE_FILE_ANNOTATION]  the file it came from
//   metadata.resourceVersion  "h-" + a hash of the canonical content, so an
//                             unchanged object emits nothing and an object that
//                             moved to another file is an update.

import { createHash } from "node:crypto";
import { LineCounter, parseAllDocuments } from "yaml";
import { KINDS, type KindName, objectKey, resolveManifestKind } from "./kinds.ts";
import type { KubeObject } from "./types.ts";

export const SOURCE_FILE_ANNOTATION = "fairway.io/source-file";

export interface ManifestObject {
  kind: KindName;
  /** Store key ("namespace/name" or "name"). */
  key: string;
  object: KubeObject;
  /** 0-based document index in the file. */
  index: number;
}

export interface ManifestProblem {
  file: string;
  /** 0-based document index; absent for problems of the whole file. */
  index?: number;
  /** 1-based line where the document starts. */
  line?: number;
  message: string;
}

export function formatProblem(p: ManifestProblem): string {
  const where =
    p.index === undefined
      ? ""
      : `, document ${p.index}${p.line === undefined ? "" : ` (line ${p.line})`}`;
  return `${p.file}${where}: ${p.message}`;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parses a file's text. `file` is the name used in annotations and problems. */
export function parseManifest(
  file: string,
  text: string,
): { objects: ManifestObject[]; problems: ManifestProblem[] } {
  const objects: ManifestObject[] = [];
  const problems: ManifestProblem[] = [];
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  if (!Array.isArray(docs)) return { objects, problems }; // an empty stream
  docs.forEach((doc, index) => {
    const line = lineCounter.linePos(doc.range[0]).line;
    const problem = (message: string): void => {
      problems.push({ file, index, line, message });
    };
    if (doc.errors.length > 0) {
      problem(`not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const list = isListDocument(value);
    const items = list ? (value as { items: unknown[] }).items : [value];
    items.forEach((item, i) => {
      const at = list ? `items[${i}]: ` : "";
      const result = toObject(file, item);
      if ("problem" in result) problem(at + result.problem);
      else objects.push({ ...result, index });
    });
  });
  return { objects, problems };
}

function isListDocument(value: unknown): boolean {
  const v = value as { kind?: unknown; apiVersion?: unknown; items?: unknown };
  return isMapping(value) && v.kind === "List" && v.apiVersion === "v1" && Array.isArray(v.items);
}

function toObject(file: string, raw: unknown): Omit<ManifestObject, "index"> | { problem: string } {
  if (!isMapping(raw)) return { problem: "a document must be a mapping (an object)" };
  const resolved = resolveManifestKind(raw.kind, raw.apiVersion);
  if ("problem" in resolved) return resolved;
  const kind = resolved.kind;
  const meta = raw.metadata;
  if (!isMapping(meta)) return { problem: `${kind}: missing metadata` };
  const problems = metadataProblems(kind, meta);
  if (problems.length > 0) {
    const who = typeof meta.name === "string" && meta.name !== "" ? `${kind} ${meta.name}` : kind;
    return { problem: `${who}: ${problems.join("; ")}` };
  }

  const metadata: Record<string, unknown> = { ...meta };
  if (KINDS[kind].namespaced) metadata.namespace ??= "default";
  else delete metadata.namespace;
  const key = objectKey(kind, metadata as { name: string; namespace?: string });
  metadata.uid ??= stableUid(`${kind}/${key}`);
  metadata.annotations = {
    ...(meta.annotations as object | undefined),
    [SOURCE_FILE_ANNOTATION]: file,
  };
  delete metadata.resourceVersion;
  const object = { ...(JSON.parse(JSON.stringify(raw)) as object), metadata } as Record<
    string,
    unknown
  >;
  metadata.resourceVersion = `h-${sha256(canonicalJson(object)).slice(0, 16)}`;
  return { kind, key, object: object as unknown as KubeObject };
}

function metadataProblems(kind: KindName, meta: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { name, namespace } = meta;
  if (typeof name !== "string" || name === "") problems.push("missing metadata.name");
  else if (!DNS_SUBDOMAIN.test(name))
    problems.push(`metadata.name "${name}" is not a DNS subdomain name`);
  if (namespace !== undefined && KINDS[kind].namespaced) {
    if (typeof namespace !== "string" || !DNS_LABEL.test(namespace)) {
      problems.push(`metadata.namespace ${JSON.stringify(namespace)} is not a DNS label`);
    }
  }
  for (const field of ["labels", "annotations"] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (!isMapping(map)) {
      problems.push(`metadata.${field} must be a mapping`);
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== "string")
        problems.push(`metadata.${field}.${k} must be a string (quote it: "${String(v)}")`);
    }
  }
  return problems;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A uid that stays the same for the same kind/namespace/name, in UUID form. */
function stableUid(seed: string): string {
  const h = sha256(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** JSON with keys sorted at every level: key order in the file does not change the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isMapping(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
