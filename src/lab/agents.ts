// One fairway-agent per node, inside the node's namespace. nsenter switches
// the network namespace only (`ip netns exec` would remount /sys and hide
// bpffs) and execs node, so the recorded pid is the agent's own.
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { callAgent } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import { netnsPath } from "../datapath/net/index.ts";
import type { LabPlan, NodePlan } from "./plan.ts";

/** The node's agent config; `cgroupMount` is the cgroup v2 mount the node's cgroup is under. */
export function writeAgentConfig(plan: LabPlan, node: NodePlan, cgroupMount: string): void {
  mkdirSync(join(node.dir, "run"), { recursive: true });
  mkdirSync(plan.manifests, { recursive: true });
  const config = {
    nodeName: node.name,
    stateDir: join(node.dir, "state"),
    runDir: dirname(node.socket),
    bpffsRoot: plan.pinRoot,
    // The socket LB attaches here: this node's pods only (they run in child cgroups).
    cgroupRoot: join(cgroupMount, node.cgroup),
    datapath: { mode: "veth", uplink: node.uplink },
    // NodePorts open on the node's VPC address.
    service: { nodeAddresses: [node.vpcIp] },
    ipam: { podCIDRs: [node.podCIDR] },
    cluster: { source: "directory", directory: plan.manifests },
    cni: { confDir: node.cniConfDir, binDir: node.cniBinDir },
  };
  writeFileSync(node.configFile, toYaml(config));
}

/** How to run the agent: the bundle beside this one, or the source tree through tsx. */
export function agentCommand(): { argv: string[]; cwd: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  if (import.meta.url.endsWith(".ts")) {
    const root = join(here, "../..");
    return {
      argv: [process.execPath, "--import", "tsx", join(root, "src/agent/main.ts")],
      cwd: root,
    };
  }
  return { argv: [process.execPath, join(here, "fairway-agent.js")], cwd: here };
}

/** PATH, and FAIRWAY_BPF_DIR when set (BPF objects from elsewhere than the build). */
function agentEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (process.env.FAIRWAY_BPF_DIR) env.FAIRWAY_BPF_DIR = process.env.FAIRWAY_BPF_DIR;
  return env;
}

/** Starts the node's agent detached (it outlives `lab up`); returns its pid. */
export function startAgent(node: NodePlan): number {
  const { argv, cwd } = agentCommand();
  const log = openSync(node.logFile, "a");
  try {
    const child = spawn(
      "nsenter",
      [`--net=${netnsPath(node.netns)}`, ...argv, "--config", node.configFile],
      { cwd, detached: true, stdio: ["ignore", log, log], env: agentEnv() },
    );
    if (child.pid === undefined) throw new FairwayError("E_LAB_AGENT", "nsenter did not start");
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export async function isReady(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  try {
    const r = await callAgent({
      socketPath: socket,
      method: "GET",
      path: "/readyz",
      connectTimeoutMs: 500,
      timeoutMs: 2000,
    });
    return r.status === 200;
  } catch {
    return false;
  }
}

/** The process exists and is not a zombie (a killed agent nobody reaped yet is gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitReady(node: NodePlan, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isReady(node.socket)) return;
    if (!alive(pid)) {
      throw new FairwayError(
        "E_LAB_AGENT",
        `the agent of ${node.name} exited before it was ready; see ${node.logFile}`,
      );
    }
    await sleep(100);
  }
  throw new FairwayError(
    "E_LAB_AGENT",
    `the agent of ${node.name} was not ready after ${timeoutMs} ms; see ${node.logFile}`,
  );
}

/**
 * The pids of processes whose command line names a config file under the lab's
 * node dirs (of one node, when `node` is given).
 */
export function findLabAgents(stateDir: string, node?: string): number[] {
  const marker = `${join(stateDir, "nodes")}/${node === undefined ? "" : `${node}/`}`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const i = argv.indexOf("--config");
      if (i >= 0 && argv[i + 1]?.startsWith(marker)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when every pid is gone. */
export async function stopProcesses(pids: number[], graceMs: number): Promise<void> {
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
  while (pids.some(alive)) await sleep(20);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
