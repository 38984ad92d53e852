// rtnetlink sockets per namespace path, opened on first use and kept. A socket
// pins its namespace (the kernel holds a reference), so deleteNetns closes the
// sockets of that path, and closeNetlinkSockets() closes them all.
//
// Each socket has a queue: at most one of its requests is on the libuv pool at a
// time, so the binding's per-socket mutex never blocks a pool thread. When
// requests on one namespace overlap, more sockets are opened for it (up to
// `maxSocketsPerNetns`): some requests hold their caller for tens of ms inside
// the kernel (a link delete waits for RCU before it ACKs), and one socket would
// make every other request of that namespace wait behind them.

import { statSync } from "node:fs";
import { loadNative, type NativeNetlinkSocket } from "../native/binding.ts";
import { type FailureContext, translateError } from "./errors.ts";
import { NETLINK_ROUTE } from "./uapi.ts";

interface Conn {
  sock: NativeNetlinkSocket;
  /** Requests queued or in flight on this socket. */
  pending: number;
  tail: Promise<unknown>;
}

interface Group {
  /** Inode of the namespace the sockets live in; 0 for the current namespace. */
  ino: number;
  conns: Conn[];
}

const groups = new Map<string, Group>();
let maxSocketsPerNetns = 4;

/** How many sockets one namespace may use at once (default 4, the libuv pool size). */
export function setMaxSocketsPerNetns(n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`maxSocketsPerNetns must be >= 1, got ${n}`);
  maxSocketsPerNetns = n;
}

/** Inode of a namespace file, 0 when absent. */
function nsInode(netns: string): number {
  return statSync(netns, { throwIfNoEntry: false })?.ino ?? 0;
}

function groupFor(netns: string): Group {
  let group = groups.get(netns);
  // A namespace deleted and re-created under the same path (or deleted by someone
  // else) must not be served by old sockets, which still hold the old namespace.
  if (group && netns !== "" && nsInode(netns) !== group.ino) {
    closeNetlinkSocket(netns);
    group = undefined;
  }
  if (!group) {
    group = { ino: netns === "" ? 0 : nsInode(netns), conns: [] };
    groups.set(netns, group);
  }
  return group;
}

/** An idle socket, else a new one while under the cap, else the least busy. */
function connFor(netns: string, ctx: FailureContext): Conn {
  const group = groupFor(netns);
  let best: Conn | undefined;
  for (const c of group.conns) if (!best || c.pending < best.pending) best = c;
  if (best && (best.pending === 0 || group.conns.length >= maxSocketsPerNetns)) return best;
  try {
    const conn = {
      sock: loadNative().netlinkOpen(NETLINK_ROUTE, netns),
      pending: 0,
      tail: Promise.resolve(),
    };
    group.conns.push(conn);
    return conn;
  } catch (err) {
    if (group.conns.length === 0) groups.delete(netns);
    throw translateError(err, ctx);
  }
}

/**
 * Sends one rtnetlink request in `netns` and returns the reply messages. Errors
 * are translated with ctx (which names what was being done). Requests are not
 * ordered against each other unless the caller awaits one before the next.
 */
export function rtnlRequest(
  netns: string | undefined,
  message: Uint8Array,
  ctx: FailureContext,
): Promise<Buffer[]> {
  let conn: Conn;
  try {
    conn = connFor(netns ?? "", ctx);
  } catch (err) {
    return Promise.reject(err);
  }
  conn.pending++;
  const result = conn.tail.then(() => conn.sock.requestAsync(message));
  conn.tail = result.then(
    () => conn.pending--,
    () => conn.pending--,
  );
  return result.catch((err: unknown) => {
    throw translateError(err, ctx);
  });
}

/**
 * A dump request. The kernel flags a dump that raced with a change
 * (NLM_F_DUMP_INTR, reported as EINTR); it is retried a few times.
 */
export async function rtnlDump(
  netns: string | undefined,
  message: Uint8Array,
  ctx: FailureContext,
): Promise<Buffer[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await rtnlRequest(netns, message, ctx);
    } catch (err) {
      const errno = (err as { details?: { errno?: string } }).details?.errno;
      if (errno !== "EINTR" || attempt >= 3) throw err;
    }
  }
}

/** Closes the cached sockets of one namespace path (no-op when none). */
export function closeNetlinkSocket(netns: string | undefined): void {
  const key = netns ?? "";
  const group = groups.get(key);
  if (!group) return;
  groups.delete(key);
  for (const c of group.conns) c.sock.close();
}

/** Closes every cached socket (agent shutdown, end of tests). */
export function closeNetlinkSockets(): void {
  for (const key of [...groups.keys()]) closeNetlinkSocket(key);
}

/** Namespace paths with open sockets and how many, for `fairway debug` and leak checks in tests. */
export function openNetlinkSockets(): Record<string, number> {
  return Object.fromEntries(
    [...groups].map(([k, g]) => [k === "" ? "(current)" : k, g.conns.length]),
  );
}
