// The CNI routes: validate the body, gate on readiness, serialise per
// attachment, call the CniBackend, log one line per operation.

import {
  AGENT_ERRORS,
  type CniBackend,
  type CniRequest,
  type CniResult,
  type CniStatus,
  CURRENT_CNI_VERSION,
  ROUTES,
} from "../base/api.ts";
import { FairwayError, isFairwayError } from "../base/errors.ts";
import { FIELDS, type Logger } from "../base/log.ts";
import { cniGcRequestSchema, cniRequestSchema, parseBody } from "./api-schema.ts";
import type { Route } from "./api-server.ts";
import type { DelQueue } from "./del-queue.ts";
import type { KeyedLock } from "./keyed-lock.ts";

export interface CniRouteDeps {
  /** the "endpoint" module's backend, if the build has one */
  backend: CniBackend | undefined;
  /**
   * Whether the agent serves CNI operations now: every module started and the
   * agent is not stopping. Module readiness reporters do not gate operations
   * (the backend fails an ADD it cannot serve); they feed /readyz and STATUS.
   */
  serving(): { ready: boolean; reason?: string };
  /** the agent's readiness (modules started and ready), for STATUS */
  readiness(): { ready: boolean; reason?: string };
  queue: DelQueue;
  locks: KeyedLock;
  log: Logger;
}

export function attachmentKey(req: {
  network: string;
  containerId: string;
  ifname: string;
}): string {
  return `${req.network}/${req.containerId}/${req.ifname}`;
}

export function cniRoutes(deps: CniRouteDeps): Route[] {
  const { log, locks } = deps;

  const requireBackend = (): CniBackend => {
    const serving = deps.serving();
    if (!serving.ready) {
      throw new FairwayError(
        AGENT_ERRORS.notReady,
        `agent is not ready: ${serving.reason ?? "starting"}`,
        { kind: "transient" },
      );
    }
    if (!deps.backend) {
      throw new FairwayError(
        AGENT_ERRORS.noBackend,
        'agent has no CNI backend (module "endpoint" is not in its module list)',
        {
          kind: "transient",
        },
      );
    }
    return deps.backend;
  };

  const requestLog = (req: CniRequest, op: string): Logger =>
    log.child({
      op,
      [FIELDS.containerId]: req.containerId,
      [FIELDS.ifname]: req.ifname,
      ...(req.pod ? { [FIELDS.pod]: `${req.pod.namespace}/${req.pod.name}` } : {}),
    });

  return [
    {
      method: "POST",
      path: ROUTES.cniAdd,
      async handler({ body }) {
        const req = parseBody(cniRequestSchema, body, "CNI ADD request");
        if (!req.netns)
          throw new FairwayError(
            AGENT_ERRORS.badRequest,
            "invalid CNI ADD request: netns is required",
          );
        const backend = requireBackend();
        const rlog = requestLog(req, "add");
        const t0 = performance.now();
        const result = await locks.run(attachmentKey(req), () => backend.add(req));
        const out: CniResult = { ...result, cniVersion: CURRENT_CNI_VERSION };
        rlog.info({ ips: (out.ips ?? []).map((ip) => ip.address), ms: ms(t0) }, "CNI ADD");
        return { body: out };
      },
    },
    {
      method: "POST",
      path: ROUTES.cniDel,
      async handler({ body }) {
        const req = parseBody(cniRequestSchema, body, "CNI DEL request");
        const rlog = requestLog(req, "del");
        if (!deps.serving().ready || !deps.backend) {
          // DEL must succeed as far as it can: remember it and replay it when ready.
          const path = deps.queue.enqueue(req);
          rlog.info({ queued: path }, "CNI DEL queued until the agent is ready");
          return { body: { queued: true } };
        }
        const backend = deps.backend;
        const t0 = performance.now();
        try {
          await locks.run(attachmentKey(req), () => backend.del(req));
        } catch (err) {
          // Deleting what is not there is a success (the backend should say so itself).
          if (!(isFairwayError(err) && err.code === AGENT_ERRORS.containerUnknown)) throw err;
        }
        rlog.info({ ms: ms(t0) }, "CNI DEL");
        return { body: {} };
      },
    },
    {
      method: "POST",
      path: ROUTES.cniCheck,
      async handler({ body }) {
        const req = parseBody(cniRequestSchema, body, "CNI CHECK request");
        if (!req.prevResult)
          throw new FairwayError(
            AGENT_ERRORS.badRequest,
            "invalid CNI CHECK request: prevResult is required",
          );
        const backend = requireBackend();
        await locks.run(attachmentKey(req), () => backend.check(req));
        requestLog(req, "check").debug("CNI CHECK");
        return { body: {} };
      },
    },
    {
      method: "POST",
      path: ROUTES.cniGc,
      async handler({ body }) {
        const req = parseBody(cniGcRequestSchema, body, "CNI GC request");
        const backend = requireBackend();
        const t0 = performance.now();
        await backend.gc(req);
        log.info(
          { op: "gc", network: req.network, valid: req.validAttachments.length, ms: ms(t0) },
          "CNI GC",
        );
        return { body: {} };
      },
    },
    {
      method: "GET",
      path: ROUTES.cniStatus,
      async handler() {
        return { body: await cniStatus({ backend: deps.backend, readiness: deps.readiness }) };
      },
    },
  ];
}

/** STATUS: the agent's own readiness first, then the backend's. */
export async function cniStatus(
  deps: Pick<CniRouteDeps, "backend"> & { readiness(): { ready: boolean; reason?: string } },
): Promise<CniStatus> {
  const agent = deps.readiness();
  if (!agent.ready)
    return { ready: false, reason: `agent is not ready: ${agent.reason ?? "starting"}` };
  if (!deps.backend)
    return {
      ready: false,
      reason: 'agent has no CNI backend (module "endpoint" is not in its module list)',
    };
  return deps.backend.status();
}

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}
