// Errors of the veth datapath: stable codes, messages naming the endpoint,
// interface or pin directory concerned.
import { type ErrorKind, FairwayError } from "../../base/errors.ts";

export const VethErrorCode = {
  /** Bad input caught before touching the kernel (an address, a MAC, an id). */
  INVALID: "E_VETH_INVALID",
  /** An address is already registered to another endpoint. */
  ENDPOINT_CONFLICT: "E_VETH_ENDPOINT_CONFLICT",
  /** The datapath was closed. */
  CLOSED: "E_VETH_CLOSED",
} as const;
export type VethErrorCode = (typeof VethErrorCode)[keyof typeof VethErrorCode];

export function vethError(
  code: VethErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown>; kind?: ErrorKind } = {},
): FairwayError {
  return new FairwayError(code, message, options);
}
