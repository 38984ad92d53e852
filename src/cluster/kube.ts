// The Kubernetes API source: one reflector (list+watch loop) per kind, a
// periodic resync that relists every kind (a safety net for anything a watch
// missed; equal resourceVersions emit nothing), and a clean stop.
// Credentials come from a kubeconfig file, or from the pod's service account
// when no file is given.

import { FairwayError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { ClusterCode } from "./errors.ts";
import type { KindName } from "./kinds.ts";
import { loadKubeClient } from "./kube-client.ts";
import { type BackoffOptions, type KubeApi, Reflector } from "./reflector.ts";
import type { ClusterSource, SourceStatus } from "./source.ts";
import type { ClusterStore } from "./store.ts";

export interface KubeSourceOptions {
  store: ClusterStore;
  log: Logger;
  /** Path of a kubeconfig file; absent: in-cluster service account. */
  kubeconfig?: string;
  /** Relist every kind about this often (±10%); 0 turns resync off. */
  resyncSeconds: number;
  /** Kinds to watch (default: the store's kinds). */
  kinds?: readonly KindName[];
  backoff?: BackoffOptions;
  /** Server-side watch timeout range, seconds (default 300-600). */
  watchTimeoutSeconds?: readonly [number, number];
  /** The API to use instead of one built from the kubeconfig (tests). */
  api?: KubeApi;
}

export class KubeSource implements ClusterSource {
  readonly name = "kubernetes";
  private reflectors: Reflector[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly kinds: readonly KindName[];

  constructor(private readonly o: KubeSourceOptions) {
    this.kinds = o.kinds ?? o.store.kinds;
  }

  async start(): Promise<void> {
    if (this.running)
      throw new FairwayError(ClusterCode.state, "the Kubernetes source is already started");
    const api = this.o.api ?? (await loadKubeClient()).connect(this.o.kubeconfig);
    this.running = true;
    this.reflectors = this.kinds.map(
      (kind) =>
        new Reflector({
          kind,
          api,
          store: this.o.store,
          log: this.o.log,
          backoff: this.o.backoff,
          watchTimeoutSeconds: this.o.watchTimeoutSeconds,
        }),
    );
    for (const r of this.reflectors) r.start();
    this.scheduleResync();
    this.o.log.info(
      {
        kinds: this.kinds,
        kubeconfig: this.o.kubeconfig ?? "(in-cluster)",
        resyncSeconds: this.o.resyncSeconds,
      },
      "watching the Kubernetes API",
    );
  }

  /** The next periodic resync, 90-110% of the period so that nodes do not relist in step. */
  private scheduleResync(): void {
    if (this.o.resyncSeconds <= 0) return;
    const ms = this.o.resyncSeconds * 1000 * (0.9 + Math.random() * 0.2);
    this.resyncTimer = setTimeout(() => {
      this.resync();
      this.scheduleResync();
    }, ms);
  }

  /** Relists every kind now (the periodic resync calls this). */
  resync(): void {
    for (const r of this.reflectors) r.resync();
  }

  async stop(): Promise<void> {
    clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    await Promise.all(this.reflectors.map((r) => r.stop()));
    this.running = false;
  }

  status(): SourceStatus {
    return {
      source: this.name,
      running: this.running,
      kinds: this.reflectors.map((r) => ({ ...r.status })),
      problems: this.reflectors.flatMap((r) =>
        r.status.lastError && !r.status.synced ? [`${r.status.kind}: ${r.status.lastError}`] : [],
      ),
    };
  }
}
