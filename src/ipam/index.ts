// IPAM, the public face. Cluster-pool mode: the node's pod CIDRs (config or the
// Node object's spec.podCIDRs) are carved into addresses per CNI attachment,
// every change committed to <stateDir>/fairway.db before the call returns.
// Other folders import this file only. See README.md.

import { FairwayError } from "../base/errors.ts";
import type { ModuleDecl } from "../base/module.ts";
import { type IpamConfig, type NodeLike, parseIpamConfig, podCidrsFromNode } from "./config.ts";
import { IpamCode } from "./errors.ts";
import { IpamService } from "./service.ts";

export type { AddressRange, Cidr, IpAddr, IpFamily } from "./cidr.ts";
export {
  cidrAddresses,
  cidrContains,
  cidrSize,
  cidrsOverlap,
  familyName,
  formatIp,
  parseCidr,
  parseIp,
  usableRange,
} from "./cidr.ts";
export type { IpamConfig, NodeLike } from "./config.ts";
export { ipamConfigSchema, parseIpamConfig, podCidrsFromNode } from "./config.ts";
export type { Durability, Migration, MigrationSet, OpenStateDbOptions, StateDb } from "./db.ts";
export {
  applyMigrations,
  META_VERSION,
  openStateDb,
  STATE_DB_FILE,
  translateSqliteError,
} from "./db.ts";
export { IpamCode, StateCode } from "./errors.ts";
export { IpamService, type IpamServiceOptions } from "./service.ts";
export { IPAM_MIGRATIONS } from "./state.ts";
export type {
  Allocation,
  AttachmentKey,
  GcOptions,
  Owner,
  PoolUsage,
  ReconcileReport,
} from "./types.ts";

/**
 * The IPAM module. Its config slice is the agent config's `ipam` key:
 * `{ podCIDRs: string[], stateDir: string, durability?: "process" | "power" }`.
 */
export const ipamModule: ModuleDecl<IpamConfig, IpamService> = {
  id: "ipam",
  // The cluster store gives the Node object's spec.podCIDRs when the config has none.
  deps: ["cluster"],
  config(agentConfig: unknown): IpamConfig {
    const slice =
      agentConfig !== null && typeof agentConfig === "object"
        ? (agentConfig as { ipam?: unknown }).ipam
        : undefined;
    return parseIpamConfig(slice);
  },
  create(ctx) {
    const { nodeName } = ctx.config;
    const cluster = ctx.deps.cluster as { store?: NodeSource } | undefined;
    const nodeCidrs =
      ctx.config.podCIDRs.length === 0 && nodeName && cluster?.store
        ? () => nodePodCidrs(cluster.store!, nodeName)
        : undefined;
    return new IpamService(ctx.config, ctx.log, nodeCidrs ? { nodeCidrs } : {});
  },
};

/** The part of the cluster store IPAM reads (kept structural: no import of cluster/). */
interface NodeSource {
  synced: Promise<void>;
  get(kind: "Node", key: string): NodeLike | undefined;
}

const NODE_WAIT_MS = 60_000;

/** Waits for the store's first sync (bounded), then reads the node's pod CIDRs. */
async function nodePodCidrs(store: NodeSource, nodeName: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new FairwayError(
            IpamCode.badConfig,
            `cluster state did not sync within ${NODE_WAIT_MS / 1000}s: cannot read Node ${nodeName}'s spec.podCIDRs`,
            { kind: "transient" },
          ),
        ),
      NODE_WAIT_MS,
    );
  });
  try {
    await Promise.race([store.synced, timeout]);
  } finally {
    clearTimeout(timer);
  }
  const node = store.get("Node", nodeName);
  if (!node) {
    throw new FairwayError(
      IpamCode.badConfig,
      `Node ${nodeName} is not in the cluster state, and ipam.podCIDRs is empty: set ipam.podCIDRs or create the Node`,
    );
  }
  return podCidrsFromNode(node);
}
