// The datapath reconciler: the desired service table -> the pinned LB maps
// (bpf/lib/lb.h). Writes only what changed, in an order that keeps every
// packet's lookup consistent:
//
//   1. backends a new set needs           (fw_lb4_backends)
//   2. the new set under a fresh set ID   (fw_lb_slots, or fw_lb_maglev)
//   3. the frontend's reverse-NAT entry   (fw_lb4_revnat)
//   4. the switch: ONE update of the service entry to the new set
//   5. old sets, removed frontends, then backends no set uses any more
//   6. only now may released IDs be reused (ids.flush())
//
// A lookup therefore sees the old set or the new one, never a mix, never an
// empty one. After an agent restart, adopt() reads the maps back — frontends,
// their sets, backends — and seeds the ID allocators, so the first sync finds
// almost everything already in place and rewrites nothing that is right:
// no traffic gap, and orphans (services deleted while the agent was down) are
// removed by that sync.

import { performance } from "node:perf_hooks";
import type { Logger } from "../base/log.ts";
import {
  LbAction,
  type LbBackend,
  LbBackendFlags,
  type LbKey,
  LbKind,
  type LbMaps,
  type LbService,
  LbServiceFlags,
  mapAddr,
  mapAddrText,
} from "../datapath/lb/index.ts";
import type { MemoryIdAllocator } from "./ids.ts";
import { buildMaglevTable } from "./maglev.ts";
import { backendKey, frontendKey } from "./model.ts";
import type { Frontend, FrontendKind, Protocol, ServiceEntry, ServiceTable } from "./types.ts";

const PROTO_NUM: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const PROTO_NAME: Record<number, Protocol> = { 6: "TCP", 17: "UDP", 132: "SCTP" };
const KIND_NAME: Record<number, FrontendKind> = {
  0: "ClusterIP",
  1: "NodePort",
  2: "ExternalIP",
  3: "LoadBalancer",
};

export interface LbIds {
  readonly frontends: MemoryIdAllocator;
  readonly backends: MemoryIdAllocator;
}

/** One frontend as the maps hold it. */
interface Programmed {
  readonly serviceKey: string;
  readonly key: LbKey;
  readonly value: LbService;
  /** Backend IDs of the set, in slot order (random) or as the Maglev table's names. */
  readonly backendIds: readonly number[];
}

export interface SyncResult {
  /** Frontends whose entry was written (new, new set, or changed flags). */
  readonly written: number;
  /** Frontends removed. */
  readonly removed: number;
  readonly ms: number;
}

export interface FrontendSyncState {
  readonly ok: boolean;
  readonly error?: string;
}

/** Padding bytes: the codecs only read them, so one zero array serves every entry. */
const PAD3 = new Uint8Array(3);

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameKey(a: LbKey, b: LbKey): boolean {
  return (
    a.family === b.family && a.port === b.port && a.proto === b.proto && sameAddr(a.addr, b.addr)
  );
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameValue(a: LbService, b: LbService): boolean {
  return (
    a.set_id === b.set_id &&
    a.count === b.count &&
    a.rev_nat_id === b.rev_nat_id &&
    a.action === b.action &&
    a.flags === b.flags &&
    a.affinity_timeout === b.affinity_timeout
  );
}

export class LbSync {
  /** By frontend ID. */
  private readonly programmed = new Map<number, Programmed>();
  /** Frontend IDs by service key. */
  private readonly byService = new Map<string, Set<number>>();
  /** Backend entries as written, by backend ID. */
  private readonly backends = new Map<number, LbBackend>();
  /** How many programmed sets use each backend ID; at 0 it may leave the map. */
  private readonly backendRefs = new Map<number, number>();
  /** Backends whose count reached 0 (or adopted unused) since the last prune. */
  private readonly unused = new Set<number>();
  private readonly errors = new Map<number, string>();
  private nextSetId = 1;
  /** Parsed addresses by text: 10,000 services repeat theirs on every full sync. */
  private readonly addrs = new Map<string, { addr: Uint8Array; family: 4 | 6 }>();

  constructor(
    private readonly maps: LbMaps,
    private readonly ids: LbIds,
    private readonly log?: Logger,
  ) {
    ids.frontends.deferRelease();
    ids.backends.deferRelease();
  }

  /**
   * Reads back what a previous agent left in the maps and seeds the ID
   * allocators with it. Call once, before the model acquires any ID.
   * Returns how many frontends and backends were found.
   */
  adopt(): { frontends: number; backends: number } {
    const revnat = new Map(this.maps.revnat.dump());
    const slots = new Map<number, number[]>();
    for (const [k, id] of this.maps.slots.dump()) {
      const list = slots.get(k.set_id) ?? [];
      slots.set(k.set_id, list);
      list[k.slot] = id;
    }
    const feSeeds: [string, number][] = [];
    const liveSets = new Set<number>();
    for (const [key, value] of this.maps.services.dump()) {
      const rn = revnat.get(value.rev_nat_id);
      const proto = PROTO_NAME[key.proto];
      const kind = rn ? KIND_NAME[rn.kind] : undefined;
      if (!rn || !proto || !kind) {
        // Not ours to understand (no reverse-NAT entry): it cannot be rebuilt, so it goes.
        this.maps.services.delete(key);
        continue;
      }
      liveSets.add(value.set_id);
      const feKey = frontendKey(kind, mapAddrText(key.addr, key.family), key.port, proto);
      feSeeds.push([feKey, value.rev_nat_id]);
      let backendIds: number[] = [];
      if (value.flags & LbServiceFlags.MAGLEV) {
        const table = this.maps.maglev.lookup(value.set_id);
        backendIds = table ? [...new Set(table)].sort((a, b) => a - b) : [];
      } else backendIds = slots.get(value.set_id) ?? [];
      // Adopted sets belong to no service key yet: the first sync of each
      // service claims its frontends by ID, and prune() removes the rest.
      this.setProgrammed(value.rev_nat_id, { serviceKey: "", key, value, backendIds });
      this.nextSetId = Math.max(this.nextSetId, value.set_id + 1);
    }
    // Sets no service points at: an agent stopped between writing a set and
    // switching to it, or between switching and deleting the old one.
    for (const [setId, list] of slots)
      if (!liveSets.has(setId))
        list.forEach((_, slot) => {
          this.maps.slots.delete({ set_id: setId, slot });
        });
    for (const setId of [...this.maps.maglev.keys()])
      if (!liveSets.has(setId)) this.maps.maglev.delete(setId);
    const beSeeds: [string, number][] = [];
    for (const [id, be] of this.maps.backends.dump()) {
      const proto = PROTO_NAME[be.proto];
      if (!proto) {
        this.maps.backends.delete(id);
        continue;
      }
      this.backends.set(id, be);
      if (!this.backendRefs.has(id)) this.unused.add(id);
      beSeeds.push([backendKey(mapAddrText(be.addr, be.family), be.port, proto), id]);
    }
    this.ids.frontends.seed(feSeeds);
    this.ids.backends.seed(beSeeds);
    return { frontends: feSeeds.length, backends: beSeeds.length };
  }

  /** Sets the node addresses external traffic to remote backends is SNATed to (none: never). */
  setNodeAddresses(addresses: readonly string[]): void {
    const v4 = addresses.find((a) => !a.includes(":"));
    const v6 = addresses.find((a) => a.includes(":"));
    this.maps.node.update(0, {
      snat4: v4 ? mapAddr(v4).addr : new Uint8Array(16),
      snat6: v6 ? mapAddr(v6).addr : new Uint8Array(16),
    });
  }

  /** Per-frontend outcome of the last sync that covered it. */
  state(frontendId: number): FrontendSyncState {
    const error = this.errors.get(frontendId);
    if (error) return { ok: false, error };
    return { ok: this.programmed.has(frontendId) };
  }

  /**
   * Brings the maps in line with `table`. With `only`, just those service
   * keys (their absence from the table removes them); without, the whole
   * table, and every frontend not in it is removed (a full resync).
   */
  sync(table: ServiceTable, only?: readonly string[]): SyncResult {
    const t0 = performance.now();
    const wanted = only ? new Set(only) : undefined;
    const entries = wanted
      ? table.services.filter((s) => wanted.has(s.key))
      : (table.services as ServiceEntry[]);
    const keep = new Set<number>();
    const work: { fe: Frontend; entry: ServiceEntry; key: LbKey; ids: number[] }[] = [];
    const newBackends: [number, LbBackend][] = [];

    for (const entry of entries) {
      for (const fe of entry.frontends) {
        keep.add(fe.id);
        const ids = fe.backends.map((b) => b.id);
        for (const b of fe.backends) {
          const { addr, family } = this.addr(b.address);
          const be: LbBackend = {
            addr,
            port: b.port,
            proto: PROTO_NUM[fe.protocol],
            flags: b.state === "terminating" ? LbBackendFlags.TERMINATING : 0,
            family,
            pad: PAD3,
          };
          const had = this.backends.get(b.id);
          if (
            !had ||
            !sameAddr(had.addr, be.addr) ||
            had.port !== be.port ||
            had.flags !== be.flags ||
            had.family !== be.family
          ) {
            newBackends.push([b.id, be]);
            this.backends.set(b.id, be);
          }
        }
        const { addr, family } = this.addr(fe.address);
        work.push({
          fe,
          entry,
          key: { addr, port: fe.port, proto: PROTO_NUM[fe.protocol], family },
          ids,
        });
      }
    }

    // 1. backends
    if (newBackends.length) this.maps.backends.updateBatch(newBackends);

    // 2.-4. sets, reverse NAT, switches
    const oldSets: { setId: number; maglev: boolean; count: number }[] = [];
    const slotWrites: [{ set_id: number; slot: number }, number][] = [];
    const switches: [LbKey, LbService][] = [];
    const revnats: [
      number,
      {
        addr: Uint8Array;
        port: number;
        proto: number;
        kind: number;
        family: number;
        pad: Uint8Array;
      },
    ][] = [];
    let written = 0;
    for (const w of work) {
      const { fe, entry } = w;
      const maglev = entry.algorithm === "maglev";
      const action = LbAction[fe.action.toUpperCase() as "FORWARD" | "REJECT" | "DROP"];
      const forward = fe.action === "forward" && w.ids.length > 0;
      const flags =
        (maglev ? LbServiceFlags.MAGLEV : 0) |
        (entry.affinityTimeoutSeconds !== undefined ? LbServiceFlags.AFFINITY : 0) |
        (fe.kind !== "ClusterIP" ? LbServiceFlags.EXTERNAL : 0);
      const prev = this.programmed.get(fe.id);
      const prevMaglev = !!prev && (prev.value.flags & LbServiceFlags.MAGLEV) !== 0;
      const sameSet =
        !!prev &&
        prev.value.set_id !== 0 &&
        prevMaglev === maglev &&
        sameIds(prev.backendIds, w.ids);
      let setId = 0;
      if (forward) {
        if (sameSet) setId = prev!.value.set_id;
        else {
          setId = this.nextSetId++;
          if (this.nextSetId > 0xfffffff0) this.nextSetId = 1;
          if (maglev) {
            const names = fe.backends.map((b) => backendKey(b.address, b.port, fe.protocol));
            const slots = buildMaglevTable(names, this.maps.maglevTableSize);
            this.maps.maglev.update(
              setId,
              Array.from(slots, (i) => w.ids[i]!),
            );
          } else {
            w.ids.forEach((id, slot) => {
              slotWrites.push([{ set_id: setId, slot }, id]);
            });
          }
        }
      }
      const value: LbService = {
        set_id: setId,
        count: forward ? w.ids.length : 0,
        rev_nat_id: fe.id,
        action: forward ? LbAction.FORWARD : action === LbAction.FORWARD ? LbAction.REJECT : action,
        flags,
        affinity_timeout: entry.affinityTimeoutSeconds ?? 0,
      };
      if (prev && prev.value.set_id !== 0 && prev.value.set_id !== setId)
        oldSets.push({
          setId: prev.value.set_id,
          maglev: prevMaglev,
          count: prev.backendIds.length,
        });
      const keyMoved = !!prev && !sameKey(prev.key, w.key);
      if (!prev || keyMoved) {
        revnats.push([
          fe.id,
          {
            addr: w.key.addr,
            port: w.key.port,
            proto: w.key.proto,
            kind: LbKind[fe.kind],
            family: w.key.family,
            pad: PAD3,
          },
        ]);
      }
      if (!prev || keyMoved || !sameValue(prev.value, value)) {
        switches.push([w.key, value]);
        written++;
      }
      if (keyMoved) this.maps.services.delete(prev!.key);
      this.setProgrammed(fe.id, { serviceKey: entry.key, key: w.key, value, backendIds: w.ids });
      this.errors.delete(fe.id);
      this.indexService(entry.key, fe.id);
    }
    if (slotWrites.length) this.maps.slots.updateBatch(slotWrites);
    if (revnats.length) this.maps.revnat.updateBatch(revnats);
    if (switches.length) this.maps.services.updateBatch(switches);

    // 5. what is gone
    let removed = 0;
    const gone: number[] = [];
    if (wanted) {
      for (const key of wanted)
        for (const id of this.byService.get(key) ?? []) if (!keep.has(id)) gone.push(id);
    } else {
      for (const id of this.programmed.keys()) if (!keep.has(id)) gone.push(id);
    }
    for (const id of gone) {
      const p = this.programmed.get(id)!;
      this.maps.services.delete(p.key);
      this.maps.revnat.delete(id);
      if (p.value.flags & LbServiceFlags.AFFINITY) this.forgetAffinity(id);
      if (p.value.set_id !== 0)
        oldSets.push({
          setId: p.value.set_id,
          maglev: (p.value.flags & LbServiceFlags.MAGLEV) !== 0,
          count: p.backendIds.length,
        });
      this.unsetProgrammed(id);
      this.byService.get(p.serviceKey)?.delete(id);
      removed++;
    }
    // One delete per slot, not a batch: a batch stops at the first missing
    // key, and a slot someone else removed must not wedge the reconciler.
    for (const s of oldSets) {
      if (s.maglev) this.maps.maglev.delete(s.setId);
      else
        for (let slot = 0; slot < s.count; slot++)
          this.maps.slots.delete({ set_id: s.setId, slot });
    }
    this.pruneBackends();

    // 6. IDs released by the model may now be reused
    this.ids.frontends.flush();
    this.ids.backends.flush();
    const ms = performance.now() - t0;
    if (written || removed)
      this.log?.debug({ written, removed, ms: Number(ms.toFixed(2)) }, "service maps synced");
    return { written, removed, ms };
  }

  private setProgrammed(id: number, p: Programmed): void {
    const prev = this.programmed.get(id);
    for (const b of p.backendIds) this.backendRefs.set(b, (this.backendRefs.get(b) ?? 0) + 1);
    if (prev) this.release(prev.backendIds);
    this.programmed.set(id, p);
  }

  private unsetProgrammed(id: number): void {
    const prev = this.programmed.get(id);
    if (!prev) return;
    this.release(prev.backendIds);
    this.programmed.delete(id);
  }

  private release(backendIds: readonly number[]): void {
    for (const b of backendIds) {
      const n = (this.backendRefs.get(b) ?? 0) - 1;
      if (n > 0) this.backendRefs.set(b, n);
      else {
        this.backendRefs.delete(b);
        this.unused.add(b);
      }
    }
  }

  /** Backends no programmed set uses any more: out of the map (established
   * flows keep their CT entries). Only the candidates, not a scan of all. */
  private pruneBackends(): void {
    for (const id of this.unused) {
      if (this.backendRefs.has(id) || !this.backends.has(id)) continue;
      this.maps.backends.delete(id);
      this.backends.delete(id);
    }
    this.unused.clear();
  }

  private forgetAffinity(revNatId: number): void {
    const stale = [...this.maps.affinity.keys()].filter((k) => k.rev_nat_id === revNatId);
    for (const k of stale) this.maps.affinity.delete(k);
  }

  private addr(ip: string): { addr: Uint8Array; family: 4 | 6 } {
    let a = this.addrs.get(ip);
    if (!a) {
      if (this.addrs.size > 200_000) this.addrs.clear();
      a = mapAddr(ip);
      this.addrs.set(ip, a);
    }
    return a;
  }

  private indexService(serviceKey: string, frontendId: number): void {
    const set = this.byService.get(serviceKey) ?? new Set<number>();
    this.byService.set(serviceKey, set);
    set.add(frontendId);
  }
}
