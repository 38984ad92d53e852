// POST /v1/cni/exec: the CNI plugin, run inside the agent for the C front end
// (native/cni/fairway-cni.c). The body is what the runtime gave the plugin
// process ({env: CNI_* vars, stdin}); the answer is what the plugin would have
// printed (raw body) and its exit code (header x-cni-exit-code).
//
// The plugin's agent calls go through the same route table as socket requests
// (validation, not-ready gating, per-attachment locks, DEL queueing), only
// without a socket: bodies are JSON round-tripped so each side sees exactly
// what it would have seen over the wire.

import { AGENT_ERRORS, CNI_EXEC_EXIT_HEADER, ROUTES } from "../base/api.ts";
import type { AgentCaller } from "../base/cni/commands.ts";
import { replyError } from "../base/cni/commands.ts";
import { runPlugin } from "../base/cni/plugin.ts";
import { FairwayError } from "../base/errors.ts";
import type { Dispatch, Route } from "./api-server.ts";

interface ExecRequest {
  env: Record<string, string>;
  stdin: string;
}

export function cniExecRoute(dispatch: Dispatch): Route {
  const call: AgentCaller = async (method, path, body) => {
    const wire = body === undefined ? undefined : JSON.parse(JSON.stringify(body));
    const reply = await dispatch(method, path, wire);
    const status = reply.status ?? 200;
    const answer = reply.body === undefined ? undefined : JSON.parse(JSON.stringify(reply.body));
    if (status >= 200 && status < 300) return answer;
    throw replyError(status, answer);
  };
  return {
    method: "POST",
    path: ROUTES.cniExec,
    async handler({ body }) {
      const req = parseExecRequest(body);
      let out = "";
      const code = await runPlugin({
        env: req.env,
        readStdin: async () => Buffer.from(req.stdin, "utf8"),
        write: (text) => {
          out += text;
        },
        call: () => call,
      });
      return { body: undefined, raw: out, headers: { [CNI_EXEC_EXIT_HEADER]: String(code) } };
    },
  };
}

function parseExecRequest(body: unknown): ExecRequest {
  const b = body as Partial<Record<keyof ExecRequest, unknown>> | undefined;
  const env = b?.env;
  const envOk =
    typeof env === "object" &&
    env !== null &&
    !Array.isArray(env) &&
    Object.values(env).every((v) => typeof v === "string");
  if (!envOk || typeof b?.stdin !== "string") {
    throw new FairwayError(
      AGENT_ERRORS.badRequest,
      "invalid CNI exec request: expected {env: {name: string}, stdin: string}",
    );
  }
  return { env: env as Record<string, string>, stdin: b.stdin };
}
