// fairway-cni: one CNI operation per process. Reads CNI_* from the
// environment and the network configuration from stdin, asks the agent over
// its unix socket, prints the result (or {cniVersion, code, msg, details}) on
// stdout. Exit code 0 on success, 1 on any error.

import {
  AgentUnreachableError,
  CURRENT_CNI_VERSION,
  callAgent,
  SUPPORTED_CNI_VERSIONS,
} from "../api.ts";
import {
  type AgentCaller,
  type CommandContext,
  cmdAdd,
  cmdCheck,
  cmdDel,
  cmdGc,
  cmdStatus,
  replyError,
  TIMEOUTS_MS,
} from "./commands.ts";
import { type CniCommand, parseEnv } from "./env.ts";
import { CNI_CODES, CniError, errorOutput } from "./errors.ts";
import { parseNetConf } from "./netconf.ts";
import { checkVersion, versionOutput } from "./version.ts";

export interface PluginIo {
  env: NodeJS.ProcessEnv;
  readStdin(): Promise<Buffer>;
  write(text: string): void;
  /** replaces the real socket client (unit tests) */
  call?: (socketPath: string) => AgentCaller;
}

const HANDLERS: Record<Exclude<CniCommand, "VERSION">, (ctx: CommandContext) => Promise<string>> = {
  ADD: cmdAdd,
  DEL: cmdDel,
  CHECK: cmdCheck,
  GC: cmdGc,
  STATUS: cmdStatus,
};

export async function runPlugin(io: PluginIo): Promise<number> {
  let cniVersion: string = CURRENT_CNI_VERSION;
  try {
    const env = parseEnv(io.env);
    if (env.command === "VERSION") {
      io.write(versionOutput());
      return 0;
    }
    let stdin: string;
    try {
      stdin = (await io.readStdin()).toString("utf8");
    } catch (err) {
      throw new CniError(
        CNI_CODES.ioFailure,
        `reading the network configuration from stdin: ${(err as Error).message}`,
      );
    }
    cniVersion = peekVersion(stdin) ?? cniVersion;
    const conf = parseNetConf(stdin);
    checkVersion(conf.cniVersion, env.command);
    const call = (io.call ?? socketCaller)(conf.agentSocket);
    io.write(await HANDLERS[env.command]({ env, conf, call }));
    return 0;
  } catch (err) {
    const cniErr = toCniError(err);
    io.write(errorOutput(cniErr, cniVersion));
    return 1;
  }
}

/** The config's cniVersion, for error output, when it is one Fairway speaks. */
function peekVersion(text: string): string | undefined {
  try {
    const v = (JSON.parse(text) as { cniVersion?: unknown }).cniVersion;
    return (SUPPORTED_CNI_VERSIONS as readonly unknown[]).includes(v) ? (v as string) : undefined;
  } catch {
    return undefined;
  }
}

function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof AgentUnreachableError) {
    return new CniError(
      CNI_CODES.tryAgainLater,
      `fairway-agent is not reachable: ${err.message}`,
      "is the fairway-agent running on this node?",
    );
  }
  return new CniError(
    CNI_CODES.agentInternal,
    `fairway-cni internal error: ${(err as Error)?.message ?? String(err)}`,
  );
}

/** The real caller: HTTP over the agent's unix socket. */
export function socketCaller(socketPath: string): AgentCaller {
  return async (method, path, body, timeoutMs) => {
    const reply = await callAgent({
      socketPath,
      method,
      path,
      body,
      connectTimeoutMs: TIMEOUTS_MS.connect,
      timeoutMs,
    });
    if (reply.status >= 200 && reply.status < 300) return reply.body;
    throw replyError(reply.status, reply.body);
  };
}
