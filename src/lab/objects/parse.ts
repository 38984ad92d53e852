// Reading what `lab apply -f` / `lab delete -f` are given: files, directories
// (their *.yaml, *.yml and *.json, not sub-directories, as kubectl -f does) or
// "-" for stdin. Each document is one object or a v1 List; every problem names
// the file, the document and its line.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { FairwayError } from "../../base/errors.ts";

export interface InputDoc {
  /** "web.yaml, document 2 (line 14)" or "web.yaml, document 2 (line 14), items[0]" */
  where: string;
  value: Record<string, unknown>;
}

export interface Problem {
  where: string;
  message: string;
}

const MANIFEST = /\.(ya?ml|json)$/i;

/** The files a -f argument names. */
export function expandPaths(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (path === "-") {
      files.push(path);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw new FairwayError("E_LAB_INPUT", `the path "${path}" does not exist`);
    }
    if (!isDir) {
      files.push(path);
      continue;
    }
    const inDir = readdirSync(path)
      .filter((n) => MANIFEST.test(n) && !n.startsWith("."))
      .sort()
      .map((n) => join(path, n));
    if (inDir.length === 0)
      throw new FairwayError("E_LAB_INPUT", `no *.yaml, *.yml or *.json files in ${path}`);
    files.push(...inDir);
  }
  if (files.length === 0)
    throw new FairwayError("E_LAB_INPUT", "no manifests given: use -f FILE|DIR|-");
  return files;
}

/** Parses one file's text: documents, with a problem for each that is not a mapping. */
export function parseText(name: string, text: string): { docs: InputDoc[]; problems: Problem[] } {
  const docs: InputDoc[] = [];
  const problems: Problem[] = [];
  const lines = new LineCounter();
  const all = parseAllDocuments(text, { lineCounter: lines, prettyErrors: true });
  if (!Array.isArray(all)) return { docs, problems };
  all.forEach((doc, index) => {
    const start = doc.contents?.range[0] ?? doc.range[0];
    const where = `${name}, document ${index + 1} (line ${lines.linePos(start).line})`;
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const at = e.linePos?.[0];
      const line = at ? ` at line ${at.line}, column ${at.col}` : "";
      const text = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      problems.push({ where, message: `invalid YAML${line}: ${text}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (!isMapping(value)) {
      problems.push({ where, message: "a document must be a mapping (an object)" });
      return;
    }
    if (value.kind === "List" && Array.isArray(value.items)) {
      value.items.forEach((item: unknown, i: number) => {
        if (isMapping(item)) docs.push({ where: `${where}, items[${i}]`, value: item });
        else
          problems.push({
            where: `${where}, items[${i}]`,
            message: "a list item must be a mapping",
          });
      });
      return;
    }
    docs.push({ where, value });
  });
  return { docs, problems };
}

/** Reads and parses every input; `stdin` is read for "-". */
export function readInputs(
  paths: readonly string[],
  stdin: () => string = () => readFileSync(0, "utf8"),
): { docs: InputDoc[]; problems: Problem[] } {
  const docs: InputDoc[] = [];
  const problems: Problem[] = [];
  for (const file of expandPaths(paths)) {
    let text: string;
    try {
      text = file === "-" ? stdin() : readFileSync(file, "utf8");
    } catch (err) {
      throw new FairwayError("E_LAB_INPUT", `cannot read ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const r = parseText(file === "-" ? "<stdin>" : file, text);
    docs.push(...r.docs);
    problems.push(...r.problems);
  }
  return { docs, problems };
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
