// Host-side veth names, derived from the attachment alone (as Cilium's
// lxc<hash>): <prefix><hex of sha256(containerId "/" ifname)>, 15 characters.
// The same attachment always gets the same name, so DEL finds the link even
// without a record, and a restart can tell Fairway's links (by prefix) from
// everyone else's.

import { createHash } from "node:crypto";

/** IFNAMSIZ - 1 */
export const IFNAME_MAX = 15;
/** A prefix leaves at least 8 hex digits (32 bits) of hash. */
export const MAX_PREFIX_LEN = 7;

export function hostIfnameFor(prefix: string, containerId: string, ifname: string): string {
  const hash = createHash("sha256").update(`${containerId}/${ifname}`).digest("hex");
  return prefix + hash.slice(0, IFNAME_MAX - prefix.length);
}

/** True when `name` has the shape of a host veth this prefix names. */
export function isHostIfname(prefix: string, name: string): boolean {
  if (name.length !== IFNAME_MAX || !name.startsWith(prefix)) return false;
  return /^[0-9a-f]+$/.test(name.slice(prefix.length));
}
