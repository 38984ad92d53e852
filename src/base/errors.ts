// One error base for all of Fairway. Every error has a stable `code`, a message
// that names the problem, a `kind` that says how callers should treat it, and
// the original error of a dependency as `cause`.

/**
 * expected:  bad input, missing kernel feature, pool empty. Shown to users without a stack.
 * bug:       an invariant broke. Shown with a stack.
 * transient: may succeed when retried (the reconciler retries these).
 * cancelled: the operation was stopped on purpose.
 */
export type ErrorKind = "expected" | "bug" | "transient" | "cancelled";

export interface FairwayErrorOptions {
  kind?: ErrorKind;
  cause?: unknown;
  /** Extra structured facts (interface name, map name, errno...). Must be JSON-safe. */
  details?: Record<string, unknown>;
}

export class FairwayError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: FairwayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "FairwayError";
    this.code = code;
    this.kind = options.kind ?? "expected";
    this.details = options.details ?? {};
  }

  /** The form errors take when they cross a process boundary (agent socket, CNI). */
  toJSON(): { code: string; message: string; kind: ErrorKind; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, kind: this.kind, details: this.details };
  }
}

/** Raised when a Linux kernel feature Fairway needs is not there. Names the feature and the minimum kernel. */
export class MissingFeatureError extends FairwayError {
  constructor(feature: string, minKernel: string, options: FairwayErrorOptions = {}) {
    super(
      "E_MISSING_FEATURE",
      `kernel feature "${feature}" is not available (needs Linux ${minKernel} or a kernel built with it)`,
      { ...options, kind: "expected", details: { feature, minKernel, ...options.details } },
    );
    this.name = "MissingFeatureError";
  }
}

/** An invariant broke: this is a bug in Fairway. */
export class BugError extends FairwayError {
  constructor(message: string, options: FairwayErrorOptions = {}) {
    super("E_BUG", message, { ...options, kind: "bug" });
    this.name = "BugError";
  }
}

export function isFairwayError(err: unknown): err is FairwayError {
  return err instanceof FairwayError;
}

/** Message of any thrown value, for logs and user output. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
