// The lab's cgroup v2 sub-tree: <mount>/<lab>/<node>/<pod>. Each node's agent
// attaches its socket LB at <lab>/<node> (its cgroupRoot), and every pod
// process starts in a child cgroup of it, so a pod's connect() to a ClusterIP
// is translated by its own node's agent and nobody else's. The cgroup is also
// how the lab finds and stops every process of a pod (or of the whole lab).
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { FairwayError } from "../base/errors.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Where cgroup v2 is mounted: /sys/fs/cgroup on a unified system,
 * /sys/fs/cgroup/unified on a hybrid one, else the first cgroup2 mount.
 */
export function cgroup2Mount(): string {
  for (const dir of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) {
    if (existsSync(join(dir, "cgroup.controllers"))) return dir;
  }
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n");
  const line = mounts.find((l) => l.split(" ")[2] === "cgroup2");
  if (line) return line.split(" ")[1]!;
  throw new FairwayError(
    "E_LAB_CGROUP",
    "cgroup v2 is not mounted (the socket load balancer needs it): run npm run setup, or mount -t cgroup2 none /sys/fs/cgroup/unified",
  );
}

export function ensureCgroup(path: string): void {
  mkdirSync(path, { recursive: true });
}

/** Processes in `path` and every cgroup below it. */
export function cgroupPids(path: string): number[] {
  if (!existsSync(path)) return [];
  const pids: number[] = [];
  const walk = (dir: string): void => {
    try {
      for (const line of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) {
        if (line) pids.push(Number(line));
      }
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
      }
    } catch {
      // removed meanwhile
    }
  };
  walk(path);
  return pids;
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/**
 * Stops every process of the sub-tree: SIGTERM, then after graceMs SIGKILL
 * (cgroup.kill where the kernel has it, 5.14+). Resolves when it is empty;
 * returns how many processes there were.
 */
export async function stopCgroup(path: string, graceMs: number): Promise<number> {
  const first = cgroupPids(path);
  if (first.length === 0) return 0;
  signal(first, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (cgroupPids(path).length > 0 && Date.now() < deadline) await sleep(20);
  for (let i = 0; cgroupPids(path).length > 0; i++) {
    if (existsSync(join(path, "cgroup.kill"))) writeFileSync(join(path, "cgroup.kill"), "1");
    else signal(cgroupPids(path), "SIGKILL");
    if (i > 250) {
      throw new FairwayError(
        "E_LAB_CGROUP",
        `processes in ${path} survive SIGKILL: ${cgroupPids(path).join(", ")}`,
      );
    }
    await sleep(20);
  }
  return first.length;
}

/** Removes the cgroup and every cgroup below it (they must have no processes). */
export function removeCgroupTree(path: string): boolean {
  if (!existsSync(path)) return false;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) removeCgroupTree(join(path, e.name));
  }
  try {
    rmdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new FairwayError(
        "E_LAB_CGROUP",
        `cannot remove cgroup ${path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  return true;
}

/** True when `pid` is alive and in `cgroup` (relative to the mount) or below it: not a reused pid. */
export function pidInCgroup(pid: number, cgroup: string): boolean {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"));
    const path = line?.slice(3) ?? "";
    return path === `/${cgroup}` || path.startsWith(`/${cgroup}/`);
  } catch {
    return false;
  }
}
