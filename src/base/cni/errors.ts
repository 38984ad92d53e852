// CNI error codes and the one place where agent errors become CNI errors.
// 1-99 are the spec's (1.1.0, "Error" section); 100+ are Fairway's. Never
// renumber or reuse a code: runtimes and dashboards match on them.

import { AGENT_ERRORS, type ApiError } from "../api.ts";

export const CNI_CODES = {
  // --- CNI spec
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
  // --- Fairway
  agentInternal: 100,
  ipamExhausted: 101,
  ifnameTaken: 102,
  netnsNotFound: 103,
  agentProtocol: 104,
  checkFailed: 105,
  datapath: 106,
} as const;

export type CniCode = (typeof CNI_CODES)[keyof typeof CNI_CODES];

/** Agent error code -> CNI code. Codes not listed: 11 when the error is transient, else 100. */
const FROM_AGENT: Record<string, CniCode> = {
  [AGENT_ERRORS.notReady]: CNI_CODES.tryAgainLater,
  [AGENT_ERRORS.noBackend]: CNI_CODES.tryAgainLater,
  [AGENT_ERRORS.badRequest]: CNI_CODES.invalidConfig,
  [AGENT_ERRORS.unsupportedField]: CNI_CODES.unsupportedField,
  [AGENT_ERRORS.containerUnknown]: CNI_CODES.unknownContainer,
  [AGENT_ERRORS.ipamExhausted]: CNI_CODES.ipamExhausted,
  [AGENT_ERRORS.ifnameTaken]: CNI_CODES.ifnameTaken,
  [AGENT_ERRORS.netnsNotFound]: CNI_CODES.netnsNotFound,
  [AGENT_ERRORS.checkFailed]: CNI_CODES.checkFailed,
  [AGENT_ERRORS.datapath]: CNI_CODES.datapath,
  [AGENT_ERRORS.internal]: CNI_CODES.agentInternal,
};

/** An error the plugin prints as {cniVersion, code, msg, details} on stdout. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;
  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }
}

export function cniCodeForAgentError(error: Pick<ApiError, "code" | "kind">): CniCode {
  return (
    FROM_AGENT[error.code] ??
    (error.kind === "transient" ? CNI_CODES.tryAgainLater : CNI_CODES.agentInternal)
  );
}

/** The CNI error for an error the agent answered with. details keeps the agent's code and facts. */
export function fromAgentError(error: ApiError): CniError {
  const facts =
    error.details && Object.keys(error.details).length > 0
      ? ` ${JSON.stringify(error.details)}`
      : "";
  return new CniError(
    cniCodeForAgentError(error),
    error.message,
    `agent error ${error.code}${facts}`,
  );
}

/** The JSON the plugin prints for an error. */
export function errorOutput(err: CniError, cniVersion: string): string {
  const out: Record<string, unknown> = { cniVersion, code: err.code, msg: err.message };
  if (err.details) out.details = err.details;
  return `${JSON.stringify(out)}\n`;
}
