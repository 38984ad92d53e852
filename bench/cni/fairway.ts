// Fairway under benchmark: a fairway-agent process (the product's module list,
// with its real "endpoint" backend) on a temp tree, and the plugin it installs
// into its bin dir (the C front end when built, else the JS bundle through its
// shebang), exec'd as a runtime does. Everything
// lives in temp dirs and a unique bpffs dir, removed on close together with any
// host veth of this agent's prefix that is still there.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { stringify as toYaml } from "yaml";
import { repoRoot } from "../lib/report.ts";
import { benchName } from "./netns.ts";
import type { BenchNetwork, Conflist } from "./plugin.ts";

const CONFLIST = "05-fairway.conflist";

export interface FairwayOptions {
  podCIDR: string;
  /** agent log level; "info" is the product default (one line per CNI op) */
  logLevel?: string;
}

export interface FairwayNetwork extends BenchNetwork {
  readonly agentPid: number;
  /** the agent's stderr so far (pino JSON lines) */
  agentLog(): string;
  /**
   * The same agent, driven through the JS plugin it installed beside the C
   * front end (<binDir>/fairway-cni.mjs, node start-up per operation). Its
   * close() is a no-op: the agent belongs to this network.
   */
  jsPlugin(): BenchNetwork;
}

export const FAIRWAY_JS_LABEL = "fairway (JS plugin)";

/** Bundles src/cni/main.ts the way scripts/build.mjs does, into `dir`. */
async function bundlePlugin(dir: string): Promise<string> {
  const out = join(dir, "fairway-cni.js");
  await build({
    absWorkingDir: repoRoot,
    entryPoints: ["src/cni/main.ts"],
    outfile: out,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    legalComments: "none",
    external: ["*.node"],
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __fwCreateRequire } from 'node:module'; const require = __fwCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  return out;
}

function waitForLine(
  proc: ChildProcess,
  log: () => string,
  text: string,
  ms: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (log().includes(text)) done();
      else if (proc.exitCode !== null || proc.signalCode !== null) done(new Error("agent exited"));
    }, 20);
    const deadline = setTimeout(() => done(new Error(`no "${text}" within ${ms} ms`)), ms);
    function done(err?: Error): void {
      clearInterval(timer);
      clearTimeout(deadline);
      if (err) reject(new Error(`fairway-agent did not start: ${err.message}\n${log()}`));
      else resolve();
    }
  });
}

export async function fairwayNetwork(options: FairwayOptions): Promise<FairwayNetwork> {
  const root = mkdtempSync(join(tmpdir(), "fwb-agent-"));
  const pinDir = join("/sys/fs/bpf", benchName("pin"));
  const hostIfPrefix = benchName("")
    .slice(0, 7)
    .replace(/[^a-z0-9]/g, "x");
  const dirs = {
    confDir: join(root, "net.d"),
    binDir: join(root, "bin"),
    runDir: join(root, "run"),
    stateDir: join(root, "state"),
    manifests: join(root, "manifests"),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  let proc: ChildProcess | undefined;
  const cleanup = async (): Promise<void> => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc!.once("exit", r));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc!.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    deleteLinksWithPrefix(hostIfPrefix);
    rmSync(pinDir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const bundle = await bundlePlugin(root);
    const configFile = join(root, "agent.yaml");
    writeFileSync(
      configFile,
      toYaml({
        nodeName: "bench-node",
        stateDir: dirs.stateDir,
        runDir: dirs.runDir,
        bpffsRoot: pinDir,
        log: { level: options.logLevel ?? "info" },
        datapath: { mode: "veth", hostIfPrefix },
        ipam: { podCIDRs: [options.podCIDR] },
        cluster: { source: "directory", directory: dirs.manifests },
        cni: { confDir: dirs.confDir, binDir: dirs.binDir, pluginBundle: bundle },
      }),
    );
    let log = "";
    proc = spawn(
      process.execPath,
      ["--import", "tsx", "src/agent/main.ts", "--config", configFile],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    proc.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
    });
    await waitForLine(proc, () => log, '"msg":"agent running"', 30_000);
    const conflist = JSON.parse(readFileSync(join(dirs.confDir, CONFLIST), "utf8")) as Conflist;
    const pid = proc.pid!;
    let consumed = log.length;
    const serverTimes = () => {
      const fresh = log.slice(consumed, log.lastIndexOf("\n") + 1);
      consumed += fresh.length;
      return agentOpTimes(fresh);
    };
    const plugin = join(dirs.binDir, conflist.plugins[0]!.type as string);
    return {
      label: "fairway",
      conflist,
      plugin,
      cniPath: dirs.binDir,
      agentPid: pid,
      agentLog: () => log,
      serverTimes,
      close: cleanup,
      jsPlugin: () => ({
        label: FAIRWAY_JS_LABEL,
        conflist,
        plugin: `${plugin}.mjs`,
        cniPath: dirs.binDir,
        serverTimes,
        async close() {},
      }),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Deletes root-namespace links named <prefix>...: host veths this agent made and left. */
export function deleteLinksWithPrefix(prefix: string): string[] {
  const out = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
  const names = out
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
  for (const name of names) {
    try {
      execFileSync("ip", ["link", "del", name], { stdio: "ignore" });
    } catch {
      // gone meanwhile
    }
  }
  return names;
}

/** The backend time of each CNI ADD / DEL the agent logged in `text` (pino JSON lines). */
export function agentOpTimes(text: string): { add: number[]; del: number[] } {
  const out = { add: [] as number[], del: [] as number[] };
  for (const line of text.split("\n")) {
    if (!line.includes('"msg":"CNI ')) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; ms?: number };
      if (typeof rec.ms !== "number") continue;
      if (rec.msg === "CNI ADD") out.add.push(rec.ms);
      else if (rec.msg === "CNI DEL") out.del.push(rec.ms);
    } catch {
      // not a log record
    }
  }
  return out;
}
