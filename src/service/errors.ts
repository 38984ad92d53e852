// Error codes of the service subsystem. Codes are stable: never renumber or reuse.

import { FairwayError } from "../base/errors.ts";

export const ServiceCode = {
  /** The `service` config slice is invalid; details.problems lists every problem. */
  badConfig: "E_SERVICE_BAD_CONFIG",
  /** A Maglev table size that is not a prime in range. */
  maglevSize: "E_SERVICE_MAGLEV_SIZE",
  /** A Maglev table asked for with no backends. */
  maglevEmpty: "E_SERVICE_MAGLEV_EMPTY",
  /** An ID allocator ran out of IDs. */
  idsExhausted: "E_SERVICE_IDS_EXHAUSTED",
} as const;

export type ServiceCodeValue = (typeof ServiceCode)[keyof typeof ServiceCode];

export function serviceError(
  code: ServiceCodeValue,
  message: string,
  details: Record<string, unknown> = {},
): FairwayError {
  return new FairwayError(code, message, { details });
}
