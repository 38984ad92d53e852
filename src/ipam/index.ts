// IPAM, the public face. Cluster-pool mode: the node's pod CIDRs (config or the
// Node object's spec.podCIDRs) are carved into addresses per CNI attachment,
// every change committed to <stateDir>/fairway.db before the call returns.
// Other folders import this file only. See README.md.

import type { ModuleDecl } from "../base/module.ts";
import { type IpamConfig, parseIpamConfig } from "./config.ts";
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
  deps: [],
  config(agentConfig: unknown): IpamConfig {
    const slice =
      agentConfig !== null && typeof agentConfig === "object"
        ? (agentConfig as { ipam?: unknown }).ipam
        : undefined;
    return parseIpamConfig(slice);
  },
  create(ctx) {
    return new IpamService(ctx.config, ctx.log);
  },
};
