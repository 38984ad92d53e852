// Named network namespaces under /run/netns, compatible with iproute2 (`ip netns
// list|exec|del` see ours, and we see theirs). Everything else in datapath/net
// takes a namespace *path*; these helpers turn names into paths.

import { readdirSync, statfsSync } from "node:fs";
import { loadNative } from "../native/binding.ts";
import { NetErrorCode, netError, translateError } from "./errors.ts";
import { closeNetlinkSocket } from "./socket.ts";

export const NETNS_RUN_DIR = "/run/netns";
const NSFS_MAGIC = 0x6e736673;

function checkNetnsName(name: string): void {
  if (!name || name === "." || name === ".." || name.includes("/") || name.length > 255) {
    throw netError(NetErrorCode.INVALID, `invalid network namespace name "${name}"`, {
      details: { netns: name },
    });
  }
}

/** Path of a namespace: a name means /run/netns/<name>; a path is returned as is. */
export function netnsPath(nameOrPath: string): string {
  if (nameOrPath.startsWith("/")) return nameOrPath;
  checkNetnsName(nameOrPath);
  return `${NETNS_RUN_DIR}/${nameOrPath}`;
}

/** The namespace of a process. */
export function pidNetnsPath(pid: number): string {
  return `/proc/${pid}/ns/net`;
}

/** True when the path is a mounted namespace (not just a leftover file). */
export function netnsExists(nameOrPath: string): boolean {
  try {
    return statfsSync(netnsPath(nameOrPath)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/** Names of the namespaces under /run/netns (what `ip netns list` shows). */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch {
    return [];
  }
}

/**
 * Creates a persistent namespace (as `ip netns add`): its loopback is down, like
 * iproute2 leaves it. Returns its path. E_NETNS_EXISTS when the name is taken.
 */
export async function createNetns(nameOrPath: string): Promise<string> {
  const path = netnsPath(nameOrPath);
  try {
    await loadNative().netnsCreateAsync(path);
  } catch (err) {
    if ((err as { errno?: number }).errno === 17) {
      throw netError(NetErrorCode.NETNS_EXISTS, `network namespace ${path} already exists`, {
        cause: err,
        details: { netns: path },
      });
    }
    throw translateError(err, { what: `create network namespace ${path}`, netns: path });
  }
  return path;
}

/**
 * Deletes a namespace (unmount + unlink; the kernel frees it when the last user
 * goes). Closes our cached netlink socket first, which would keep it alive.
 * E_NETNS_NOT_FOUND when it is not there, unless ifExists (then returns false).
 */
export async function deleteNetns(
  nameOrPath: string,
  options: { ifExists?: boolean } = {},
): Promise<boolean> {
  const path = netnsPath(nameOrPath);
  closeNetlinkSocket(path);
  try {
    loadNative().netnsDelete(path);
    return true;
  } catch (err) {
    const missing = (err as { errno?: number }).errno === 2;
    if (missing && options.ifExists) return false;
    if (missing) {
      throw netError(
        NetErrorCode.NETNS_NOT_FOUND,
        `cannot delete network namespace ${path}: it does not exist`,
        {
          cause: err,
          details: { netns: path },
        },
      );
    }
    throw translateError(err, { what: `delete network namespace ${path}`, netns: path });
  }
}
