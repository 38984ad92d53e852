// IPAM's error codes and the constructors that give each its message template.
// Codes are stable: callers (the CNI plugin, the CLI, tests) match on them.

import { FairwayError, type FairwayErrorOptions } from "../base/errors.ts";

export const IpamCode = {
  /** A CIDR string did not parse or is not a network address. */
  badCidr: "E_IPAM_BAD_CIDR",
  /** An IP address string did not parse. */
  badIp: "E_IPAM_BAD_IP",
  /** Every pool of the requested family is full. */
  exhausted: "E_IPAM_EXHAUSTED",
  /** containerId / ifname / pod fields are missing or malformed. */
  badOwner: "E_IPAM_BAD_OWNER",
  /** The IP family is neither 4 nor 6. */
  badFamily: "E_IPAM_BAD_FAMILY",
  /** No pool of the requested family is configured. */
  noPool: "E_IPAM_NO_POOL",
  /** The owner already holds an address that none of the configured pod CIDRs contains. */
  outOfPool: "E_IPAM_OUT_OF_POOL",
  /** The IPAM config slice is invalid (lists every problem). */
  badConfig: "E_IPAM_BAD_CONFIG",
  /** A method was called before start() or after stop(). */
  notStarted: "E_IPAM_NOT_STARTED",
} as const;

export const StateCode = {
  /** The state database could not be opened or set up (path, permissions, disk). */
  open: "E_STATE_OPEN",
  /** Another process holds the write lock for longer than the busy timeout. */
  busy: "E_STATE_BUSY",
  /** A schema migration failed or the recorded history does not match the code. */
  migration: "E_STATE_MIGRATION",
  /** The database was written by a newer Fairway (downgrade). */
  tooNew: "E_STATE_TOO_NEW",
  /** SQLite failed during an operation (I/O error, disk full, corruption). */
  io: "E_STATE_IO",
} as const;

export function badCidr(
  text: string,
  reason: string,
  options: FairwayErrorOptions = {},
): FairwayError {
  return new FairwayError(IpamCode.badCidr, `invalid CIDR "${text}": ${reason}`, {
    ...options,
    details: { cidr: text, reason, ...options.details },
  });
}

export function badIp(text: string, reason: string): FairwayError {
  return new FairwayError(IpamCode.badIp, `invalid IP address "${text}": ${reason}`, {
    details: { ip: text, reason },
  });
}

export function badOwner(field: string, value: unknown, reason: string): FairwayError {
  return new FairwayError(
    IpamCode.badOwner,
    `invalid ${field} ${JSON.stringify(value)}: ${reason}`,
    {
      details: { field, value: typeof value === "string" ? value : String(value), reason },
    },
  );
}
