// The API socket's file: claimed before any module starts (so two agents never
// drive one node), created with mode 0600, removed at stop only if it is still
// the one this process created.

import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import type { Server } from "node:http";
import { dirname } from "node:path";
import { AgentUnreachableError, callAgent, ROUTES } from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";

/**
 * Makes `path` free for this agent: removes a stale socket file, refuses when
 * another process answers on it or when the path is not a socket.
 */
export async function claimSocketPath(path: string, log: Logger): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isSocket) {
    throw new FairwayError(
      "E_SOCKET_PATH",
      `${path} exists and is not a socket; refusing to replace it`,
      {
        details: { path },
      },
    );
  }
  try {
    const reply = await callAgent({
      socketPath: path,
      method: "GET",
      path: ROUTES.status,
      connectTimeoutMs: 1000,
      timeoutMs: 2000,
    });
    const pid = (reply.body as { pid?: unknown } | undefined)?.pid;
    throw new FairwayError(
      "E_AGENT_RUNNING",
      `another fairway-agent${typeof pid === "number" ? ` (pid ${pid})` : ""} answers on ${path}; refusing to start`,
      { details: { path, pid } },
    );
  } catch (err) {
    if (!(err instanceof AgentUnreachableError)) throw err;
    if (err.reason !== "connect") {
      // Something accepted the connection but did not answer: still alive.
      throw new FairwayError(
        "E_AGENT_RUNNING",
        `a process accepts connections on ${path} but does not answer; refusing to start`,
        {
          details: { path },
        },
      );
    }
  }
  unlinkSync(path);
  log.info({ path }, "removed stale API socket");
}

/** Identifies the socket file this process created (inode numbers alone get reused). */
export interface SocketIdentity {
  ino: number;
  ctimeMs: number;
}

/** Listens on `path` with mode 0600 from the first moment; returns the socket file's identity. */
export async function listenUnix(server: Server, path: string): Promise<SocketIdentity> {
  const listening = new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.once("listening", () => {
      server.off("error", onError);
      resolve();
    });
  });
  // Node binds a unix socket synchronously inside listen(), so the narrowed
  // umask covers exactly the bind and no other file this process creates.
  const previous = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(previous);
  }
  await listening;
  chmodSync(path, 0o600);
  const st = statSync(path);
  return { ino: st.ino, ctimeMs: st.ctimeMs };
}

/** Removes the socket file if it is still the one this process created (server.close usually did already). */
export function releaseSocketPath(path: string, ours: SocketIdentity): void {
  try {
    const st = statSync(path);
    if (st.isSocket() && st.ino === ours.ino && st.ctimeMs === ours.ctimeMs) unlinkSync(path);
  } catch {
    // already gone
  }
}
