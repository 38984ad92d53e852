// Numeric identity ranges and the reserved identities, numbered as Cilium
// numbers them so that flows, map dumps and people's habits carry over.
//
//   0                 "any" in policy keys (never an identity of a packet)
//   1..255            reserved identities (below)
//   256..65535        identities of label sets (pods), node-local allocation now,
//                     cluster-wide (CRD or kvstore) later; same numbering
//   16777216..        CIDR identities (1 << 24 up), node-local: each CIDR a
//                     policy names, derived from "world"

export const ANY_IDENTITY = 0;

export const ReservedIdentity = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  remoteNode: 6,
  kubeApiserver: 7,
} as const;

export type ReservedName =
  | "host"
  | "world"
  | "unmanaged"
  | "health"
  | "init"
  | "remote-node"
  | "kube-apiserver";

/** Reserved identities by name, with the label that names each ("reserved:host"). */
export const RESERVED_IDENTITIES: readonly { readonly id: number; readonly name: ReservedName }[] =
  Object.freeze([
    { id: ReservedIdentity.host, name: "host" },
    { id: ReservedIdentity.world, name: "world" },
    { id: ReservedIdentity.unmanaged, name: "unmanaged" },
    { id: ReservedIdentity.health, name: "health" },
    { id: ReservedIdentity.init, name: "init" },
    { id: ReservedIdentity.remoteNode, name: "remote-node" },
    { id: ReservedIdentity.kubeApiserver, name: "kube-apiserver" },
  ]);

export interface IdentityRange {
  readonly first: number;
  readonly last: number;
}

/** Identities of label sets (pods). */
export const ENDPOINT_IDENTITY_RANGE: IdentityRange = Object.freeze({ first: 256, last: 65_535 });

/** Node-local CIDR identities (Cilium's local scope starts at 1 << 24). */
export const CIDR_IDENTITY_RANGE: IdentityRange = Object.freeze({
  first: 1 << 24,
  last: (1 << 24) + 0xff_ffff,
});

export function isReserved(id: number): boolean {
  return id >= 1 && id < ENDPOINT_IDENTITY_RANGE.first;
}

export function isCidrIdentity(id: number): boolean {
  return id >= CIDR_IDENTITY_RANGE.first && id <= CIDR_IDENTITY_RANGE.last;
}

export function reservedName(id: number): ReservedName | undefined {
  return RESERVED_IDENTITIES.find((r) => r.id === id)?.name;
}
