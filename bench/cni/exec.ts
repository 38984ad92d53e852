// Execs a CNI plugin exactly as a runtime does: a new process per operation,
// CNI_* variables in its environment, the network configuration on stdin, the
// result (or error) on stdout. The time measured is spawn to exit: process
// start-up included, because that is what a pod waits for.

import { spawn } from "node:child_process";

export interface CniEnv {
  CNI_COMMAND: "ADD" | "DEL" | "CHECK" | "VERSION";
  CNI_CONTAINERID?: string;
  CNI_NETNS?: string;
  CNI_IFNAME?: string;
  CNI_ARGS?: string;
  CNI_PATH: string;
}

export interface CniRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as JSON, when it is JSON */
  json: Record<string, unknown> | undefined;
}

/** Runs `plugin` (an executable path) once. Never rejects: failures are in `code`. */
export function execCni(plugin: string, env: CniEnv, stdin: unknown): Promise<CniRun> {
  const t0 = performance.now();
  const proc = spawn(plugin, [], {
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  proc.stdin.on("error", () => {
    // a plugin that exits without reading stdin (VERSION) closes the pipe early
  });
  proc.stdin.end(JSON.stringify(stdin));
  return new Promise((resolve) => {
    proc.on("error", (err) => {
      resolve({
        ms: performance.now() - t0,
        code: -1,
        stdout,
        stderr: String(err),
        json: undefined,
      });
    });
    proc.on("close", (code) => {
      const ms = performance.now() - t0;
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ ms, code, stdout, stderr, json });
    });
  });
}

/** A failed run as an Error naming the command, exit code and output. */
export function runError(what: string, run: CniRun): Error {
  return new Error(
    `${what} failed (exit ${run.code}, ${run.ms.toFixed(0)} ms): ${run.stdout.trim() || run.stderr.trim()}`,
  );
}
