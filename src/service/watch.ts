// The incremental wrapper: keeps the service table current from the cluster
// store. A Service or EndpointSlice change rebuilds only its service; IDs of
// frontends and backends no longer referenced anywhere are released. Listeners
// get the keys that changed, to queue work for the datapath reconciler.

import type { ChangeEvent, ClusterStoreReader, Disposer, EndpointSlice } from "../cluster/index.ts";
import type { ServiceConfig } from "./config.ts";
import {
  backendKey,
  buildService,
  createServiceIds,
  frontendKey,
  type NodeContext,
  SERVICE_NAME_LABEL,
  type ServiceIds,
  serviceKey,
} from "./model.ts";
import type { ServiceEntry, ServiceTable, SkippedService } from "./types.ts";

export type ServiceTableListener = (changedKeys: readonly string[]) => void;

export interface ServiceModelOptions extends NodeContext {
  readonly store: ClusterStoreReader;
  readonly config: ServiceConfig;
  readonly ids?: ServiceIds;
}

export class ServiceModel {
  readonly ids: ServiceIds;
  private readonly entries = new Map<string, ServiceEntry | SkippedService>();
  private readonly refs = {
    frontends: new Map<string, number>(),
    backends: new Map<string, number>(),
  };
  private readonly listeners = new Set<ServiceTableListener>();
  /** EndpointSlices by service key, then by slice key: kept from the events, so
   * a rebuild never scans every slice of the cluster. */
  private readonly slices = new Map<string, Map<string, EndpointSlice>>();
  private dispose: Disposer | undefined;

  constructor(private readonly options: ServiceModelOptions) {
    this.ids = options.ids ?? createServiceIds();
  }

  /** Subscribes to the store (replaying what it holds). */
  start(): void {
    if (this.dispose) return;
    this.dispose = this.options.store.subscribe((e) => this.onChange(e), {
      kinds: ["Service", "EndpointSlice"],
      replay: true,
    });
  }

  stop(): void {
    this.dispose?.();
    this.dispose = undefined;
  }

  onTableChange(listener: ServiceTableListener): Disposer {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  table(): ServiceTable {
    const services: ServiceEntry[] = [];
    const skipped: SkippedService[] = [];
    for (const key of [...this.entries.keys()].sort()) {
      const e = this.entries.get(key)!;
      if ("reason" in e) skipped.push(e);
      else services.push(e);
    }
    return { services, skipped };
  }

  get(key: string): ServiceEntry | SkippedService | undefined {
    return this.entries.get(key);
  }

  private onChange(e: ChangeEvent): void {
    let key: string | undefined;
    if (e.kind === "Service") key = serviceKey((e.new ?? e.old)!);
    else if (e.kind === "EndpointSlice") {
      const old = e.old as EndpointSlice | undefined;
      const now = e.new as EndpointSlice | undefined;
      const sliceKey = `${(now ?? old)!.metadata.namespace ?? "default"}/${(now ?? old)!.metadata.name}`;
      if (old?.metadata.labels?.[SERVICE_NAME_LABEL])
        this.slices.get(serviceKey(old))?.delete(sliceKey);
      if (now?.metadata.labels?.[SERVICE_NAME_LABEL]) {
        const k = serviceKey(now);
        const bySlice = this.slices.get(k) ?? new Map<string, EndpointSlice>();
        this.slices.set(k, bySlice);
        bySlice.set(sliceKey, now);
      }
      const keys = [old, now].flatMap((s) =>
        s?.metadata.labels?.[SERVICE_NAME_LABEL] ? [serviceKey(s)] : [],
      );
      for (const k of new Set(keys)) this.rebuild(k);
      return;
    }
    if (key !== undefined) this.rebuild(key);
  }

  /** Rebuilds one service from the store and tells listeners. */
  rebuild(key: string): void {
    const { store } = this.options;
    const svc = store.get("Service", key);
    const before = this.entries.get(key);
    // Acquire the new IDs before releasing the old, so kept keys keep their IDs.
    let after: ServiceEntry | SkippedService | undefined;
    if (svc) {
      const slices = [...(this.slices.get(key)?.values() ?? [])].sort((a, b) =>
        (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
      );
      after = buildService(svc, slices, { ...this.options, ids: this.ids });
      this.entries.set(key, after);
    } else {
      this.entries.delete(key);
    }
    this.count(after, +1);
    this.count(before, -1);
    for (const l of this.listeners) l([key]);
  }

  private count(entry: ServiceEntry | SkippedService | undefined, delta: 1 | -1): void {
    if (!entry || "reason" in entry) return;
    for (const fe of entry.frontends) {
      this.ref("frontends", frontendKey(fe.kind, fe.address, fe.port, fe.protocol), delta);
      for (const be of fe.backends)
        this.ref("backends", backendKey(be.address, be.port, fe.protocol), delta);
    }
  }

  private ref(which: "frontends" | "backends", key: string, delta: 1 | -1): void {
    const counts = this.refs[which];
    const n = (counts.get(key) ?? 0) + delta;
    if (n > 0) counts.set(key, n);
    else {
      counts.delete(key);
      this.ids[which].release(key);
    }
  }
}
