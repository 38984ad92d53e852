// The lab's objects on disk: one YAML file per object in <stateDir>/manifests,
// the directory every node's agent watches (cluster source "directory"). A file
// is written to a dot-file and renamed over the old one, so an agent never
// reads half an object (the directory source skips dot-files).
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { FairwayError } from "../../base/errors.ts";
import { keyOf, type LabObject, type Pod, type Service } from "./types.ts";

export type PutResult = "created" | "configured" | "unchanged";

export function fileNameOf(o: LabObject): string {
  const ns = o.metadata.namespace;
  const kind = o.kind.toLowerCase();
  return ns === undefined
    ? `${kind}_${o.metadata.name}.yaml`
    : `${kind}_${ns}_${o.metadata.name}.yaml`;
}

/** Key order at every level sorted: the same content compares equal however it was written. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export class ObjectStore {
  private readonly objects = new Map<string, LabObject>();

  private constructor(readonly dir: string) {}

  /** Reads every object file of the directory. */
  static load(dir: string): ObjectStore {
    const store = new ObjectStore(dir);
    if (!existsSync(dir)) return store;
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith(".") || !name.endsWith(".yaml")) continue;
      let o: LabObject;
      try {
        o = parseYaml(readFileSync(join(dir, name), "utf8")) as LabObject;
      } catch (err) {
        throw new FairwayError("E_LAB_STATE", `cannot read lab object ${join(dir, name)}`, {
          cause: err,
        });
      }
      if (o?.kind && o.metadata?.name) store.objects.set(keyOf(o), o);
    }
    return store;
  }

  /** A copy: change it and put() it back. */
  get(kind: string, namespace: string | undefined, name: string): LabObject | undefined {
    return this.getRef(
      keyOf({ kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) } }),
    );
  }

  private getRef(key: string): LabObject | undefined {
    const o = this.objects.get(key);
    return o === undefined ? undefined : structuredClone(o);
  }

  /** Copies, in name order. */
  list(kind: string, namespace?: string): LabObject[] {
    return [...this.objects.values()]
      .filter(
        (o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace),
      )
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)))
      .map((o) => structuredClone(o));
  }

  pods(namespace?: string): Pod[] {
    return this.list("Pod", namespace) as Pod[];
  }

  services(namespace?: string): Service[] {
    return this.list("Service", namespace) as Service[];
  }

  /** Writes the object (uid and creationTimestamp kept or made); says what changed. */
  put(o: LabObject): PutResult {
    const key = keyOf(o);
    const old = this.objects.get(key);
    o.metadata.uid ??= old?.metadata.uid ?? randomUUID();
    o.metadata.creationTimestamp ??= old?.metadata.creationTimestamp ?? new Date().toISOString();
    if (old && canonical(old) === canonical(o)) return "unchanged";
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, fileNameOf(o));
    const tmp = join(this.dir, `.${fileNameOf(o)}.tmp`);
    writeFileSync(tmp, toYaml(o));
    renameSync(tmp, file);
    this.objects.set(key, structuredClone(o));
    return old ? "configured" : "created";
  }

  remove(o: { kind: string; metadata: { name: string; namespace?: string } }): boolean {
    const key = keyOf(o);
    const old = this.objects.get(key);
    if (!old) return false;
    rmSync(join(this.dir, fileNameOf(old)), { force: true });
    this.objects.delete(key);
    return true;
  }
}
