// Health, readiness, status and endpoint routes.

import { AGENT_ERRORS, type AgentStatus, type EndpointReader, ROUTES } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import type { Route } from "./api-server.ts";

export interface StatusRouteDeps {
  /** modules started and ready, agent not stopping, backend ready */
  readiness(): Promise<{ ready: boolean; reason?: string }>;
  status(): Promise<AgentStatus>;
  endpoints: EndpointReader | undefined;
}

export function statusRoutes(deps: StatusRouteDeps): Route[] {
  const reader = (): EndpointReader => {
    if (!deps.endpoints) {
      throw new FairwayError(
        AGENT_ERRORS.noBackend,
        'agent has no endpoint module (module "endpoint" is not in its module list)',
      );
    }
    return deps.endpoints;
  };
  return [
    {
      method: "GET",
      path: ROUTES.healthz,
      // The process is alive and its loop turns: nothing else is checked.
      handler: async () => ({ body: { ok: true } }),
    },
    {
      method: "GET",
      path: ROUTES.readyz,
      async handler() {
        const r = await deps.readiness();
        if (r.ready) return { body: { ready: true } };
        throw new FairwayError(AGENT_ERRORS.notReady, `not ready: ${r.reason ?? "unknown"}`, {
          kind: "transient",
        });
      },
    },
    {
      method: "GET",
      path: ROUTES.status,
      handler: async () => ({ body: await deps.status() }),
    },
    {
      method: "GET",
      path: ROUTES.endpoints,
      handler: async () => ({ body: await reader().listEndpoints() }),
    },
    {
      method: "GET",
      path: `${ROUTES.endpoints}/:id`,
      async handler({ params }) {
        const id = params.id!;
        const endpoint = await reader().getEndpoint(id);
        if (!endpoint)
          throw new FairwayError(AGENT_ERRORS.notFound, `no endpoint "${id}"`, { details: { id } });
        return { body: endpoint };
      },
    },
  ];
}
