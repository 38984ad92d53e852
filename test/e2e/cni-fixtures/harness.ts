// Helpers for the CNI/agent e2e tests: temp dirs, building the plugin bundle,
// running the agent process, exec'ing the plugin like a runtime does.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, type TestContext } from "node:test";
import { build } from "esbuild";
import { stringify as toYaml } from "yaml";
import { callAgent, ROUTES } from "../../../src/base/api.ts";
import { Cleanup, repoRoot } from "../../harness/index.ts";

/**
 * Releases for a whole describe() block: registered while the suite runs, run in
 * reverse when it ends, pass or fail. Pass the result where a test context's
 * `after` is expected (tempDir, spawnAgent).
 */
export function suiteHooks(): { after(fn: () => void | Promise<void>): void } {
  const cleanup = new Cleanup();
  after(() => cleanup.run());
  return { after: (fn) => cleanup.defer(fn) };
}

export function tempDir(t: TestContext | { after(fn: () => void): void }, tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `fwt-${tag}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Bundle {
  path: string;
  bytes: number;
  /** source files bundled in (relative to the repo) */
  inputs: string[];
}

/** Bundles src/cni/main.ts (+ src/base/cni/) the way scripts/build.mjs does. */
export async function buildPluginBundle(outDir: string): Promise<Bundle> {
  const path = join(outDir, "fairway-cni.js");
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: ["src/cni/main.ts"],
    outfile: path,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: false,
    legalComments: "none",
    external: ["*.node"],
    metafile: true,
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __fwCreateRequire } from 'node:module'; const require = __fwCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  const output = Object.values(result.metafile.outputs)[0]!;
  return { path, bytes: output.bytes, inputs: Object.keys(result.metafile.inputs) };
}

/** Compiles the CNI front end (native/cni/fairway-cni.c) the way scripts/bootstrap.sh does. */
export function buildFrontEnd(outDir: string): string {
  const out = join(outDir, "fairway-cni-front-end");
  execFileSync("gcc", [
    "-std=c11",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-o",
    out,
    join(repoRoot, "native/cni/fairway-cni.c"),
  ]);
  return out;
}

export interface AgentDirs {
  root: string;
  runDir: string;
  confDir: string;
  binDir: string;
  socket: string;
  configFile: string;
}

export function agentDirs(root: string): AgentDirs {
  const runDir = join(root, "run");
  return {
    root,
    runDir,
    confDir: join(root, "net.d"),
    binDir: join(root, "bin"),
    socket: join(runDir, "agent.sock"),
    configFile: join(root, "agent.yaml"),
  };
}

/** The agent settings for a temp tree; `extra` is merged on top (its `cni` into `cni`). */
export function writeAgentConfig(
  dirs: AgentDirs,
  bundle: string,
  { cni, ...extra }: Record<string, unknown> = {},
): void {
  mkdirSync(join(dirs.root, "manifests"), { recursive: true });
  const config = {
    nodeName: "node-a",
    runDir: dirs.runDir,
    stateDir: join(dirs.root, "state"),
    log: { level: "debug" },
    ipam: { podCIDRs: ["10.244.1.0/29"] },
    cluster: { source: "directory", directory: join(dirs.root, "manifests") },
    cni: {
      confDir: dirs.confDir,
      binDir: dirs.binDir,
      pluginBundle: bundle,
      ...(cni as Record<string, unknown> | undefined),
    },
    ...extra,
  };
  writeFileSync(dirs.configFile, toYaml(config));
}

export const AGENT_ENTRIES = {
  /** the production entry point, with the modules the product has today */
  product: "src/agent/main.ts",
  /** the same agent with the test double as its "endpoint" module */
  withTestBackend: "test/e2e/cni-fixtures/agent-with-test-backend.ts",
} as const;

export class AgentProcess {
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly proc: ChildProcess,
    readonly socket: string,
  ) {
    proc.stdout!.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      proc.on("exit", (code, signal) => resolve({ code, signal })),
    );
  }

  /** Resolves when the agent has started every module (its "agent running" log line). */
  async running(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      () => this.stderr.includes('"msg":"agent running"'),
      timeoutMs,
      () => `agent did not start:\n${this.stderr}`,
    );
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async stop(
    signal: NodeJS.Signals = "SIGTERM",
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.proc.kill(signal);
    return this.exited;
  }
}

/** Starts an agent process; it is killed when the test ends if still running. */
export function spawnAgent(
  t: { after(fn: () => Promise<void> | void): void },
  entry: string,
  args: string[],
  socket: string,
  env: NodeJS.ProcessEnv = {},
): AgentProcess {
  const proc = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const agent = new AgentProcess(proc, socket);
  t.after(async () => {
    if (agent.alive) {
      proc.kill("SIGKILL");
      await agent.exited;
    }
  });
  return agent;
}

export interface PluginRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** stdout parsed as JSON, when it is JSON */
  json: Record<string, unknown> | undefined;
}

export interface CniEnvVars {
  CNI_COMMAND: string;
  CNI_CONTAINERID?: string;
  CNI_NETNS?: string;
  CNI_IFNAME?: string;
  CNI_ARGS?: string;
  CNI_PATH?: string;
}

/** Execs the plugin the way a runtime does: CNI_* env, config on stdin, result on stdout. */
export function execPlugin(plugin: string, env: CniEnvVars, stdin: unknown): Promise<PluginRun> {
  const t0 = performance.now();
  const proc = spawn(
    plugin.endsWith(".js") ? process.execPath : plugin,
    plugin.endsWith(".js") ? [plugin] : [],
    {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // A plugin may exit without reading stdin (VERSION; the C front end does in ~1 ms): not an error.
  proc.stdin.on("error", () => {});
  proc.stdin.end(typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  return new Promise((resolve) => {
    proc.on("close", (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, ms: performance.now() - t0, json });
    });
  });
}

export async function agentGet(
  socket: string,
  path: string,
): Promise<{ status: number; body: unknown }> {
  return callAgent({
    socketPath: socket,
    method: "GET",
    path,
    connectTimeoutMs: 1000,
    timeoutMs: 5000,
  });
}

export { ROUTES };

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 25));
  }
}
