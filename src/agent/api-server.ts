// HTTP/1.1 over the agent's unix socket: a small route table, JSON in and out,
// errors as data ({code, message, details, kind}) with an HTTP status that
// matches the code.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { AGENT_ERRORS, type ApiError } from "../base/api.ts";
import { errorMessage, FairwayError, isFairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";

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
}

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

export function createApiServer(routes: readonly Route[], log: Logger): Server {
  const table = routes.map((r) => ({ ...r, segments: r.path.split("/") }));
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      log.error({ err }, "API handler crashed");
      if (!res.headersSent) send(res, 500, toApiError(err));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://agent");
    const segments = url.pathname.split("/");
    const matches = table.filter(
      (r) => r.segments.length === segments.length && match(r.segments, segments) !== undefined,
    );
    const route = matches.find((r) => r.method === req.method);
    if (!route) {
      req.resume();
      if (matches.length > 0) {
        res.setHeader("allow", matches.map((r) => r.method).join(", "));
        send(
          res,
          405,
          apiError(AGENT_ERRORS.badRequest, `${req.method} is not allowed on ${url.pathname}`),
        );
      } else
        send(res, 404, apiError(AGENT_ERRORS.notFound, `no route ${req.method} ${url.pathname}`));
      return;
    }
    const params = match(route.segments, segments)!;
    let body: unknown;
    try {
      if (req.method === "POST") body = await readJson(req);
      else req.resume();
    } catch (err) {
      send(res, 400, toApiError(err));
      return;
    }
    const t0 = performance.now();
    try {
      const reply = await route.handler({ params, body });
      send(res, reply.status ?? 200, reply.body);
    } catch (err) {
      const error = toApiError(err);
      const status = httpStatusFor(error);
      if (status >= 500 && error.kind === "bug")
        log.error({ err, route: route.path }, "request failed");
      send(res, status, error);
    } finally {
      log.debug(
        { method: req.method, path: url.pathname, ms: Math.round(performance.now() - t0) },
        "request",
      );
    }
  }
  return server;
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

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
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
