// The directory source: every *.yaml, *.yml and *.json file directly in one
// directory (not sub-directories; names starting with "." are skipped) is a
// manifest of ordinary Kubernetes objects. fs.watch triggers a debounced scan;
// a periodic rescan catches what fs.watch misses (NFS, overlay, some editors).
//
// Each scan rebuilds the desired set from every file's last good objects and
// replaces each kind's table in the store; content-hash resourceVersions keep
// unchanged objects silent. Rules:
//   - a file is applied whole or not at all: a file with any problem (YAML
//     error, unknown kind, missing metadata.name...) keeps its last good
//     objects (none if it never parsed), and the problem is logged and shown in
//     status() with the file and document index until the file is fixed. A
//     half-saved file or a typo never deletes pods or policies;
//   - a file that is removed takes its objects with it, bad or not;
//   - the same object in two files: the first file by name wins, the other
//     copy is reported as a problem;
//   - the directory disappearing is reported and the store kept as it was.

import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { ClusterCode } from "./errors.ts";
import type { KindName, ObjectOf } from "./kinds.ts";
import {
  formatProblem,
  type ManifestObject,
  type ManifestProblem,
  parseManifest,
} from "./manifest.ts";
import type { ClusterSource, SourceStatus } from "./source.ts";
import type { ClusterStore } from "./store.ts";

export interface DirectorySourceOptions {
  store: ClusterStore;
  log: Logger;
  directory: string;
  /** Full rescan period, the fallback for missed fs.watch events; 0 turns it off. */
  rescanSeconds: number;
  /** Quiet time after a change before scanning (default 100 ms). */
  debounceMs?: number;
  /** Use fs.watch (default true); false leaves only the periodic rescan. */
  fsWatch?: boolean;
}

interface FileState {
  hash: string;
  /** The objects of the last version that had no problem. */
  good: ManifestObject[];
  problems: ManifestProblem[];
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

export class DirectorySource implements ClusterSource {
  readonly name = "directory";
  private readonly files = new Map<string, FileState>();
  private conflicts: ManifestProblem[] = [];
  private dirProblem: string | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private dirty = false;
  private running = false;
  private scans = 0;
  private errors = 0;

  constructor(private readonly o: DirectorySourceOptions) {}

  async start(): Promise<void> {
    if (this.running)
      throw new FairwayError(ClusterCode.state, "the directory source is already started");
    const info = await stat(this.o.directory).catch((err: unknown) => {
      throw new FairwayError(
        ClusterCode.directory,
        `manifest directory ${this.o.directory}: ${errorMessage(err)}`,
        {
          cause: err,
          details: { directory: this.o.directory },
        },
      );
    });
    if (!info.isDirectory()) {
      throw new FairwayError(
        ClusterCode.directory,
        `manifest directory ${this.o.directory} is not a directory`,
        {
          details: { directory: this.o.directory },
        },
      );
    }
    this.running = true;
    this.openWatcher();
    await this.scanNow();
    if (this.o.rescanSeconds > 0) {
      this.rescan = setInterval(() => {
        if (!this.watcher) this.openWatcher();
        void this.scanNow();
      }, this.o.rescanSeconds * 1000);
    }
    this.o.log.info(
      { directory: this.o.directory, rescanSeconds: this.o.rescanSeconds },
      "watching manifest directory",
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.debounce);
    clearInterval(this.rescan);
    this.debounce = undefined;
    this.rescan = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.scanning;
  }

  /** Scans now (and once more if a change came in meanwhile); resolves when done. */
  scanNow(): Promise<void> {
    if (this.scanning) {
      this.dirty = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      try {
        do {
          this.dirty = false;
          await this.scanOnce();
        } while (this.dirty && this.running);
      } finally {
        this.scanning = undefined;
      }
    })();
    return this.scanning;
  }

  /** Current problems: bad files (with document index), duplicates, an unreadable directory. */
  problems(): ManifestProblem[] {
    const out = [...this.files.values()].flatMap((f) => f.problems).concat(this.conflicts);
    if (this.dirProblem) out.push({ file: this.o.directory, message: this.dirProblem });
    return out;
  }

  status(): SourceStatus {
    return {
      source: this.name,
      running: this.running,
      kinds: this.o.store.kinds.map((kind) => ({
        kind,
        synced: this.o.store.isSynced(kind),
        lists: this.scans,
        watches: 0,
        gone: 0,
        errors: this.errors,
      })),
      problems: this.problems().map(formatProblem),
    };
  }

  private openWatcher(): void {
    if (this.o.fsWatch === false) return;
    try {
      const w = watch(this.o.directory, { persistent: false }, () => this.changed());
      w.on("error", (err) => {
        this.o.log.warn(
          { directory: this.o.directory, err: errorMessage(err) },
          "fs.watch failed; relying on rescans",
        );
        w.close();
        if (this.watcher === w) this.watcher = undefined;
      });
      this.watcher = w;
    } catch (err) {
      this.o.log.warn(
        { directory: this.o.directory, err: errorMessage(err) },
        "fs.watch unavailable; relying on rescans",
      );
    }
  }

  private changed(): void {
    if (!this.running) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.scanNow();
    }, this.o.debounceMs ?? 100);
  }

  private async scanOnce(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.o.directory))
        .filter((n) => MANIFEST_FILE.test(n) && !n.startsWith("."))
        .sort();
    } catch (err) {
      this.errors++;
      const message = `cannot read the directory: ${errorMessage(err)}; keeping the last objects`;
      if (message !== this.dirProblem) this.o.log.warn({ directory: this.o.directory }, message);
      this.dirProblem = message;
      return;
    }
    this.dirProblem = undefined;
    for (const name of [...this.files.keys()]) if (!names.includes(name)) this.files.delete(name);
    for (const name of names) await this.readOne(name);
    if (!this.running) return;
    this.apply();
    this.scans++;
  }

  private async readOne(name: string): Promise<void> {
    let text: string;
    try {
      const path = join(this.o.directory, name);
      if (!(await stat(path)).isFile()) return;
      text = await readFile(path, "utf8");
    } catch (err) {
      // removed between readdir and here: the next scan sees it gone
      if ((err as NodeJS.ErrnoException).code === "ENOENT") this.files.delete(name);
      return;
    }
    const hash = createHash("sha256").update(text).digest("hex");
    const prev = this.files.get(name);
    if (prev?.hash === hash) return;
    const { objects, problems } = parseManifest(name, text);
    if (problems.length === 0) {
      this.files.set(name, { hash, good: objects, problems });
      return;
    }
    const kept = prev?.good ?? [];
    this.files.set(name, { hash, good: kept, problems });
    for (const p of problems) {
      this.o.log.warn(
        {
          file: join(this.o.directory, p.file),
          index: p.index,
          line: p.line,
          keptObjects: kept.length,
        },
        `bad manifest, keeping its last good objects: ${formatProblem(p)}`,
      );
    }
  }

  /** Builds the desired set from every file's good objects and replaces each kind's table. */
  private apply(): void {
    const desired = new Map<KindName, Map<string, ManifestObject & { file: string }>>();
    for (const kind of this.o.store.kinds) desired.set(kind, new Map());
    const conflicts: ManifestProblem[] = [];
    for (const [file, state] of [...this.files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      for (const obj of state.good) {
        const table = desired.get(obj.kind);
        if (!table) {
          conflicts.push({
            file,
            index: obj.index,
            message: `${obj.kind} is not a kind this store holds`,
          });
          continue;
        }
        const first = table.get(obj.key);
        if (first) {
          conflicts.push({
            file,
            index: obj.index,
            message: `${obj.kind} ${obj.key} is also defined in ${first.file} (document ${first.index}), which wins`,
          });
          continue;
        }
        table.set(obj.key, { ...obj, file });
      }
    }
    for (const c of conflicts) {
      if (!this.conflicts.some((old) => formatProblem(old) === formatProblem(c)))
        this.o.log.warn(formatProblem(c));
    }
    this.conflicts = conflicts;
    for (const [kind, table] of desired) {
      this.o.store.replace(
        kind,
        [...table.values()].map((m) => m.object as ObjectOf<typeof kind>),
      );
    }
  }
}
