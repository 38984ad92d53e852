// The contract every cluster state source meets: it owns its connections,
// watches and timers, and feeds one ClusterStore. The store is what the rest
// of Fairway reads; nothing outside src/cluster/ talks to a source's backend.

import type { KindName } from "./kinds.ts";

export type SourceName = "kubernetes" | "directory";

/** One kind's state inside a source, for `fairway debug` and tests. */
export interface KindStatus {
  kind: KindName;
  synced: boolean;
  /** Full lists done (initial, after 410 Gone, periodic resync). Directory source: scans. */
  lists: number;
  /** Watches opened (Kubernetes source only). */
  watches: number;
  /** Relists forced by 410 Gone (Kubernetes source only). */
  gone: number;
  /** Failed requests (lists, watches). */
  errors: number;
  /** The resourceVersion the next watch resumes from ("" = relist). */
  resourceVersion?: string;
  lastError?: string;
}

export interface SourceStatus {
  source: SourceName;
  running: boolean;
  kinds: KindStatus[];
  /** Problems the source is holding on to (directory source: bad files). */
  problems: string[];
}

export interface ClusterSource {
  readonly name: SourceName;
  /**
   * Starts feeding the store. Fails on configuration errors (unreadable
   * kubeconfig, missing directory). It does not wait for the store to sync —
   * await store.synced for that — so an unreachable API server is retried in
   * the background, not a start failure.
   */
  start(): Promise<void>;
  /** Returns once every request, watch, timer and file watcher it began is released. */
  stop(): Promise<void>;
  status(): SourceStatus;
}
