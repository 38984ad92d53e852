// Errors of the endpoint module. What crosses the agent socket uses the codes
// of AGENT_ERRORS (the plugin maps them to CNI codes); errors of dependencies
// (rtnetlink, libbpf, SQLite) are wrapped at this boundary with the original
// as `cause`, naming the step and the attachment.

import { AGENT_ERRORS, type CniAttachment } from "../base/api.ts";
import { FairwayError, isFairwayError } from "../base/errors.ts";

export const EndpointCode = {
  /** The module's config slice is invalid (lists every problem). */
  badConfig: "E_ENDPOINT_BAD_CONFIG",
  /** A method was called before start() or after stop(). */
  notStarted: "E_ENDPOINT_NOT_STARTED",
} as const;

const label = (a: CniAttachment): string => `${a.containerId}/${a.ifname}`;

export function badRequest(what: string, problem: string): FairwayError {
  return new FairwayError(AGENT_ERRORS.badRequest, `invalid CNI ${what} request: ${problem}`, {
    details: { problem },
  });
}

export function netnsNotFound(netns: string, a: CniAttachment): FairwayError {
  return new FairwayError(
    AGENT_ERRORS.netnsNotFound,
    `network namespace ${netns} of ${label(a)} does not exist`,
    { details: { netns, containerId: a.containerId } },
  );
}

export function ifnameTaken(netns: string, a: CniAttachment, cause?: unknown): FairwayError {
  return new FairwayError(
    AGENT_ERRORS.ifnameTaken,
    `interface ${a.ifname} already exists in network namespace ${netns} (container ${a.containerId})`,
    { cause, details: { ifname: a.ifname, netns, containerId: a.containerId } },
  );
}

export function containerUnknown(a: CniAttachment): FairwayError {
  return new FairwayError(
    AGENT_ERRORS.containerUnknown,
    `no endpoint for ${label(a)} (never added, or deleted)`,
    { details: { containerId: a.containerId, ifname: a.ifname } },
  );
}

export function checkFailed(a: CniAttachment, problems: readonly string[]): FairwayError {
  return new FairwayError(
    AGENT_ERRORS.checkFailed,
    `endpoint ${label(a)} differs from what was set up: ${problems.join("; ")}`,
    { details: { containerId: a.containerId, ifname: a.ifname, problems } },
  );
}

export function notStarted(): FairwayError {
  return new FairwayError(EndpointCode.notStarted, "endpoint module is not started", {
    kind: "transient",
  });
}

/**
 * Wraps a kernel-side failure of one ADD step as E_DATAPATH, keeping the
 * original code in details and its kind (a transient netlink error stays
 * retryable). Errors that already carry an agent code pass through.
 */
export function datapathError(step: string, a: CniAttachment, err: unknown): FairwayError {
  if (isFairwayError(err) && isAgentCode(err.code)) return err;
  const inner = isFairwayError(err) ? err : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new FairwayError(AGENT_ERRORS.datapath, `${step} for ${label(a)} failed: ${message}`, {
    cause: err,
    kind: inner?.kind === "transient" ? "transient" : "expected",
    details: { step, containerId: a.containerId, ifname: a.ifname, code: inner?.code ?? "" },
  });
}

const AGENT_CODES = new Set<string>(Object.values(AGENT_ERRORS));

export function isAgentCode(code: string): boolean {
  return AGENT_CODES.has(code);
}
