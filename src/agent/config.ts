// The agent's configuration: one zod schema with the defaults beside each field.
// Sources, lowest to highest: defaults < YAML file (--config, default
// /etc/fairway/agent.yaml, optional) < FAIRWAY_* environment < --flags.
// Validated once, frozen; each module reads only its slice.

import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import {
  type ConfigError,
  envLayer,
  fileLayer,
  flagLayer,
  type Layer,
  mergeLayers,
  type ParsedFlag,
  schemaLeaves,
  validateConfig,
} from "../base/config.ts";
import { serviceConfigSchema } from "../service/index.ts";
import { cidrProblem } from "./cidr.ts";

export const DEFAULT_CONFIG_PATH = "/etc/fairway/agent.yaml";
export const ENV_PREFIX = "FAIRWAY_";
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const DATAPATH_MODES = ["veth", "veth-legacy"] as const;

const absPath = () =>
  z.string().refine((p) => p.startsWith("/"), {
    error: (i) => `"${String(i.input)}" is not an absolute path`,
  });

const cidr = () =>
  z.string().superRefine((value, ctx) => {
    const problem = cidrProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** DNS-1123 subdomain, as Kubernetes node names are. */
const nodeName = () =>
  z
    .string()
    .refine(
      (n) =>
        n.length <= 253 &&
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(n),
      {
        error: (i) =>
          `"${String(i.input)}" is not a valid node name (lower-case DNS name, as Kubernetes uses)`,
      },
    );

/** A Linux interface name: 1-15 bytes, no "/", ":" or whitespace. */
const ifname = () =>
  z.string().refine((n) => n.length > 0 && Buffer.byteLength(n) <= 15 && !/[/:\s]/.test(n), {
    error: (i) => `"${String(i.input)}" is not a valid interface name`,
  });

/** CNI network names: alphanumerics, then alphanumerics, _ . - (libcni's rule). */
const networkName = () =>
  z.string().refine((n) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(n), {
    error: (i) => `"${String(i.input)}" is not a valid CNI network name`,
  });

export const agentConfigSchema = z.strictObject({
  /** this node's name in the cluster (Kubernetes: from the downward API) */
  nodeName: nodeName().default(() => hostname().toLowerCase()),
  /** node-local state that survives restarts (SQLite) */
  stateDir: absPath().default("/var/lib/fairway"),
  /** runtime files; the API socket is <runDir>/agent.sock */
  runDir: absPath().default("/run/fairway"),
  /** where maps and links are pinned */
  bpffsRoot: absPath().default("/sys/fs/bpf/fairway"),
  /** cgroup v2 root for socket programs */
  cgroupRoot: absPath().default("/sys/fs/cgroup"),
  /** pod interface MTU; unset: derived from the node's uplink */
  mtu: z.number().int().min(68).max(65535).optional(),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).default("info"),
    })
    .prefault({}),
  datapath: z
    .strictObject({
      mode: z.enum(DATAPATH_MODES).default("veth"),
      /** the node's uplink (e.g. eth0): from_netdev is attached to its ingress; unset: none */
      uplink: ifname().optional(),
      /**
       * host-side veths are named <prefix><hash of containerId/ifname>; at start, veths with
       * it and no record are removed. Unset: "fwp" (the endpoint module's default)
       */
      hostIfPrefix: z
        .string()
        .regex(/^[a-z][a-z0-9]{0,6}$/, "1-7 lower-case letters or digits, starting with a letter")
        .optional(),
    })
    .prefault({}),
  /** the service load balancer (kube-proxy replacement); see src/service/config.ts */
  service: serviceConfigSchema.prefault({}),
  ipam: z
    .strictObject({
      /** pod CIDRs of this node; empty: taken from the Node object */
      podCIDRs: z.array(cidr()).default([]),
      /** "power": allocations survive power loss too (fsync per commit), not only a crash */
      durability: z.enum(["process", "power"]).default("process"),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      source: z.enum(["directory", "kubernetes"]).default("kubernetes"),
      /** manifest directory (source "directory") */
      directory: absPath().optional(),
      /** kubeconfig (source "kubernetes"); unset: in-cluster service account */
      kubeconfig: absPath().optional(),
      /** relist (kubernetes) or rescan (directory) period; unset: the source's default; 0: off */
      resyncSeconds: z.number().int().min(0).max(86_400).optional(),
    })
    .prefault({})
    .superRefine((c, ctx) => {
      if (c.source === "directory" && !c.directory) {
        ctx.addIssue({
          code: "custom",
          path: ["directory"],
          message: 'required when cluster.source is "directory"',
        });
      }
    }),
  cni: z
    .strictObject({
      confDir: absPath().default("/etc/cni/net.d"),
      binDir: absPath().default("/opt/cni/bin"),
      networkName: networkName().default("fairway"),
      /** the plugin bundle to install; unset: fairway-cni.js next to the agent's bundle */
      pluginBundle: absPath().optional(),
      /**
       * the C front end to install as <binDir>/fairway-cni; unset: fairway-cni next to
       * the agent's bundle or build/bin/ of the source tree, if built; "none": the JS
       * plugin alone (fairway-cni is then a symlink to fairway-cni.mjs)
       */
      pluginBinary: z.union([absPath(), z.literal("none")]).optional(),
    })
    .prefault({}),
});

export type AgentConfig = Readonly<z.output<typeof agentConfigSchema>>;

export const AGENT_LEAVES = schemaLeaves(agentConfigSchema);

/** Where the agent's API socket lives. */
export function socketPath(config: AgentConfig): string {
  return join(config.runDir, "agent.sock");
}

export interface LoadOptions {
  /** settings given as flags (--nodeName=..., --ipam.podCIDRs=...) */
  flags: readonly ParsedFlag[];
  env: NodeJS.ProcessEnv;
  /** --config; when absent FAIRWAY_CONFIG, then DEFAULT_CONFIG_PATH (optional) */
  configPath?: string;
  /** problems found while splitting argv */
  argvProblems?: readonly string[];
}

/** Loads, merges and validates. Throws ConfigError listing every problem. */
export function loadAgentConfig(options: LoadOptions): AgentConfig {
  const explicit = options.configPath ?? options.env.FAIRWAY_CONFIG;
  const file = fileLayer(explicit ?? DEFAULT_CONFIG_PATH, explicit !== undefined);
  const argv: Layer = {
    values: {},
    sources: new Map(),
    problems: [...(options.argvProblems ?? [])],
  };
  const merged = mergeLayers([
    argv,
    file,
    envLayer(options.env, ENV_PREFIX, AGENT_LEAVES),
    flagLayer(options.flags, AGENT_LEAVES),
  ]);
  return validateConfig("agent configuration", agentConfigSchema, merged);
}

export type { ConfigError };
