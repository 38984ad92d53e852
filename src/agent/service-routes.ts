// GET /v1/services: the service load-balancer table and what the datapath made
// of it, read from the instance of the "service" module. Without that module
// the route answers 503 E_SERVICE_LB_DISABLED.

import { ROUTES } from "../base/api.ts";
import { BugError, FairwayError } from "../base/errors.ts";
import type { ServiceStatus } from "../service/index.ts";
import type { Route } from "./api-server.ts";

/** The module whose instance serves /v1/services. */
export const SERVICE_MODULE_ID = "service";

/** The agent was built without the "service" module (HTTP 503). */
export const SERVICE_LB_DISABLED = "E_SERVICE_LB_DISABLED";

/** Read side of the "service" module. Must be cheap: it reads in-memory state. */
export interface ServiceStatusSource {
  serviceStatus(): ServiceStatus;
}

/** The source in a module instance: undefined when there is no instance; a bug when it lacks serviceStatus(). */
export function serviceStatusSource(instance: unknown): ServiceStatusSource | undefined {
  if (instance === undefined) return undefined;
  const v = instance as Partial<Record<keyof ServiceStatusSource, unknown>>;
  if (typeof v.serviceStatus !== "function") {
    throw new BugError(
      `module "${SERVICE_MODULE_ID}" does not implement ServiceStatusSource (serviceStatus)`,
    );
  }
  return instance as ServiceStatusSource;
}

export function serviceRoutes(source: ServiceStatusSource | undefined): Route[] {
  return [
    {
      method: "GET",
      path: ROUTES.services,
      async handler() {
        if (!source) {
          throw new FairwayError(
            SERVICE_LB_DISABLED,
            "service load balancing is not enabled in this agent",
            { details: { module: SERVICE_MODULE_ID } },
          );
        }
        return { body: source.serviceStatus() };
      },
    },
  ];
}
