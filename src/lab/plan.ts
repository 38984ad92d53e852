// The lab's shape, computed from its options alone: names, addresses and
// paths. Pure, so `down` can recompute what an interrupted `up` meant to make.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FairwayError } from "../base/errors.ts";

export const DEFAULT_PREFIX = "fwlab";
export const DEFAULT_STATE_DIR = "/var/lib/fairway-lab";
export const BPFFS = "/sys/fs/bpf";
export const MAX_NODES = 20;
/** The VPC subnet: the router is .1, node i is .(10+i). */
export const VPC_PREFIX_LEN = 24;
const VPC_NET = "172.31.0";
/** An address on the router's loopback standing in for "the outside world". */
export const OUTSIDE_ADDRESS = "198.51.100.1";
/** The port of the HTTP server the lab runs on OUTSIDE_ADDRESS (pod→outside checks). */
export const OUTSIDE_PORT = 80;
/** ClusterIPs the lab allocates (the API server's --service-cluster-ip-range). */
export const SERVICE_CIDR = "10.96.0.0/16";
/** NodePorts the lab allocates (the API server's --service-node-port-range). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

export interface LabOptions {
  nodes: number;
  prefix: string;
  stateDir: string;
}

export interface NodePlan {
  index: number;
  name: string;
  netns: string;
  vpcIp: string;
  podCIDR: string;
  /** the node's end of its VPC veth, inside the node namespace */
  uplink: string;
  /** the VPC (bridge) end, inside the vpc namespace */
  vpcPort: string;
  dir: string;
  configFile: string;
  socket: string;
  logFile: string;
  /** the node's cgroup, relative to the cgroup v2 mount: the agent's cgroupRoot, pods below */
  cgroup: string;
  cniConfDir: string;
  cniBinDir: string;
}

export interface LabPlan {
  prefix: string;
  stateDir: string;
  stateFile: string;
  pinRoot: string;
  /** the lab's cgroup, relative to the cgroup v2 mount */
  cgroup: string;
  manifests: string;
  /** pod runtime records and logs: <stateDir>/pods/<namespace>_<name>/ */
  podsDir: string;
  vpcNetns: string;
  routerNetns: string;
  routerIp: string;
  bridge: string;
  nodes: NodePlan[];
}

/** Pins go to /sys/fs/bpf/fairway-lab for the default prefix, /sys/fs/bpf/<prefix> otherwise. */
export function pinRootFor(prefix: string): string {
  return join(BPFFS, labDirName(prefix));
}

/** The lab's cgroup relative to the cgroup v2 mount: named like its pin root. */
export function cgroupFor(prefix: string): string {
  return labDirName(prefix);
}

function labDirName(prefix: string): string {
  return prefix === DEFAULT_PREFIX ? "fairway-lab" : prefix;
}

/** The router's cgroup (the outside server runs there), relative to the cgroup v2 mount. */
export function routerCgroupFor(prefix: string): string {
  return `${cgroupFor(prefix)}/router`;
}

/**
 * A pod's network namespace: <prefix>-pod-<namespace>.<name> ("." cannot be in a
 * namespace name, so the split is unambiguous); long names end in a hash.
 */
export function podNetnsName(prefix: string, namespace: string, name: string): string {
  const full = `${prefix}-pod-${namespace}.${name}`;
  if (full.length <= 120) return full;
  return `${full.slice(0, 100)}-${createHash("sha256").update(full).digest("hex").slice(0, 12)}`;
}

export function isPodNetns(prefix: string, netns: string): boolean {
  return netns.startsWith(`${prefix}-pod-`);
}

export function validateOptions(o: LabOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES)
    problems.push(`--nodes must be an integer from 1 to ${MAX_NODES}, got ${o.nodes}`);
  if (!/^[a-z][a-z0-9]{1,15}$/.test(o.prefix))
    problems.push(`--prefix must be 2-16 lower-case letters or digits, got "${o.prefix}"`);
  if (!o.stateDir.startsWith("/") || o.stateDir === "/")
    problems.push(`--state-dir must be an absolute path below /, got "${o.stateDir}"`);
  if (problems.length > 0) throw new FairwayError("E_LAB_USAGE", problems.join("; "));
}

export function planLab(o: LabOptions): LabPlan {
  validateOptions(o);
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const name = `${o.prefix}-node-${i}`;
    const dir = join(o.stateDir, "nodes", name);
    nodes.push({
      index: i,
      name,
      netns: name,
      vpcIp: `${VPC_NET}.${10 + i}`,
      podCIDR: `10.100.${i}.0/24`,
      uplink: "eth0",
      vpcPort: `node${i}`,
      dir,
      configFile: join(dir, "agent.yaml"),
      socket: join(dir, "run", "agent.sock"),
      logFile: join(dir, "agent.log"),
      cgroup: `${cgroupFor(o.prefix)}/${name}`,
      cniConfDir: join(dir, "cni", "net.d"),
      cniBinDir: join(dir, "cni", "bin"),
    });
  }
  return {
    prefix: o.prefix,
    stateDir: o.stateDir,
    stateFile: join(o.stateDir, "lab.json"),
    pinRoot: pinRootFor(o.prefix),
    cgroup: cgroupFor(o.prefix),
    manifests: join(o.stateDir, "manifests"),
    podsDir: join(o.stateDir, "pods"),
    vpcNetns: `${o.prefix}-vpc`,
    routerNetns: `${o.prefix}-router`,
    routerIp: `${VPC_NET}.1`,
    bridge: "vpc0",
    nodes,
  };
}
