// HTTP/1.1 over the agent's unix socket: a small route table, JSON in and out,
// errors as data ({code, message, details, kind}) with an HTTP status that
// matches the code.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { AGENT_ERRORS, type ApiError } from "../base/api.ts";
import { errorMessage, FairwayError, isFairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { SERVICE_LB_DISABLED } from "./service-routes.ts";

const MAX_BODY_BYTES = 1 << 20;

export interface RouteRequest {
  /** values of :name segments */
  params: Record<string, string>;
  /** parsed JSON body (POST), undefined for GET */
  body: unknown;
}

export interface RouteReply {
  status?: number;
  body: unknown;
  /** sent as is instead of JSON.stringify(body) (still application/json) */
  raw?: string;
  headers?: Record<string, string>;
}

/** One request through the route table, without HTTP: what the socket and in-process callers share. */
export type Dispatch = (method: string, pathname: string, body: unknown) => Promise<RouteReply>;

export interface Route {
  method: "GET" | "POST";
  /** "/v1/endpoints/:id" */
  path: string;
  handler(req: RouteRequest): Promise<RouteReply>;
}

const STATUS_BY_CODE: Record<string, number> = {
  [AGENT_ERRORS.badRequest]: 400,
  [AGENT_ERRORS.unsupportedField]: 400,
  [AGENT_ERRORS.notFound]: 404,
  [AGENT_ERRORS.containerUnknown]: 404,
  [AGENT_ERRORS.ifnameTaken]: 409,
  [AGENT_ERRORS.notReady]: 503,
  [AGENT_ERRORS.noBackend]: 503,
  [SERVICE_LB_DISABLED]: 503,
};

/** The wire form of any thrown value. */
export function toApiError(err: unknown): ApiError {
  if (isFairwayError(err)) return err.toJSON();
  return {
    code: AGENT_ERRORS.internal,
    message: `internal error: ${errorMessage(err)}`,
    details: {},
    kind: "bug",
  };
}

export function httpStatusFor(error: ApiError): number {
  return STATUS_BY_CODE[error.code] ?? (error.kind === "transient" ? 503 : 500);
}

/**
 * The route table as a function: matching (404/405), the handler, errors as
 * data with their HTTP status. The socket server and the in-process CNI exec
 * route both go through it, so they answer alike.
 */
export function createDispatch(routes: readonly Route[], log: Logger): Dispatch {
  const table = routes.map((r) => ({ ...r, segments: r.path.split("/") }));
  return async (method, pathname, body) => {
    const segments = pathname.split("/");
    const matches = table.filter(
      (r) => r.segments.length === segments.length && match(r.segments, segments) !== undefined,
    );
    const route = matches.find((r) => r.method === method);
    if (!route) {
      if (matches.length > 0) {
        return {
          status: 405,
          headers: { allow: matches.map((r) => r.method).join(", ") },
          body: apiError(AGENT_ERRORS.badRequest, `${method} is not allowed on ${pathname}`),
        };
      }
      return {
        status: 404,
        body: apiError(AGENT_ERRORS.notFound, `no route ${method} ${pathname}`),
      };
    }
    const params = match(route.segments, segments)!;
    const t0 = performance.now();
    try {
      return await route.handler({ params, body });
    } catch (err) {
      const error = toApiError(err);
      const status = httpStatusFor(error);
      if (status >= 500 && error.kind === "bug")
        log.error({ err, route: route.path }, "request failed");
      return { status, body: error };
    } finally {
      log.debug({ method, path: pathname, ms: Math.round(performance.now() - t0) }, "request");
    }
  };
}

export function createApiServer(dispatch: Dispatch, log: Logger): Server {
  return createServer((req, res) => {
    handle(req, res).catch((err) => {
      log.error({ err }, "API handler crashed");
      if (!res.headersSent) send(res, { status: 500, body: toApiError(err) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://agent");
    let body: unknown;
    try {
      if (req.method === "POST") body = await readJson(req);
      else req.resume();
    } catch (err) {
      send(res, { status: 400, body: toApiError(err) });
      return;
    }
    send(res, await dispatch(req.method ?? "GET", url.pathname, body));
  }
}

function match(pattern: string[], actual: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(":")) {
      if (a === "") return undefined;
      params[p.slice(1)] = decodeURIComponent(a);
    } else if (p !== a) return undefined;
  }
  return params;
}

function apiError(code: string, message: string): ApiError {
  return { code, message, details: {}, kind: "expected" };
}

function send(res: ServerResponse, reply: RouteReply): void {
  const text = reply.raw ?? (reply.body === undefined ? "" : JSON.stringify(reply.body));
  res.writeHead(reply.status ?? 200, {
    ...reply.headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new FairwayError(
        AGENT_ERRORS.badRequest,
        `request body larger than ${MAX_BODY_BYTES} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FairwayError(
      AGENT_ERRORS.badRequest,
      `request body is not valid JSON: ${errorMessage(err)}`,
    );
  }
}
