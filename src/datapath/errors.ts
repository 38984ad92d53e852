// Translates errors thrown by the native binding into FairwayErrors at the
// boundary, keeping the native error as `cause` and its facts in `details`.
import { type ErrorKind, FairwayError } from "../base/errors.ts";
import type { NativeError } from "./native/binding.ts";

/** Native code -> Fairway code. Codes are stable: add, never renumber or reuse. */
const CODES: Record<string, string> = {
  EBPF_OPEN: "E_BPF_OPEN",
  EBPF_LOAD: "E_BPF_LOAD",
  EBPF_MAP: "E_BPF_MAP",
  EBPF_PROG: "E_BPF_PROG",
  ETC: "E_TC",
  ECGROUP: "E_CGROUP",
  ERINGBUF: "E_RINGBUF",
  ETESTRUN: "E_TEST_RUN",
  ENETNS: "E_NETNS",
  ENETLINK: "E_NETLINK",
  EINVAL_ARG: "E_INVALID_ARGUMENT",
  EIO_FD: "E_FD",
};

const TRANSIENT_ERRNOS = new Set([
  11 /* EAGAIN */, 16 /* EBUSY */, 4 /* EINTR */, 105 /* ENOBUFS */,
]);

export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as Partial<NativeError>).errno === "number";
}

/** Wraps a native error; any other value is returned unchanged. */
export function fromNative(err: unknown, context?: string): unknown {
  if (!isNativeError(err)) return err;
  const code = CODES[err.code] ?? "E_NATIVE";
  const kind: ErrorKind = TRANSIENT_ERRNOS.has(err.errno) ? "transient" : "expected";
  const details: Record<string, unknown> = { errno: err.errno, syscall: err.syscall };
  if (err.verifierLog) details.verifierLog = err.verifierLog;
  if (err.netlinkMessage) details.netlinkMessage = err.netlinkMessage;
  if (err.libbpf) details.libbpf = err.libbpf;
  const message = context ? `${context}: ${err.message}` : err.message;
  return new FairwayError(code, message, { kind, cause: err, details });
}

/** Runs fn, translating native errors. */
export function native<T>(fn: () => T, context?: string): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err, context);
  }
}

/** The errno of a FairwayError made by fromNative, or of a raw native error. */
export function errnoOf(err: unknown): number | undefined {
  if (err instanceof FairwayError && typeof err.details.errno === "number")
    return err.details.errno;
  if (isNativeError(err)) return err.errno;
  return undefined;
}
