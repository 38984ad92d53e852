// Error codes of the policy subsystem. Codes are stable: never renumber or reuse.
// Rejected policies are data (PolicyStatus.reason), not errors: these codes are
// for the callers of the engine and the offline tools.

import { FairwayError, type FairwayErrorOptions } from "../base/errors.ts";

export const PolicyCode = {
  /** An endpoint, pod or address named on the command line is not in the input. */
  unknownEndpoint: "E_POLICY_UNKNOWN_ENDPOINT",
  /** A flow or option is malformed (port, protocol). */
  badFlow: "E_POLICY_BAD_FLOW",
  /** A policy input file could not be read. */
  input: "E_POLICY_INPUT",
} as const;

export type PolicyCodeValue = (typeof PolicyCode)[keyof typeof PolicyCode];

export function policyError(
  code: PolicyCodeValue,
  message: string,
  options: FairwayErrorOptions = {},
): FairwayError {
  return new FairwayError(code, message, options);
}
