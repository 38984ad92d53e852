// A one-node lab for the agent e2e tests: the real fairway-agent
// (src/agent/main.ts, endpoint module and all) running inside a throw-away
// node namespace, pins in a throw-away bpffs directory, state in a temp dir;
// pods are namespaces the test creates; the real plugin bundle is exec'd with
// CNI env + stdin exactly as a runtime does. Everything is released when the
// test ends, pass or fail.

import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { stringify as toYaml } from "yaml";
import {
  type Cleanup,
  cleanupFor,
  repoRoot,
  run,
  tempNetns,
  tempPinDir,
} from "../harness/index.ts";
import {
  type AgentDirs,
  AgentProcess,
  agentDirs,
  agentGet,
  buildPluginBundle,
  execPlugin,
  type PluginRun,
  tempDir,
} from "./cni-fixtures/harness.ts";

export const NETWORK = "fairway";
export const HOST_PREFIX = "fwtap";

export interface Pod {
  id: string;
  name: string;
  path: string;
}

export interface Lab {
  c: Cleanup;
  node: { name: string; path: string };
  dirs: AgentDirs;
  stateDb: string;
  pinRoot: string;
  plugin: string;
  agent: AgentProcess;
  /** starts a (new) agent process in the node namespace and waits until it runs */
  startAgent(): Promise<AgentProcess>;
  pod(tag: string): Pod;
  cni(
    command: "ADD" | "DEL" | "CHECK",
    pod: Pod,
    extra?: Record<string, unknown>,
  ): Promise<PluginRun>;
  endpoints(): Promise<{ id: string; containerId: string; state: string; ips: string[] }[]>;
  leftovers(): Leftovers;
}

export interface Leftovers {
  links: string[];
  entries: number;
  rows: number;
  allocations: number;
}

/** Builds the lab; the agent is started. */
export async function makeLab(t: TestContext, podCIDR: string): Promise<Lab> {
  const c = cleanupFor(t);
  const root = tempDir({ after: (fn: () => void) => c.defer(fn) }, "agent-pods");
  const dirs = agentDirs(root);
  const node = tempNetns(c, "nd");
  const bpffsRoot = tempPinDir(c, "ap");
  const bundle = await buildPluginBundle(root);
  mkdirSync(join(root, "manifests"), { recursive: true });
  writeFileSync(
    dirs.configFile,
    toYaml({
      nodeName: "node-a",
      runDir: dirs.runDir,
      stateDir: join(root, "state"),
      bpffsRoot,
      log: { level: "debug" },
      datapath: { mode: "veth", hostIfPrefix: HOST_PREFIX },
      ipam: { podCIDRs: [podCIDR] },
      cluster: { source: "directory", directory: join(root, "manifests") },
      cni: { confDir: dirs.confDir, binDir: dirs.binDir, pluginBundle: bundle.path },
    }),
  );
  const conf = {
    cniVersion: "1.1.0",
    name: NETWORK,
    type: "fairway-cni",
    agentSocket: dirs.socket,
  };
  const lab: Lab = {
    c,
    node,
    dirs,
    stateDb: join(root, "state", "fairway.db"),
    pinRoot: join(bpffsRoot, "node-a"),
    plugin: bundle.path,
    agent: undefined as unknown as AgentProcess,
    async startAgent() {
      const agent = spawnAgentIn(c, node.path, dirs);
      lab.agent = agent;
      await agent.running(60_000);
      return agent;
    },
    pod(tag) {
      const ns = tempNetns(c, tag);
      return { id: `ctr-${ns.name}`, ...ns };
    },
    cni(command, pod, extra = {}) {
      return execPlugin(
        lab.plugin,
        {
          CNI_COMMAND: command,
          CNI_CONTAINERID: pod.id,
          CNI_NETNS: pod.path,
          CNI_IFNAME: "eth0",
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name}`,
          CNI_PATH: dirs.binDir,
        },
        { ...conf, ...extra },
      );
    },
    async endpoints() {
      const r = await agentGet(dirs.socket, "/v1/endpoints");
      if (r.status !== 200)
        throw new Error(`GET /v1/endpoints: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as { id: string; containerId: string; state: string; ips: string[] }[];
    },
    leftovers() {
      const links = run("ip", ["-n", node.name, "-o", "link", "show"])
        .split("\n")
        .map((l) => l.split(":")[1]?.trim().split("@")[0])
        .filter((n): n is string => !!n && n.startsWith(HOST_PREFIX));
      const entries = (
        JSON.parse(
          run("bpftool", ["-j", "map", "dump", "pinned", join(lab.pinRoot, "fw_endpoints")]),
        ) as unknown[]
      ).length;
      const count = (table: string) =>
        Number(run("sqlite3", [lab.stateDb, `select count(*) from ${table}`]).trim());
      return { links, entries, rows: count("endpoints"), allocations: count("ipam_allocations") };
    },
  };
  await lab.startAgent();
  return lab;
}

/**
 * The agent, inside the node namespace. nsenter switches the network namespace
 * only (`ip netns exec` would also remount /sys and hide bpffs), then execs
 * node: the child's pid is the agent's, so kill -9 hits the agent itself.
 */
function spawnAgentIn(c: Cleanup, netns: string, dirs: AgentDirs): AgentProcess {
  const proc = spawn(
    "nsenter",
    [
      `--net=${netns}`,
      process.execPath,
      "--import",
      "tsx",
      "src/agent/main.ts",
      "--config",
      dirs.configFile,
    ],
    { cwd: repoRoot, env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const agent = new AgentProcess(proc, dirs.socket);
  c.defer(async () => {
    if (agent.alive) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await agent.exited;
      clearTimeout(timer);
    }
  });
  return agent;
}

/** The agent's own ADD timings, from its "CNI ADD" log lines (ms inside the agent). */
export function agentAddMs(stderr: string): number[] {
  return stderr
    .split("\n")
    .filter((l) => l.includes('"msg":"CNI ADD"'))
    .map((l) => (JSON.parse(l) as { ms: number }).ms);
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const addressOf = (r: PluginRun): string =>
  ((r.json?.ips as { address: string }[] | undefined)?.[0]?.address ?? "").split("/")[0]!;
