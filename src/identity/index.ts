// Identities, the public face: a pod's security labels -> a numeric identity
// (node-local allocation that survives restarts; reserved identities as Cilium
// numbers them; CIDR identities for the CIDRs policies name), and the
// ipcache's desired state (IP/CIDR -> identity for every known pod, node and
// policy CIDR). Pure: no datapath yet. Other folders import this file only.
// See README.md.

export {
  type IdentityAllocator,
  MemoryIdentityAllocator,
  NumberPool,
  releaseUnused,
} from "./allocator.ts";
export {
  DEFAULT_EXCLUDED_LABELS,
  type IdentityConfig,
  identityConfigSchema,
  type KeyFilter,
  labelFilter,
  parseIdentityConfig,
} from "./config.ts";
export { formatIdentity, formatIdentityTable, formatIpcache } from "./debug.ts";
export { IdentityCode, type IdentityCodeValue } from "./errors.ts";
export {
  buildIpcache,
  type Ipcache,
  type IpcacheEntry,
  IpcacheIndex,
  type IpcacheInput,
  type IpcacheSource,
  podAddresses,
} from "./ipcache.ts";
export {
  canonicalLabels,
  K8S_SOURCE,
  KEEP_ALL,
  labelsKey,
  NAMESPACE_KEY,
  NAMESPACE_LABELS_PREFIX,
  NAMESPACE_NAME_LABEL,
  normalizeSelectorKey,
  type SecurityLabels,
  securityLabels,
  selectorView,
} from "./labels.ts";
export {
  comparePrefixes,
  type Family,
  familyBits,
  makePrefix,
  type Prefix,
  parsePrefix,
  prefixContains,
  prefixOfAddress,
  prefixProblem,
  tryPrefixOfAddress,
} from "./prefix.ts";
export {
  ANY_IDENTITY,
  CIDR_IDENTITY_RANGE,
  ENDPOINT_IDENTITY_RANGE,
  type IdentityRange,
  isCidrIdentity,
  isReserved,
  RESERVED_IDENTITIES,
  ReservedIdentity,
  type ReservedName,
  reservedName,
} from "./reserved.ts";
export { IDENTITY_MIGRATIONS, SqliteIdentityAllocator } from "./sqlite.ts";
export {
  buildIdentityTable,
  createIdentityAllocators,
  type Identity,
  type IdentityAllocators,
  type IdentityInput,
  type IdentityKind,
  type IdentityTable,
  isPodEndpoint,
  podKey,
  tableKeys,
} from "./table.ts";
