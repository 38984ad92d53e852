// One injected pino logger; each module gets a child bound to { subsys }.
// Field names used in bindings come from FIELDS so logs stay greppable.
import { pino } from "pino";

export type Logger = pino.Logger;

/** The registry of structured log field names. */
export const FIELDS = {
  subsys: "subsys",
  containerId: "containerId",
  pod: "pod",
  netns: "netns",
  ifname: "ifname",
  ip: "ip",
  endpointId: "endpointId",
  err: "err",
} as const;

export interface LogOptions {
  level?: string;
  /** Write to this fd (default 2, stderr, so stdout stays free for protocol output). */
  fd?: number;
}

export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    { level: options.level ?? "info", base: { pid: process.pid } },
    pino.destination({ fd: options.fd ?? 2, sync: false }),
  );
}

/** A logger that discards everything (tests, CLI paths that must stay quiet). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
