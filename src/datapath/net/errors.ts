// Errors of datapath/net: stable codes, and the translation of the binding's
// NativeError (code ENETLINK/ENETNS/ESYSCTL + errno + extack) into FairwayError
// naming the interface, address or namespace concerned.

import { getSystemErrorMap } from "node:util";
import { type ErrorKind, FairwayError } from "../../base/errors.ts";

export const NetErrorCode = {
  NETLINK: "E_NETLINK",
  NETNS_NOT_FOUND: "E_NETNS_NOT_FOUND",
  NETNS_EXISTS: "E_NETNS_EXISTS",
  NETNS: "E_NETNS",
  LINK_NOT_FOUND: "E_LINK_NOT_FOUND",
  LINK_EXISTS: "E_LINK_EXISTS",
  ADDR_NOT_FOUND: "E_ADDR_NOT_FOUND",
  ADDR_EXISTS: "E_ADDR_EXISTS",
  ROUTE_NOT_FOUND: "E_ROUTE_NOT_FOUND",
  ROUTE_EXISTS: "E_ROUTE_EXISTS",
  NEIGH_NOT_FOUND: "E_NEIGH_NOT_FOUND",
  NEIGH_EXISTS: "E_NEIGH_EXISTS",
  SYSCTL: "E_SYSCTL",
  /** Bad input (an address, a name, a prefix) caught before any syscall. */
  INVALID: "E_NET_INVALID",
} as const;
export type NetErrorCode = (typeof NetErrorCode)[keyof typeof NetErrorCode];

export function netError(
  code: NetErrorCode,
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown>; kind?: ErrorKind } = {},
): FairwayError {
  return new FairwayError(code, message, { kind: "expected", ...options });
}

/** "netns /run/netns/x" or "the current netns", for messages. */
export function nsLabel(netns: string | undefined): string {
  return netns ? `netns ${netns}` : "the current netns";
}

interface NativeLike {
  code?: string;
  errno?: number;
  netlinkMessage?: string;
  message?: string;
}

/** errno name and text, e.g. ["EEXIST", "File exists"]. */
export function errnoInfo(errno: number): [string, string] {
  return getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, `errno ${errno}`];
}

/** Errnos after which the same request may succeed. */
const TRANSIENT = new Set(["EAGAIN", "EBUSY", "ENOBUFS", "EINTR", "ETIMEDOUT"]);

export interface FailureContext {
  /** What was being done, as a verb phrase: `create veth "fwh1"`. */
  what: string;
  netns?: string;
  /** errno name -> code, e.g. { EEXIST: E_LINK_EXISTS }. Unlisted errnos give E_NETLINK. */
  codes?: Partial<Record<string, NetErrorCode>>;
  details?: Record<string, unknown>;
  /** errno name -> reason in words, where the errno's own text misleads (ESRCH: "no such route"). */
  reasons?: Partial<Record<string, string>>;
}

/**
 * Translates a native error (or passes a FairwayError through). A namespace that
 * cannot be opened is always E_NETNS_NOT_FOUND / E_NETNS; the kernel's extack,
 * when there is one, is the reason given in the message.
 */
export function translateError(err: unknown, ctx: FailureContext): FairwayError {
  if (err instanceof FairwayError) return err;
  const e = (err ?? {}) as NativeLike;
  const errno = e.errno ?? 0;
  const [name, text] = errnoInfo(errno);
  const details = { ...ctx.details, netns: ctx.netns ?? "", errno: name };
  if (e.code === "ENETNS") {
    const missing = name === "ENOENT";
    return netError(
      missing ? NetErrorCode.NETNS_NOT_FOUND : NetErrorCode.NETNS,
      missing
        ? `cannot ${ctx.what}: network namespace ${ctx.netns} does not exist`
        : `cannot ${ctx.what}: cannot enter ${nsLabel(ctx.netns)}: ${text}`,
      { cause: err, details },
    );
  }
  if (e.code !== "ENETLINK" && e.code !== "ESYSCTL") {
    return netError(
      NetErrorCode.NETLINK,
      `cannot ${ctx.what} in ${nsLabel(ctx.netns)}: ${e.message ?? String(err)}`,
      {
        cause: err,
        details,
        kind: "bug",
      },
    );
  }
  const words = e.netlinkMessage || ctx.reasons?.[name] || text;
  const reason = `${words} (${name})`;
  const code =
    ctx.codes?.[name] ?? (e.code === "ESYSCTL" ? NetErrorCode.SYSCTL : NetErrorCode.NETLINK);
  return netError(code, `cannot ${ctx.what} in ${nsLabel(ctx.netns)}: ${reason}`, {
    cause: err,
    details: { ...details, netlinkMessage: e.netlinkMessage ?? "" },
    kind: TRANSIENT.has(name) ? "transient" : "expected",
  });
}
