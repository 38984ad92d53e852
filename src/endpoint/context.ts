// What every endpoint operation works with, handed around as one object: the
// records, the kernel seam, IPAM and the resolved settings.

import type { Logger } from "../base/log.ts";
import type {
  Allocation,
  AttachmentKey,
  GcOptions,
  Owner,
  PoolUsage,
  ReconcileReport,
} from "../ipam/index.ts";
import type { EndpointConfig } from "./config.ts";
import type { EndpointKernel } from "./kernel.ts";
import type { EndpointStore } from "./store.ts";

/** The part of IpamService the endpoint module uses (a seam for tests). */
export interface IpamPort {
  readonly dbPath: string;
  readonly config: {
    readonly podCIDRs: readonly string[];
    readonly durability: "process" | "power";
  };
  allocateAll(owner: Owner): Promise<Allocation[]>;
  release(key: AttachmentKey): Promise<Allocation[]>;
  list(): Promise<Allocation[]>;
  usage(): Promise<PoolUsage[]>;
  gc(valid: readonly AttachmentKey[], options?: GcOptions): Promise<Allocation[]>;
  reconcile(liveContainerIds: Iterable<string>): Promise<ReconcileReport>;
}

export interface EndpointContext {
  readonly config: EndpointConfig;
  readonly store: EndpointStore;
  readonly kernel: EndpointKernel;
  readonly ipam: IpamPort;
  readonly log: Logger;
  /** pod MTU when the request names none */
  readonly mtu: number;
}
