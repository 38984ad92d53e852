// What the lab's kubelet knows about a pod that the API object does not:
// <stateDir>/pods/<namespace>_<name>/record.json, written before each step it
// records (so a crash leaves it findable), plus each container's log and exit
// status files beside it.
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

export interface ContainerRecord {
  name: string;
  argv: string[];
  logFile: string;
  statusFile: string;
  pid?: number;
}

export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  /** the CNI container id (the sandbox's) */
  containerId: string;
  netns: string;
  /** relative to the cgroup v2 mount */
  cgroup: string;
  createdAt: string;
  /** the ADD result, kept for DEL and CHECK (prevResult) */
  cniResult?: unknown;
  ip?: string;
  containers: ContainerRecord[];
}

export function podDir(podsDir: string, namespace: string, name: string): string {
  return join(podsDir, `${namespace}_${name}`);
}

export function writeRecord(podsDir: string, rec: PodRecord): void {
  const dir = podDir(podsDir, rec.namespace, rec.name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "record.json");
  writeFileSync(`${file}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readRecord(
  podsDir: string,
  namespace: string,
  name: string,
): PodRecord | undefined {
  const file = join(podDir(podsDir, namespace, name), "record.json");
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as PodRecord;
  } catch {
    return undefined;
  }
}

export function listRecords(podsDir: string): PodRecord[] {
  if (!existsSync(podsDir)) return [];
  return readdirSync(podsDir)
    .map((d) => {
      const [ns, ...rest] = d.split("_");
      return readRecord(podsDir, ns!, rest.join("_"));
    })
    .filter((r): r is PodRecord => r !== undefined);
}

export function removeRecord(podsDir: string, namespace: string, name: string): void {
  rmSync(podDir(podsDir, namespace, name), { recursive: true, force: true });
}
