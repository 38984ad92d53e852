// The wire shape of the agent's service listing (GET /v1/services, `fairway
// service list -o json`): the desired table, with what the datapath made of
// each frontend. Plain JSON-safe data; serviceStatus() is pure.

import type { Algorithm } from "./config.ts";
import type { Frontend, ServiceEntry, ServiceTable, SkippedService } from "./types.ts";

/** A frontend and whether its maps were written. */
export interface FrontendStatus extends Frontend {
  /** The datapath holds this frontend as the table says (service, backends, rev-NAT). */
  readonly programmed: boolean;
  /** Why it is not programmed (the last reconcile error), when known. */
  readonly error?: string;
}

export interface ServiceEntryStatus extends Omit<ServiceEntry, "frontends"> {
  readonly frontends: readonly FrontendStatus[];
}

export interface ServiceDatapathStatus {
  /** Socket-level LB (cgroup connect/sendmsg/recvmsg hooks) is attached. */
  readonly socketLb: boolean;
  /** tc-level LB (DNAT at the interfaces) is attached. */
  readonly tcLb: boolean;
  /** The default algorithm (a service's annotation may override it). */
  readonly algorithm: Algorithm;
  readonly maglevTableSize: number;
  /** How long the last full sync of the table into the maps took, in ms; absent before the first. */
  readonly lastSyncMs?: number;
  /** Errors not tied to one frontend (attaching a hook, a map that cannot be opened...). */
  readonly errors: readonly string[];
}

export interface ServiceStatus {
  /** Sorted by key, as in the table. */
  readonly services: readonly ServiceEntryStatus[];
  readonly skipped: readonly SkippedService[];
  readonly datapath: ServiceDatapathStatus;
}

/** What the datapath reconciler knows of one frontend, by frontend ID. */
export type ProgrammedLookup = (frontendId: number) => { ok: boolean; error?: string };

/** The table, each frontend marked with `programmed(frontend.id)`, and the datapath summary. */
export function serviceStatus(
  table: ServiceTable,
  programmed: ProgrammedLookup,
  datapath: ServiceDatapathStatus,
): ServiceStatus {
  return {
    services: table.services.map((svc) => ({
      ...svc,
      frontends: svc.frontends.map((fe) => {
        const r = programmed(fe.id);
        return { ...fe, programmed: r.ok, ...(r.error !== undefined ? { error: r.error } : {}) };
      }),
    })),
    skipped: table.skipped,
    datapath,
  };
}
