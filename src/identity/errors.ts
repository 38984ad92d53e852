// Error codes of the identity subsystem. Codes are stable: never renumber or reuse.

import { FairwayError, type FairwayErrorOptions } from "../base/errors.ts";

export const IdentityCode = {
  /** The `identity` config slice is invalid; details.problems lists every problem. */
  badConfig: "E_IDENTITY_BAD_CONFIG",
  /** Every identity of an allocator's range is in use. */
  exhausted: "E_IDENTITY_EXHAUSTED",
  /** An IP address or CIDR did not parse. */
  badPrefix: "E_IDENTITY_BAD_PREFIX",
  /** Persisted identities could not be read or written (the state database). */
  state: "E_IDENTITY_STATE",
  /** An identity asked for by number is not known. */
  unknown: "E_IDENTITY_UNKNOWN",
} as const;

export type IdentityCodeValue = (typeof IdentityCode)[keyof typeof IdentityCode];

export function identityError(
  code: IdentityCodeValue,
  message: string,
  options: FairwayErrorOptions = {},
): FairwayError {
  return new FairwayError(code, message, options);
}
