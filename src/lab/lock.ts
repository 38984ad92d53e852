// One mutating lab command at a time (apply, delete, up, check, restart):
// <stateDir>/lab.lock holds the owner's pid and command. A lock whose owner
// died is taken over. `down` takes no lock: it is the way out of anything.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { FairwayError } from "../base/errors.ts";

export const LOCK_FILE = "lab.lock";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function owner(file: string): { pid: number; what: string } | undefined {
  try {
    const [pid, what] = readFileSync(file, "utf8").split("\n");
    return { pid: Number(pid), what: what ?? "?" };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryTake(file: string, what: string): boolean {
  try {
    const fd = openSync(file, "wx", 0o600);
    writeSync(fd, `${process.pid}\n${what}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const o = owner(file);
    if (o && Number.isInteger(o.pid) && o.pid > 0 && alive(o.pid)) return false;
    rmSync(file, { force: true }); // the owner is gone: take over
    return false;
  }
}

/** Runs fn holding the lab lock; waits up to waitMs for another command to finish. */
export async function withLabLock<T>(
  stateDir: string,
  what: string,
  fn: () => Promise<T>,
  waitMs = 60_000,
): Promise<T> {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  while (!tryTake(file, what)) {
    if (Date.now() > deadline) {
      const o = owner(file);
      throw new FairwayError(
        "E_LAB_BUSY",
        `another lab command is running (pid ${o?.pid ?? "?"}: ${o?.what ?? "?"}); try again when it is done`,
      );
    }
    await sleep(50);
  }
  try {
    return await fn();
  } finally {
    if (owner(file)?.pid === process.pid) rmSync(file, { force: true });
  }
}
