// Shared by the ipam-*.test.ts files: temp state dirs, a started IPAM module,
// and child processes running test/unit/ipam-worker.ts against the same file.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../src/base/log.ts";
import { IpamService, type IpamServiceOptions, ipamModule } from "../../src/ipam/index.ts";

export function tempStateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "fairway-ipam-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Creates and starts the IPAM module the way the agent does; stopped when the test ends. */
export async function startIpam(
  t: TestContext,
  podCIDRs: string[],
  stateDir: string = tempStateDir(t),
  options: IpamServiceOptions = {},
): Promise<IpamService> {
  const config = ipamModule.config({ ipam: { podCIDRs, stateDir } });
  // The module's create() when there is nothing to inject, as the agent does.
  const service = options.now
    ? new IpamService(config, silentLogger(), options)
    : ipamModule.create({ config, log: silentLogger(), deps: {} });
  await service.start();
  t.after(() => service.stop());
  return service;
}

export interface WorkerSpec {
  stateDir: string;
  podCIDRs: string[];
  /** batch: `count` owners then exit; loop: allocate until killed. */
  mode: "batch" | "loop";
  prefix: string;
  count?: number;
  /** Same owner for every request (idempotency across processes). */
  sameOwner?: boolean;
}

export type WorkerLine =
  | { ready: true }
  | { ok: true; containerId: string; ips: string[] }
  | { ok: false; containerId: string; code: string; message: string };

const workerPath = join(dirname(fileURLToPath(import.meta.url)), "ipam-worker.ts");

export interface Worker {
  child: ChildProcess;
  /** Resolves with the next JSON line the worker prints. */
  next(): Promise<WorkerLine>;
  /** Resolves with every line printed until the worker exits, and its exit status. */
  done(): Promise<{ lines: WorkerLine[]; code: number | null; signal: NodeJS.Signals | null }>;
  go(): void;
}

export function spawnWorker(t: TestContext, spec: WorkerSpec): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", workerPath, JSON.stringify(spec)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: WorkerLine[] = [];
  const waiters: ((l: WorkerLine) => void)[] = [];
  let consumed = 0;
  let buffer = "";
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  child.stdout!.on("data", (d) => {
    buffer += d;
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = JSON.parse(buffer.slice(0, nl)) as WorkerLine;
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      const w = waiters.shift();
      if (w) {
        consumed += 1;
        w(line);
      }
      nl = buffer.indexOf("\n");
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    next() {
      if (consumed < lines.length) return Promise.resolve(lines[consumed++]!);
      return new Promise((resolve, reject) => {
        waiters.push(resolve);
        exited.then(({ code, signal }) =>
          reject(new Error(`worker exited (${code ?? signal}) before the next line: ${stderr}`)),
        );
      });
    },
    async done() {
      const status = await exited;
      if (status.code !== 0 && status.signal === null) {
        throw new Error(`worker failed with exit ${status.code}: ${stderr}`);
      }
      return { lines, ...status };
    },
    go() {
      child.stdin!.end("go\n");
    },
  };
}
