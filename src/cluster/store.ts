// The cluster store: one in-memory table per kind, keyed "namespace/name" (or
// "name" for cluster-scoped kinds), with a store-wide revision that grows by one
// per change, a `synced` promise (every kind had its initial list), and change
// events delivered to subscribers in revision order.
//
// Subsystems get the read side (ClusterStoreReader); only sources write.
// Delivery is synchronous and ordered: a change made by a listener is queued and
// delivered after the current one has reached every listener, and a listener
// only ever sees changes newer than its subscription (or its replay).
// Stored objects are deep-frozen: share them, never mutate them.

import { BugError } from "../base/errors.ts";
import type { Logger } from "../base/log.ts";
import { ALL_KINDS, KINDS, type KindName, type ObjectOf, objectKey } from "./kinds.ts";
import { compileSelector } from "./selector.ts";
import type { KubeObject, LabelSelector } from "./types.ts";

export type ChangeType = "add" | "update" | "delete";

export interface KindChange<K extends KindName> {
  readonly type: ChangeType;
  readonly kind: K;
  readonly key: string;
  /** The store revision this change created. */
  readonly revision: number;
  /** Before the change; undefined for "add". */
  readonly old: ObjectOf<K> | undefined;
  /** After the change; undefined for "delete". */
  readonly new: ObjectOf<K> | undefined;
}

/** A change of any kind; narrowing on `kind` types `old` and `new`. */
export type ChangeEvent = { [K in KindName]: KindChange<K> }[KindName];

export type ChangeListener = (event: ChangeEvent) => void;
export type Disposer = () => void;

export interface ListFilter {
  /** Only objects of this namespace (namespaced kinds only). */
  namespace?: string;
  /** Only objects whose labels match. Absent: no filter; {} matches everything. */
  selector?: LabelSelector;
}

export interface SubscribeOptions {
  /** Only these kinds (default: all of the store's kinds). */
  kinds?: readonly KindName[];
  /** First deliver an "add" for every object already stored, then live changes. */
  replay?: boolean;
}

/** What subsystems read. */
export interface ClusterStoreReader {
  readonly kinds: readonly KindName[];
  /** Grows by one per change; 0 before the first. */
  readonly revision: number;
  /** Resolves once every kind had its initial list. Never rejects. */
  readonly synced: Promise<void>;
  isSynced(kind?: KindName): boolean;
  get<K extends KindName>(kind: K, key: string): ObjectOf<K> | undefined;
  /** Objects sorted by key. */
  list<K extends KindName>(kind: K, filter?: ListFilter): ObjectOf<K>[];
  size(kind: KindName): number;
  subscribe(listener: ChangeListener, options?: SubscribeOptions): Disposer;
}

export interface ClusterStoreOptions {
  /** The kinds this store holds (default: every registered kind). */
  kinds?: readonly KindName[];
  /** Where a throwing listener is reported. Without it the error is rethrown on the next tick (a bug). */
  log?: Logger;
}

interface Subscriber {
  listener: ChangeListener;
  kinds: ReadonlySet<KindName>;
  /** Receives changes with a revision above this. */
  since: number;
  active: boolean;
}

export class ClusterStore implements ClusterStoreReader {
  readonly kinds: readonly KindName[];
  readonly synced: Promise<void>;
  private rev = 0;
  private readonly tables = new Map<KindName, Map<string, KubeObject>>();
  private readonly unsynced: Set<KindName>;
  private resolveSynced!: () => void;
  private readonly subscribers: Subscriber[] = [];
  private readonly queue: ChangeEvent[] = [];
  private draining = false;
  private readonly log: Logger | undefined;

  constructor(options: ClusterStoreOptions = {}) {
    this.kinds = Object.freeze([...(options.kinds ?? ALL_KINDS)]);
    for (const kind of this.kinds) this.tables.set(kind, new Map());
    this.unsynced = new Set(this.kinds);
    this.synced = new Promise((resolve) => {
      this.resolveSynced = resolve;
    });
    if (this.unsynced.size === 0) this.resolveSynced();
    this.log = options.log;
  }

  get revision(): number {
    return this.rev;
  }

  isSynced(kind?: KindName): boolean {
    return kind === undefined ? this.unsynced.size === 0 : !this.unsynced.has(kind);
  }

  /** Kinds still waiting for their initial list, in registry order. */
  unsyncedKinds(): KindName[] {
    return this.kinds.filter((k) => this.unsynced.has(k));
  }

  get<K extends KindName>(kind: K, key: string): ObjectOf<K> | undefined {
    return this.table(kind).get(key) as ObjectOf<K> | undefined;
  }

  list<K extends KindName>(kind: K, filter: ListFilter = {}): ObjectOf<K>[] {
    const table = this.table(kind);
    if (filter.namespace !== undefined && !KINDS[kind].namespaced) {
      throw new BugError(`list ${kind}: a namespace filter was given for a cluster-scoped kind`);
    }
    const matches = filter.selector === undefined ? undefined : compileSelector(filter.selector);
    const prefix = filter.namespace === undefined ? undefined : `${filter.namespace}/`;
    const out: [string, KubeObject][] = [];
    for (const [key, obj] of table) {
      if (prefix !== undefined && !key.startsWith(prefix)) continue;
      if (matches !== undefined && !matches(obj.metadata.labels)) continue;
      out.push([key, obj]);
    }
    out.sort(byKey);
    return out.map(([, obj]) => obj as ObjectOf<K>);
  }

  size(kind: KindName): number {
    return this.table(kind).size;
  }

  subscribe(listener: ChangeListener, options: SubscribeOptions = {}): Disposer {
    const kinds = new Set(options.kinds ?? this.kinds);
    for (const kind of kinds) this.table(kind);
    const sub: Subscriber = { listener, kinds, since: this.rev, active: true };
    this.subscribers.push(sub);
    if (options.replay) this.replay(sub);
    return () => {
      sub.active = false;
      const i = this.subscribers.indexOf(sub);
      if (i !== -1) this.subscribers.splice(i, 1);
    };
  }

  // --- the write side, for sources

  /** Adds or replaces an object. Returns the change, or undefined when the resourceVersion is unchanged. */
  apply<K extends KindName>(kind: K, obj: ObjectOf<K>): ChangeEvent | undefined {
    const table = this.table(kind);
    const key = objectKey(kind, obj.metadata);
    const old = table.get(key);
    const rv = obj.metadata.resourceVersion;
    if (old !== undefined && rv !== undefined && old.metadata.resourceVersion === rv)
      return undefined;
    table.set(key, deepFreeze(obj));
    return this.emit(kind, old === undefined ? "add" : "update", key, old, obj);
  }

  /** Removes an object by key. Returns the change, or undefined when there was none. */
  remove(kind: KindName, key: string): ChangeEvent | undefined {
    const table = this.table(kind);
    const old = table.get(key);
    if (old === undefined) return undefined;
    table.delete(key);
    return this.emit(kind, "delete", key, old, undefined);
  }

  /**
   * Makes a kind's table equal to `objects` (a full list): adds, updates (only
   * where the resourceVersion differs) and deletes, each in key order. Marks
   * the kind synced.
   * Returns the number of changes.
   */
  replace<K extends KindName>(kind: K, objects: readonly ObjectOf<K>[]): number {
    const table = this.table(kind);
    const incoming = objects
      .map((obj) => [objectKey(kind, obj.metadata), obj] as const)
      .sort(byKey);
    const keep = new Set(incoming.map(([key]) => key));
    let changes = 0;
    for (const [, obj] of incoming) if (this.apply(kind, obj)) changes++;
    for (const key of [...table.keys()].sort()) {
      if (!keep.has(key) && this.remove(kind, key)) changes++;
    }
    this.markSynced(kind);
    return changes;
  }

  markSynced(kind: KindName): void {
    this.table(kind);
    if (!this.unsynced.delete(kind)) return;
    if (this.unsynced.size === 0) this.resolveSynced();
  }

  // --- internals

  private table(kind: KindName): Map<string, KubeObject> {
    const table = this.tables.get(kind);
    if (!table)
      throw new BugError(
        `the cluster store does not hold kind ${kind} (it holds ${this.kinds.join(", ")})`,
      );
    return table;
  }

  private emit(
    kind: KindName,
    type: ChangeType,
    key: string,
    old: KubeObject | undefined,
    next: KubeObject | undefined,
  ): ChangeEvent {
    this.rev += 1;
    const event = Object.freeze({
      type,
      kind,
      key,
      revision: this.rev,
      old,
      new: next,
    }) as ChangeEvent;
    this.queue.push(event);
    this.drain();
    return event;
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let event = this.queue.shift(); event !== undefined; event = this.queue.shift()) {
        for (const sub of [...this.subscribers]) {
          if (sub.active && sub.kinds.has(event.kind) && event.revision > sub.since)
            this.call(sub, event);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private replay(sub: Subscriber): void {
    for (const kind of this.kinds) {
      if (!sub.kinds.has(kind)) continue;
      for (const obj of this.list(kind)) {
        if (!sub.active) return;
        const key = objectKey(kind, obj.metadata);
        const event = {
          type: "add",
          kind,
          key,
          revision: this.rev,
          old: undefined,
          new: obj,
        } as ChangeEvent;
        this.call(sub, Object.freeze(event));
      }
    }
  }

  private call(sub: Subscriber, event: ChangeEvent): void {
    try {
      sub.listener(event);
    } catch (err) {
      if (this.log) {
        this.log.error({ err, kind: event.kind, key: event.key }, "cluster store listener threw");
      } else {
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }
}

function byKey(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
