// The KubeApi the reflectors use, over @kubernetes/client-node's public HTTP
// layer: KubeConfig.applySecurityAuthentication() fills in the credentials and
// the TLS dispatcher, IsomorphicFetchHttpLibrary sends. Lists and watches both
// come back as plain JSON (the client's model classes would turn timestamps
// into Dates on one path only). We read the watch stream ourselves rather than
// through the client's Watch class so that an abort ends a request at once,
// even while connecting, and so that each request's dispatcher (one per request
// in client-node 2.x) is destroyed when the request ends: stop leaves no socket.

import { existsSync } from "node:fs";
import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { errorMessage, FairwayError } from "../base/errors.ts";
import { ClusterCode, KubeApiError } from "./errors.ts";
import type { KubeApi, ListPage, WatchEvent, WatchParams } from "./reflector.ts";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Loads a kubeconfig file, or the in-cluster config. Throws E_CLUSTER_KUBECONFIG naming what is missing. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path !== undefined) {
      kc.loadFromFile(path);
    } else {
      if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(SERVICE_ACCOUNT_TOKEN)) {
        throw new Error(
          `not running in a pod (KUBERNETES_SERVICE_HOST unset or ${SERVICE_ACCOUNT_TOKEN} missing); set cluster.kubeconfig`,
        );
      }
      kc.loadFromCluster();
    }
  } catch (err) {
    const what = path === undefined ? "in-cluster config" : `kubeconfig ${path}`;
    throw new FairwayError(ClusterCode.kubeconfig, `cannot load ${what}: ${errorMessage(err)}`, {
      cause: err,
      details: { path },
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new FairwayError(
      ClusterCode.kubeconfig,
      `kubeconfig ${path ?? "(in-cluster)"} has no current cluster`,
      {
        details: { path },
      },
    );
  }
  return kc;
}

/** A KubeApi for the kubeconfig at `path` (absent: in-cluster). */
export function connect(path?: string): KubeApi {
  return new ClientNodeKubeApi(loadKubeConfig(path));
}

type Query = Record<string, string | number | boolean | undefined>;

interface Sent {
  response: ResponseContext;
  release: () => Promise<void>;
}

export class ClientNodeKubeApi implements KubeApi {
  private readonly http = new IsomorphicFetchHttpLibrary();

  /** graceMs: how long past the server-side timeout a silent watch is given before it is dropped. */
  constructor(
    private readonly kc: KubeConfig,
    private readonly graceMs = 60_000,
  ) {}

  async list(
    path: string,
    params: { limit?: number; continue?: string },
    signal: AbortSignal,
  ): Promise<ListPage> {
    const { response, release } = await this.send(
      path,
      { limit: params.limit, continue: params.continue },
      signal,
    );
    try {
      const text = await response.body.text();
      if (response.httpStatusCode !== 200) throw statusError(path, response.httpStatusCode, text);
      const body = parseJson(path, text) as {
        items?: unknown[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      return {
        items: body.items ?? [],
        resourceVersion: body.metadata?.resourceVersion ?? "",
        continue: body.metadata?.continue,
      };
    } catch (err) {
      throw translate(path, err);
    } finally {
      await release();
    }
  }

  async watch(
    path: string,
    params: WatchParams,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const inner = new AbortController();
    const onAbort = (): void => inner.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) inner.abort();
    const silentMs = params.timeoutSeconds * 1000 + this.graceMs;
    let silent = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        silent = true;
        inner.abort();
      }, silentMs);
    };
    let release: (() => Promise<void>) | undefined;
    try {
      arm();
      const query = { watch: true, ...params };
      const sent = await this.send(path, query, inner.signal);
      release = sent.release;
      const { response } = sent;
      if (response.httpStatusCode !== 200)
        throw statusError(path, response.httpStatusCode, await response.body.text());
      const stream = response.body.stream();
      if (!stream) throw new KubeApiError(path, undefined, "watch response has no body");
      await readLines(stream, arm, (line) => {
        const event = parseJson(path, line) as WatchEvent;
        onEvent({ type: event.type, object: event.object });
      });
    } catch (err) {
      if (silent)
        throw new KubeApiError(path, undefined, `watch silent for ${silentMs} ms: dropped`);
      throw translate(path, err);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      await release?.();
    }
  }

  private async send(path: string, query: Query, signal: AbortSignal): Promise<Sent> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError(path, undefined, "the kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/+$/, "") + path);
    for (const [k, v] of Object.entries(query))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    ctx.setHeaderParam("Accept", "application/json");
    await this.kc.applySecurityAuthentication(ctx);
    ctx.setSignal(signal);
    const dispatcher = ctx.getDispatcher();
    const release = async (): Promise<void> => {
      await dispatcher?.destroy().catch(() => undefined);
    };
    try {
      return { response: await this.http.send(ctx).toPromise(), release };
    } catch (err) {
      await release();
      throw translate(path, err);
    }
  }
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onData: () => void,
  onLine: (line: string) => void,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onData();
      buffer += decoder.decode(value, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line !== "") onLine(line);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KubeApiError(path, undefined, `undecodable response: ${text.slice(0, 120)}`, {
      cause: err,
    });
  }
}

/** A non-200 answer: the API's Status message when there is one. */
function statusError(path: string, status: number, body: string): KubeApiError {
  let reason = body.slice(0, 200) || "no body";
  try {
    const parsed = JSON.parse(body) as { message?: string; reason?: string };
    reason = parsed.message ?? parsed.reason ?? reason;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeApiError(path, status, reason);
}

/** Dependency errors become KubeApiError with the original as cause; ours pass through. */
function translate(path: string, err: unknown): unknown {
  if (err instanceof KubeApiError) return err;
  if (err instanceof Error && err.name === "AbortError") return err;
  const cause = (err as { cause?: unknown }).cause;
  const detail =
    cause === undefined ? errorMessage(err) : `${errorMessage(err)}: ${errorMessage(cause)}`;
  return new KubeApiError(path, undefined, detail, { cause: err });
}
