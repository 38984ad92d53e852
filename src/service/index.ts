// Services, the public face: Services + EndpointSlices from the cluster store
// -> the desired load-balancer table (frontends -> backends), stable IDs, and
// the Maglev table builder. No datapath yet. Other folders import this file
// only. See README.md.

export type { Algorithm, ServiceConfig } from "./config.ts";
export {
  ALGORITHM_ANNOTATION,
  ALGORITHMS,
  parseServiceConfig,
  serviceConfigSchema,
} from "./config.ts";
export { formatService, formatServiceTable } from "./debug.ts";
export { hostPort } from "./endpoints.ts";
export { ServiceCode, type ServiceCodeValue } from "./errors.ts";
export { type IdAllocator, MemoryIdAllocator } from "./ids.ts";
export { type LbIds, LbSync, type SyncResult } from "./lb-sync.ts";
export {
  buildMaglevTable,
  DEFAULT_MAGLEV_TABLE_SIZE,
  isPrime,
  MAX_MAGLEV_TABLE_SIZE,
  maglevSizeProblem,
  murmur3,
} from "./maglev.ts";
export {
  backendKey,
  buildService,
  buildServiceTable,
  createServiceIds,
  frontendKey,
  type ModelInput,
  type NodeContext,
  SERVICE_NAME_LABEL,
  type ServiceIds,
  serviceKey,
} from "./model.ts";
export {
  parseServiceModuleConfig,
  ServiceModule,
  type ServiceModuleConfig,
  serviceModule,
} from "./module.ts";
export {
  type FrontendStatus,
  type ProgrammedLookup,
  type ServiceDatapathStatus,
  type ServiceEntryStatus,
  type ServiceStatus,
  serviceStatus,
} from "./status.ts";
export type * from "./types.ts";
export { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from "./validate.ts";
export { ServiceModel, type ServiceModelOptions, type ServiceTableListener } from "./watch.ts";
