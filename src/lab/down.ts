// `lab down`: stops the agents, deletes the namespaces (and with them every
// link and route inside), the pins and the state dir. Only what the lab made:
// what its state file records, plus what carries its fixed name prefix.
// Idempotent: a second run, or a run after a crashed `up`, finds less to do.
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { deleteNetns, listNetns } from "../datapath/net/index.ts";
import { findLabAgents, stopProcesses } from "./agents.ts";
import { DEFAULT_PREFIX, pinRootFor, validateOptions } from "./plan.ts";
import { readState, STATE_FILE } from "./state.ts";

const LAB_ENTRIES = [STATE_FILE, `${STATE_FILE}.tmp`, "nodes", "manifests"];

export interface DownOptions {
  stateDir: string;
  /** used when no state file survives; the recorded prefix wins otherwise */
  prefix?: string;
  graceMs?: number;
}

export interface DownResult {
  processes: number;
  namespaces: string[];
  pins: boolean;
  stateDir: boolean;
}

/** The namespace names a lab with this prefix creates. */
export function isLabNetns(prefix: string, name: string): boolean {
  return (
    name === `${prefix}-vpc` ||
    name === `${prefix}-router` ||
    new RegExp(`^${prefix}-node-\\d+$`).test(name)
  );
}

export async function labDown(options: DownOptions): Promise<DownResult> {
  const state = readState(options.stateDir);
  const prefix = state?.prefix ?? options.prefix ?? DEFAULT_PREFIX;
  // The prefix becomes part of a pattern and a path: refuse anything odd, even from the state file.
  validateOptions({ nodes: 1, prefix, stateDir: options.stateDir });
  // By command line, not by recorded pid alone: a recorded pid may since belong to
  // another process, and an `up` killed right after a spawn may not have recorded it.
  const pids = findLabAgents(options.stateDir);
  await stopProcesses(pids, options.graceMs ?? 10_000);

  const namespaces = [
    ...new Set([...(state?.namespaces ?? []), ...listNetns().filter((n) => isLabNetns(prefix, n))]),
  ].filter((n) => isLabNetns(prefix, n));
  for (const ns of namespaces) await deleteNetns(ns, { ifExists: true });

  const pinRoot = pinRootFor(prefix);
  const pins = existsSync(pinRoot);
  rmSync(pinRoot, { recursive: true, force: true });
  return { processes: pids.length, namespaces, pins, stateDir: removeStateDir(options.stateDir) };
}

/** Removes only the entries the lab writes, then the dir if that left it empty. */
function removeStateDir(dir: string): boolean {
  if (!existsSync(dir)) return false;
  for (const entry of LAB_ENTRIES) rmSync(join(dir, entry), { recursive: true, force: true });
  if (readdirSync(dir).length === 0) rmdirSync(dir);
  return true;
}
