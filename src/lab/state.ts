// The lab's record of what it created, written as it goes (temp + rename), so
// that `down` can undo a crashed or interrupted `up`.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FairwayError } from "../base/errors.ts";

export interface NodeRecord {
  name: string;
  netns: string;
  vpcIp: string;
  podCIDR: string;
  socket: string;
  configFile: string;
  logFile: string;
  pid?: number;
}

export interface LabState {
  version: 1;
  prefix: string;
  stateDir: string;
  pinRoot: string;
  phase: "creating" | "up" | "failed";
  startedAt: string;
  /** namespaces recorded before they are created */
  namespaces: string[];
  nodes: NodeRecord[];
  /** the cgroup v2 mount the lab's cgroups are under */
  cgroupMount?: string;
  /** the HTTP server on the router's "outside" address */
  outsidePid?: number;
}

export const STATE_FILE = "lab.json";

export function stateFileOf(stateDir: string): string {
  return join(stateDir, STATE_FILE);
}

export function writeState(state: LabState): void {
  const file = stateFileOf(state.stateDir);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The recorded state; E_LAB_NONE when there is no lab in stateDir. */
export function requireState(stateDir: string): LabState {
  const state = readState(stateDir);
  if (!state) {
    throw new FairwayError(
      "E_LAB_NONE",
      `no lab in ${stateDir}: create one with fairway lab up${stateDir === "/var/lib/fairway-lab" ? "" : ` --state-dir ${stateDir}`}`,
    );
  }
  return state;
}

/** The recorded state, or undefined when there is no lab in stateDir. */
export function readState(stateDir: string): LabState | undefined {
  const file = stateFileOf(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LabState;
  } catch (err) {
    throw new FairwayError("E_LAB_STATE", `cannot read lab state ${file}`, { cause: err });
  }
}
