// The lab's shape, computed from its options alone: names, addresses and
// paths. Pure, so `down` can recompute what an interrupted `up` meant to make.
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
}

export interface LabPlan {
  prefix: string;
  stateDir: string;
  stateFile: string;
  pinRoot: string;
  manifests: string;
  vpcNetns: string;
  routerNetns: string;
  routerIp: string;
  bridge: string;
  nodes: NodePlan[];
}

/** Pins go to /sys/fs/bpf/fairway-lab for the default prefix, /sys/fs/bpf/<prefix> otherwise. */
export function pinRootFor(prefix: string): string {
  return join(BPFFS, prefix === DEFAULT_PREFIX ? "fairway-lab" : prefix);
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
    });
  }
  return {
    prefix: o.prefix,
    stateDir: o.stateDir,
    stateFile: join(o.stateDir, "lab.json"),
    pinRoot: pinRootFor(o.prefix),
    manifests: join(o.stateDir, "manifests"),
    vpcNetns: `${o.prefix}-vpc`,
    routerNetns: `${o.prefix}-router`,
    routerIp: `${VPC_NET}.1`,
    bridge: "vpc0",
    nodes,
  };
}
