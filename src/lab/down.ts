// `lab down`: stops every process in the lab's cgroup (pods, the outside
// server) and the agents, deletes the namespaces (and with them every link and
// route inside), the pins, the cgroups and the state. Only what the lab made:
// what its state file records, plus what carries its fixed names (prefix).
// Idempotent: a second run, or a run after a crashed `up`, finds less to do.
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { deleteNetns, listNetns } from "../datapath/net/index.ts";
import { findLabAgents, stopProcesses } from "./agents.ts";
import { cgroup2Mount, removeCgroupTree, stopCgroup } from "./cgroups.ts";
import { LOCK_FILE } from "./lock.ts";
import { cgroupFor, DEFAULT_PREFIX, isPodNetns, pinRootFor, validateOptions } from "./plan.ts";
import { readState, STATE_FILE } from "./state.ts";

const LAB_ENTRIES = [
  STATE_FILE,
  `${STATE_FILE}.tmp`,
  LOCK_FILE,
  "nodes",
  "manifests",
  "pods",
  "router",
  "bin",
];

export interface DownOptions {
  stateDir: string;
  /** used when no state file survives; the recorded prefix wins otherwise */
  prefix?: string;
  graceMs?: number;
}

export interface DownResult {
  /** agents stopped */
  processes: number;
  /** pod (and outside server) processes stopped */
  podProcesses: number;
  namespaces: string[];
  pins: boolean;
  cgroups: boolean;
  stateDir: boolean;
}

/** The namespaces a lab with this prefix creates (nodes, VPC, router, pods). */
export function isLabNetns(prefix: string, name: string): boolean {
  return (
    name === `${prefix}-vpc` ||
    name === `${prefix}-router` ||
    new RegExp(`^${prefix}-node-\\d+$`).test(name) ||
    isPodNetns(prefix, name)
  );
}

function mountOrUndefined(recorded: string | undefined): string | undefined {
  if (recorded) return recorded;
  try {
    return cgroup2Mount();
  } catch {
    return undefined;
  }
}

export async function labDown(options: DownOptions): Promise<DownResult> {
  const state = readState(options.stateDir);
  const prefix = state?.prefix ?? options.prefix ?? DEFAULT_PREFIX;
  // The prefix becomes part of a pattern and a path: refuse anything odd, even from the state file.
  validateOptions({ nodes: 1, prefix, stateDir: options.stateDir });
  const grace = options.graceMs ?? 10_000;
  const mount = mountOrUndefined(state?.cgroupMount);
  const cgroup = mount === undefined ? undefined : join(mount, cgroupFor(prefix));
  // Pods first: by cgroup, which holds every process a pod or `lab exec` started.
  const podProcesses = cgroup ? await stopCgroup(cgroup, Math.min(grace, 2000)) : 0;
  // By command line, not by recorded pid alone: a recorded pid may since belong to
  // another process, and an `up` killed right after a spawn may not have recorded it.
  const pids = findLabAgents(options.stateDir);
  await stopProcesses(pids, grace);

  const namespaces = [
    ...new Set([...(state?.namespaces ?? []), ...listNetns().filter((n) => isLabNetns(prefix, n))]),
  ].filter((n) => isLabNetns(prefix, n));
  for (const ns of namespaces) await deleteNetns(ns, { ifExists: true });

  const pinRoot = pinRootFor(prefix);
  const pins = existsSync(pinRoot);
  rmSync(pinRoot, { recursive: true, force: true });
  const cgroups = cgroup ? removeCgroupTree(cgroup) : false;
  return {
    processes: pids.length,
    podProcesses,
    namespaces,
    pins,
    cgroups,
    stateDir: removeStateDir(options.stateDir),
  };
}

/** Removes only the entries the lab writes, then the dir if that left it empty. */
function removeStateDir(dir: string): boolean {
  if (!existsSync(dir)) return false;
  for (const entry of LAB_ENTRIES) rmSync(join(dir, entry), { recursive: true, force: true });
  if (readdirSync(dir).length === 0) rmdirSync(dir);
  return true;
}
