// One kind's list+watch loop (a "reflector"), written against the small
// KubeApi interface so that its state machine is tested without a server:
//
//   relist ──> watch from resourceVersion ──┬─ stream ended / resync ─> watch again (or relist)
//     ^                                      ├─ 410 Gone (status or ERROR event) ─> relist now
//     └──────────── backoff <────────────────┴─ any other failure ─> backoff, then retry
//
// A relist replaces the kind's table in the store (deletes missed while
// disconnected show up here). Backoff is exponential with jitter and resets
// once a list succeeds or a watch delivers. stop() aborts the request in
// flight and returns when the loop has ended.

import { errorMessage } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { isGone, KubeApiError } from "./errors.ts";
import { collectionPath, KINDS, type KindName, type ObjectOf, objectKey } from "./kinds.ts";
import type { KindStatus } from "./source.ts";
import type { ClusterStore } from "./store.ts";
import type { KubeObject } from "./types.ts";

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  /** Continue token; empty or absent on the last page. */
  continue?: string;
}

export interface WatchEvent {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON from the API server
  object: any;
}

export interface WatchParams {
  resourceVersion: string;
  allowWatchBookmarks: boolean;
  /** The server ends the watch after this long. */
  timeoutSeconds: number;
}

/** The slice of the Kubernetes API a reflector uses. Errors carry the HTTP status as KubeApiError. */
export interface KubeApi {
  list(
    path: string,
    params: { limit?: number; continue?: string },
    signal: AbortSignal,
  ): Promise<ListPage>;
  /**
   * Streams events to onEvent. Resolves when the server ends the stream, rejects
   * on a failure. When `signal` aborts it settles either way and the caller
   * ignores the outcome.
   */
  watch(
    path: string,
    params: WatchParams,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export interface ReflectorOptions {
  kind: KindName;
  api: KubeApi;
  store: ClusterStore;
  log: Logger;
  backoff?: BackoffOptions;
  /** Objects per list page (default 500). */
  pageSize?: number;
  /** Server-side watch timeout range in seconds (default 300-600, picked at random per watch). */
  watchTimeoutSeconds?: readonly [number, number];
  /** Waits ms, or less when the signal aborts. Injected by tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/** The wait before retry number `failures` (1-based): exponential, capped, with 50-100% jitter. */
export function backoffDelay(
  failures: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.5 + random() / 2));
}

export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export class Reflector {
  readonly status: KindStatus;
  private readonly opts: Required<Omit<ReflectorOptions, "api" | "store" | "log" | "kind">>;
  private readonly stopSignal = new AbortController();
  private watchAbort: AbortController | undefined;
  private relistRequested = false;
  private running: Promise<void> | undefined;
  private readonly path: string;

  constructor(private readonly o: ReflectorOptions) {
    this.opts = {
      backoff: o.backoff ?? DEFAULT_BACKOFF,
      pageSize: o.pageSize ?? 500,
      watchTimeoutSeconds: o.watchTimeoutSeconds ?? [300, 600],
      sleep: o.sleep ?? abortableSleep,
      random: o.random ?? Math.random,
    };
    this.path = collectionPath(o.kind);
    this.status = {
      kind: o.kind,
      synced: false,
      lists: 0,
      watches: 0,
      gone: 0,
      errors: 0,
      resourceVersion: "",
    };
  }

  /** Starts the loop in the background. */
  start(): void {
    if (this.running) return;
    this.running = this.loop();
  }

  /** Asks for a full relist: the current watch ends and the kind is listed again. */
  resync(): void {
    this.relistRequested = true;
    this.watchAbort?.abort();
  }

  async stop(): Promise<void> {
    this.stopSignal.abort();
    this.watchAbort?.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopSignal.signal.aborted;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let goneInARow = 0;
    while (!this.stopped) {
      try {
        if (this.status.resourceVersion === "" || this.relistRequested) {
          await this.relist();
          failures = 0;
        }
        if (this.stopped) break;
        if (await this.watchOnce()) {
          failures = 0;
          goneInARow = 0;
          continue;
        }
        failures = Math.max(failures, 1); // ended at once without an error: do not spin
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.status.gone++;
          this.status.resourceVersion = "";
          this.o.log.info(
            { kind: this.o.kind, err: errorMessage(err) },
            "resourceVersion expired (410 Gone): relisting",
          );
          // the first relists at once; 410s in a row without progress back off like failures
          if (++goneInARow === 1) continue;
        }
        failures++;
        this.status.errors++;
        this.status.lastError = errorMessage(err);
        this.o.log.warn(
          { kind: this.o.kind, err: errorMessage(err), failures },
          "list/watch failed; retrying",
        );
      }
      await this.opts.sleep(
        backoffDelay(failures, this.opts.backoff, this.opts.random),
        this.stopSignal.signal,
      );
    }
  }

  /** Lists every page and replaces the kind's table. A 410 on a later page restarts as one unpaged list. */
  private async relist(): Promise<void> {
    let items: unknown[] = [];
    let rv = "";
    let token: string | undefined;
    let limit: number | undefined = this.opts.pageSize;
    while (!this.stopped) {
      let page: ListPage;
      try {
        page = await this.o.api.list(this.path, { limit, continue: token }, this.stopSignal.signal);
      } catch (err) {
        if (!(isGone(err) && token !== undefined)) throw err;
        // the continue token expired between pages: take everything in one request
        items = [];
        token = undefined;
        limit = undefined;
        continue;
      }
      items = items.concat(page.items);
      rv = page.resourceVersion;
      token = page.continue || undefined;
      if (token === undefined) break;
    }
    if (this.stopped) return;
    // a watch from "" would start at "now" and miss changes: never watch without one
    if (rv === "")
      throw new KubeApiError(this.path, undefined, "list answer without a resourceVersion");
    const objects = items.map((raw) => this.prepare(raw));
    this.o.store.replace(this.o.kind, objects);
    this.relistRequested = false;
    this.status.lists++;
    this.status.synced = true;
    this.status.resourceVersion = rv;
  }

  /**
   * One watch from the current resourceVersion. Returns true when it made
   * progress (delivered an event, or ran a while), false when it ended at once.
   * Throws on failures, and KubeApiError 410 on an expired resourceVersion.
   */
  private async watchOnce(): Promise<boolean> {
    const abort = new AbortController();
    this.watchAbort = abort;
    const started = Date.now();
    let events = 0;
    let failure: unknown;
    const [lo, hi] = this.opts.watchTimeoutSeconds;
    const params: WatchParams = {
      resourceVersion: this.status.resourceVersion ?? "",
      allowWatchBookmarks: true,
      timeoutSeconds: Math.round(lo + (hi - lo) * this.opts.random()),
    };
    const onEvent = (event: WatchEvent): void => {
      if (abort.signal.aborted || this.stopped) return;
      try {
        this.handle(event);
        events++;
      } catch (err) {
        failure = err;
        abort.abort();
      }
    };
    this.status.watches++;
    try {
      await this.o.api.watch(this.path, params, onEvent, abort.signal);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    } finally {
      this.watchAbort = undefined;
    }
    if (failure !== undefined) throw failure;
    if (this.relistRequested || this.stopped) return true;
    return events > 0 || Date.now() - started >= 1000;
  }

  private handle(event: WatchEvent): void {
    const obj = event.object;
    switch (event.type) {
      case "ADDED":
      case "MODIFIED":
        this.o.store.apply(this.o.kind, this.prepare(obj));
        break;
      case "DELETED": {
        const prepared = this.prepare(obj);
        this.o.store.remove(this.o.kind, objectKey(this.o.kind, prepared.metadata));
        break;
      }
      case "BOOKMARK":
        break;
      case "ERROR": {
        const status = typeof obj?.code === "number" ? obj.code : undefined;
        throw new KubeApiError(
          this.path,
          status,
          String(obj?.message ?? obj?.reason ?? "watch ERROR event"),
        );
      }
      default:
        this.o.log.debug(
          { kind: this.o.kind, type: event.type },
          "ignoring unknown watch event type",
        );
        return;
    }
    const rv = obj?.metadata?.resourceVersion;
    if (typeof rv === "string" && rv !== "") this.status.resourceVersion = rv;
  }

  /** List items lack apiVersion/kind and all carry managedFields: make both paths' objects alike. */
  private prepare(raw: unknown): ObjectOf<KindName> {
    const obj = raw as KubeObject & { metadata: { managedFields?: unknown } };
    if (typeof obj?.metadata?.name !== "string") {
      throw new KubeApiError(this.path, undefined, "object without metadata.name in the response");
    }
    const { managedFields: _dropped, ...metadata } = obj.metadata;
    const spec = KINDS[this.o.kind];
    return { ...obj, apiVersion: spec.apiVersion, kind: spec.kind, metadata } as ObjectOf<KindName>;
  }
}
