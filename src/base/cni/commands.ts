// ADD, DEL, CHECK, GC and STATUS: build the agent request, call the agent,
// turn the answer into CNI output.

import { dirname, join } from "node:path";
import {
  AgentUnreachableError,
  type CniRequest,
  type CniResult,
  type CniStatus,
  DEL_QUEUE_DIR,
  isApiError,
  ROUTES,
  writeDelQueueEntry,
} from "../api.ts";
import { type CniEnv, podFromArgs } from "./env.ts";
import { CNI_CODES, CniError, fromAgentError } from "./errors.ts";
import type { NetConf } from "./netconf.ts";
import { convertResult, isObject, mergeChained, normalizePrevResult } from "./result.ts";

/** One exchange with the agent: resolves with a 2xx body, rejects with AgentUnreachableError or CniError. */
export type AgentCaller = (
  method: "GET" | "POST",
  path: string,
  body: unknown,
  timeoutMs: number,
) => Promise<unknown>;

export const TIMEOUTS_MS = {
  /** connect: an unreachable agent fails the plugin well within 1 s */
  connect: 500,
  add: 60_000,
  del: 30_000,
  check: 10_000,
  gc: 60_000,
  status: 2_000,
} as const;

export interface CommandContext {
  env: CniEnv;
  conf: NetConf;
  call: AgentCaller;
}

/** The body of ADD, DEL and CHECK. */
export function buildRequest(env: CniEnv, conf: NetConf): CniRequest {
  const req: CniRequest = {
    network: conf.name,
    cniVersion: conf.cniVersion,
    containerId: env.containerId!,
    ifname: env.ifname!,
    args: env.args,
  };
  if (env.netns) req.netns = env.netns;
  const pod = podFromArgs(env.args);
  if (pod) req.pod = pod;
  if (conf.runtimeConfig) req.runtimeConfig = conf.runtimeConfig;
  if (conf.args) req.configArgs = conf.args;
  if (conf.prevResult !== undefined) req.prevResult = normalizePrevResult(conf.prevResult);
  if (conf.mtu !== undefined) req.mtu = conf.mtu;
  if (conf.dns) req.dns = conf.dns;
  return req;
}

/** ADD: the agent's result, merged into prevResult when chained, in the config's version. */
export async function cmdAdd({ env, conf, call }: CommandContext): Promise<string> {
  const req = buildRequest(env, conf);
  const reply = await call("POST", ROUTES.cniAdd, req, TIMEOUTS_MS.add);
  const ours = asResult(reply);
  const result = req.prevResult ? mergeChained(req.prevResult, ours) : ours;
  return `${JSON.stringify(convertResult(result, conf.cniVersion))}\n`;
}

/**
 * DEL must succeed as far as it can (spec). When the agent cannot be reached,
 * the request is queued next to the agent's socket and replayed by the agent
 * once it is ready; DEL then succeeds. It fails (code 11, the runtime retries)
 * only when even the queue cannot be written.
 */
export async function cmdDel({ env, conf, call }: CommandContext): Promise<string> {
  const req = buildRequest(env, conf);
  try {
    await call("POST", ROUTES.cniDel, req, TIMEOUTS_MS.del);
  } catch (err) {
    if (!(err instanceof AgentUnreachableError)) throw err;
    const dir = join(dirname(conf.agentSocket), DEL_QUEUE_DIR);
    try {
      writeDelQueueEntry(dir, { queuedAt: new Date().toISOString(), by: "plugin", request: req });
    } catch (writeErr) {
      throw new CniError(
        CNI_CODES.tryAgainLater,
        `${err.message}; and the DEL could not be queued in ${dir}`,
        (writeErr as Error).message,
      );
    }
  }
  return "";
}

export async function cmdCheck({ env, conf, call }: CommandContext): Promise<string> {
  if (conf.prevResult === undefined) {
    throw new CniError(
      CNI_CODES.invalidConfig,
      "invalid network configuration: prevResult is required for CHECK",
    );
  }
  await call("POST", ROUTES.cniCheck, buildRequest(env, conf), TIMEOUTS_MS.check);
  return "";
}

export async function cmdGc({ conf, call }: CommandContext): Promise<string> {
  const body = {
    network: conf.name,
    cniVersion: conf.cniVersion,
    validAttachments: conf.validAttachments ?? [],
  };
  await call("POST", ROUTES.cniGc, body, TIMEOUTS_MS.gc);
  return "";
}

/** STATUS: 50 when ADD cannot be served (agent unreachable or not ready), 51 when pods may also suffer. */
export async function cmdStatus({ call }: CommandContext): Promise<string> {
  let status: CniStatus;
  try {
    status = (await call("GET", ROUTES.cniStatus, undefined, TIMEOUTS_MS.status)) as CniStatus;
  } catch (err) {
    if (err instanceof AgentUnreachableError) {
      throw new CniError(CNI_CODES.pluginNotAvailable, `plugin not available: ${err.message}`);
    }
    throw err;
  }
  if (!isObject(status) || typeof status.ready !== "boolean") {
    throw new CniError(
      CNI_CODES.agentProtocol,
      "agent answered STATUS with an unexpected body",
      JSON.stringify(status),
    );
  }
  if (!status.ready) {
    const code = status.limitedConnectivity
      ? CNI_CODES.limitedConnectivity
      : CNI_CODES.pluginNotAvailable;
    throw new CniError(code, `plugin not available: ${status.reason ?? "agent not ready"}`);
  }
  return "";
}

function asResult(body: unknown): CniResult {
  try {
    if (!isObject(body) || typeof body.cniVersion !== "string") throw new Error("no cniVersion");
    return normalizePrevResult(body);
  } catch {
    throw new CniError(
      CNI_CODES.agentProtocol,
      "agent answered ADD without a valid CNI result",
      show(body),
    );
  }
}

/** Turns a non-2xx answer into the CNI error it stands for. */
export function replyError(status: number, body: unknown): CniError {
  if (isApiError(body)) return fromAgentError(body);
  return new CniError(
    CNI_CODES.agentProtocol,
    `agent answered HTTP ${status} without an error body`,
    show(body),
  );
}

function show(body: unknown): string {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return (text ?? "").slice(0, 200);
}
