// The CLI's side of the agent socket: one call, errors turned into messages a
// person can act on.
import {
  type AgentReply,
  AgentUnreachableError,
  callAgent,
  DEFAULT_AGENT_SOCKET,
  isApiError,
} from "../base/api.ts";
import { FairwayError } from "../base/errors.ts";

export function socketFrom(flag: string | undefined): string {
  return flag ?? process.env.FAIRWAY_SOCKET ?? DEFAULT_AGENT_SOCKET;
}

/** GETs a route; throws a FairwayError naming the socket or the agent's error. */
export async function getJson<T>(
  socketPath: string,
  path: string,
): Promise<{ status: number; body: T }> {
  let reply: AgentReply;
  try {
    reply = await callAgent({
      socketPath,
      method: "GET",
      path,
      connectTimeoutMs: 1000,
      timeoutMs: 10_000,
    });
  } catch (err) {
    if (err instanceof AgentUnreachableError) {
      throw new FairwayError(
        "E_AGENT_UNREACHABLE",
        `${err.message}: is fairway-agent running? (--socket or FAIRWAY_SOCKET select another socket)`,
        { cause: err },
      );
    }
    throw err;
  }
  if (reply.status >= 400 && reply.status !== 503 && isApiError(reply.body)) {
    throw new FairwayError(reply.body.code, reply.body.message, {
      details: reply.body.details ?? {},
    });
  }
  return { status: reply.status, body: reply.body as T };
}
