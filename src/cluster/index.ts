// Cluster state, the public face. One source (the Kubernetes API, or a
// directory of manifests) feeds one typed, versioned store; subsystems read the
// store and subscribe to its change events, never a Kubernetes client.
// Other folders import this file only. See README.md.

import type { ReadinessReporter } from "../base/api.ts";
import type { Logger } from "../base/log.ts";
import type { Lifecycle, ModuleDecl } from "../base/module.ts";
import { type ClusterConfig, parseClusterConfig } from "./config.ts";
import { KubeSource } from "./kube.ts";
import type { ClusterSource, SourceStatus } from "./source.ts";
import { ClusterStore, type ClusterStoreReader } from "./store.ts";
import { DirectorySource } from "./yamldir.ts";

export type { ClusterConfig } from "./config.ts";
export { clusterConfigSchema, DEFAULT_RESYNC_SECONDS, parseClusterConfig } from "./config.ts";
export { formatStore } from "./debug.ts";
export { ClusterCode, isGone, KubeApiError } from "./errors.ts";
export type { KindName, KindSpec, ObjectOf } from "./kinds.ts";
export { ALL_KINDS, collectionPath, isKindName, KINDS, objectKey } from "./kinds.ts";
export { KubeSource, type KubeSourceOptions } from "./kube.ts";
export { kubeClientProblem } from "./kube-client.ts";
export type { ManifestObject, ManifestProblem } from "./manifest.ts";
export { formatProblem, parseManifest, SOURCE_FILE_ANNOTATION } from "./manifest.ts";
export type { BackoffOptions, KubeApi, ListPage, WatchEvent, WatchParams } from "./reflector.ts";
export { backoffDelay, DEFAULT_BACKOFF, Reflector, type ReflectorOptions } from "./reflector.ts";
export type { LabelPredicate, Labels } from "./selector.ts";
export { compileSelector, formatSelector, matchesSelector, selectorProblems } from "./selector.ts";
export type { ClusterSource, KindStatus, SourceName, SourceStatus } from "./source.ts";
export type {
  ChangeEvent,
  ChangeListener,
  ChangeType,
  ClusterStoreOptions,
  ClusterStoreReader,
  Disposer,
  KindChange,
  ListFilter,
  SubscribeOptions,
} from "./store.ts";
export { ClusterStore } from "./store.ts";
export type * from "./types.ts";
export { DirectorySource, type DirectorySourceOptions } from "./yamldir.ts";

/** The source a config asks for, feeding `store`. Allocates only. */
export function createClusterSource(
  config: ClusterConfig,
  store: ClusterStore,
  log: Logger,
): ClusterSource {
  if (config.source === "directory") {
    return new DirectorySource({
      store,
      log,
      directory: config.directory!,
      rescanSeconds: config.resyncSeconds,
    });
  }
  return new KubeSource({
    store,
    log,
    kubeconfig: config.kubeconfig,
    resyncSeconds: config.resyncSeconds,
  });
}

/** The module instance: the store other modules read, and the source behind it. */
export class ClusterModule implements Lifecycle, ReadinessReporter {
  readonly store: ClusterStoreReader;
  readonly source: ClusterSource;

  constructor(config: ClusterConfig, log: Logger) {
    const store = new ClusterStore({ log });
    this.store = store;
    this.source = createClusterSource(config, store, log);
  }

  start(): Promise<void> {
    return this.source.start();
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  readiness(): { ready: boolean; reason?: string } {
    if (this.store.isSynced()) return { ready: true };
    const waiting = this.store.kinds.filter((k) => !this.store.isSynced(k));
    return {
      ready: false,
      reason: `cluster: waiting for the initial list of ${waiting.join(", ")}`,
    };
  }

  status(): SourceStatus {
    return this.source.status();
  }
}

/**
 * The cluster module. Its config slice is the agent config's `cluster` key:
 * `{ source: "kubernetes" | "directory", kubeconfig?, directory?, resyncSeconds? }`.
 */
export const clusterModule: ModuleDecl<ClusterConfig, ClusterModule> = {
  id: "cluster",
  deps: [],
  config(agentConfig: unknown): ClusterConfig {
    const slice =
      agentConfig !== null && typeof agentConfig === "object"
        ? (agentConfig as { cluster?: unknown }).cluster
        : undefined;
    return parseClusterConfig(slice);
  },
  create(ctx) {
    return new ClusterModule(ctx.config, ctx.log);
  },
};
