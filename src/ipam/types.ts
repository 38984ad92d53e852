// The values IPAM takes and returns, and the validation of owners (the CNI
// attachment an address belongs to).

import type { IpFamily } from "./cidr.ts";
import { badOwner } from "./errors.ts";

/** A CNI attachment: the CNI spec's identity of one interface of one container. */
export interface AttachmentKey {
  containerId: string;
  ifname: string;
}

/** Who an address is for. Pod fields are informational (inspection, logs). */
export interface Owner extends AttachmentKey {
  podNamespace?: string;
  podName?: string;
}

export interface Allocation {
  /** Canonical text form: "10.0.3.7", "fd00::7". */
  ip: string;
  family: IpFamily;
  /** Prefix length of `cidr`. The pod side may use /32 or /128 instead: the endpoint layer decides. */
  prefixLen: number;
  /** The configured pool that contains `ip`; for an out-of-pool address, the pool it came from. */
  cidr: string;
  containerId: string;
  ifname: string;
  podNamespace?: string;
  podName?: string;
  /** ISO 8601, UTC. */
  allocatedAt: string;
}

export interface PoolUsage {
  cidr: string;
  family: IpFamily;
  /** Usable addresses (bigint: an IPv6 /64 has 2^64 - 1). */
  size: bigint;
  used: number;
  free: bigint;
}

export interface ReconcileReport {
  /** Allocations freed because their container is not alive. */
  released: Allocation[];
  /** Allocations of live containers whose address none of the configured pod CIDRs contains. */
  outOfPool: Allocation[];
}

export interface GcOptions {
  /**
   * Keep allocations younger than this (ms), even when they are not in the valid
   * list: protects an ADD that raced the runtime's snapshot of valid attachments.
   * Default 0.
   */
  minAgeMs?: number;
}

// CNI spec: "alphanumeric characters, hyphen, underscore, and period", non-empty.
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_CONTAINER_ID = 1024;
// Linux IFNAMSIZ is 16 including the NUL.
const MAX_IFNAME = 15;
const MAX_POD_FIELD = 253;

export function validateAttachment(key: AttachmentKey): AttachmentKey {
  if (key === null || typeof key !== "object") throw badOwner("owner", key, "expected an object");
  const { containerId, ifname } = key;
  if (typeof containerId !== "string" || containerId === "") {
    throw badOwner("containerId", containerId, "must be a non-empty string");
  }
  if (containerId.length > MAX_CONTAINER_ID || !CONTAINER_ID.test(containerId)) {
    throw badOwner(
      "containerId",
      containerId,
      `must be at most ${MAX_CONTAINER_ID} characters of letters, digits, "_", "." and "-"`,
    );
  }
  if (typeof ifname !== "string" || ifname === "") {
    throw badOwner("ifname", ifname, "must be a non-empty string");
  }
  if (Buffer.byteLength(ifname) > MAX_IFNAME) {
    throw badOwner("ifname", ifname, `longer than ${MAX_IFNAME} bytes (Linux IFNAMSIZ)`);
  }
  if (ifname === "." || ifname === ".." || /[/:\s]/.test(ifname)) {
    throw badOwner("ifname", ifname, `must not be "." or "..", nor contain "/", ":" or whitespace`);
  }
  return { containerId, ifname };
}

export function validateOwner(owner: Owner): Owner {
  const key = validateAttachment(owner);
  const out: Owner = { ...key };
  for (const field of ["podNamespace", "podName"] as const) {
    const value = owner[field];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "" || value.length > MAX_POD_FIELD) {
      throw badOwner(
        field,
        value,
        `must be a non-empty string of at most ${MAX_POD_FIELD} characters`,
      );
    }
    out[field] = value;
  }
  return out;
}
