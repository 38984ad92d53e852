// VethDatapath: the veth program set of one node, loaded once, attached per
// endpoint. Per-endpoint facts go to the pinned endpoint map (written before
// the program is attached, so its first packet already finds them); filters
// are attached with replace semantics, so attaching again — after an agent
// restart, an upgrade or a mode change — is idempotent and hitless.
//
// close() releases fds only: pins, map entries and tc filters stay, and pods
// keep their traffic while the agent is down. restore() is the other half.
import { FairwayError } from "../../base/errors.ts";
import { UpdateFlags } from "../bpf/map.ts";
import type { BpfProgram } from "../bpf/object.ts";
import { attachTc, queryTc, TcAttachment } from "../bpf/tc.ts";
import { errnoOf } from "../errors.ts";
import type { EndpointInfo } from "../generated/lxc.ts";
import { type LinkRef, linkIndex } from "../net/index.ts";
import { VethErrorCode, vethError } from "./errors.ts";
import { bytesToMac, endpointKey, familyOf, keyToIp, macToBytes } from "./keys.ts";
import { type LoadedObjects, loadObjects, type VethLoadOptions, type VethMode } from "./objects.ts";
import { type Counter, type EndpointCounters, sumDrops, sumEndpoint, sumPaths } from "./stats.ts";

/** tc priority of Fairway's forwarding filters (handle 1). It returns a final
 * verdict, so observers must sit at a lower number and return TC_ACT_UNSPEC. */
export const VETH_TC_PRIORITY = 20;
const TC_HANDLE = 1;

/** endpoint_info.flags (enum endpoint_flags, bpf/lib/endpoint.h) */
export const EndpointFlags = { STACK: 1 } as const;

export interface EndpointSpec {
  /** The agent's endpoint id, 1..2^32-1: key of the per-endpoint counters. */
  endpointId: number;
  /** Host-side veth, by name (resolved in the node's namespace) or index. */
  hostIfname?: string;
  hostIfindex?: number;
  /** The pod's addresses (bare, or with a prefix that is ignored). */
  podIps: readonly string[];
  podMac: string;
  /** The host veth's MAC, which the pod's gateway neighbour points at. */
  hostMac: string;
  /** Route this pod through the host stack even in veth mode (ENDPOINT_F_STACK). */
  viaStack?: boolean;
}

export interface EndpointRecord {
  endpointId: number;
  hostIfindex: number;
  podIps: string[];
  podMac: string;
  hostMac: string;
  viaStack: boolean;
}

export interface RestoreResult {
  /** Endpoints found in the pinned map whose host veth is there; their filters were re-attached. */
  endpoints: EndpointRecord[];
  /** Endpoints whose host veth is gone: left for the caller to detach. */
  stale: EndpointRecord[];
}

const UINT32_MAX = 0xffffffff;
const ENODEV = 19;
const ENOENT = 2;

export class VethDatapath {
  private closed = false;
  /** Filters this process created the clsact hook for, by ifindex (released on detach). */
  private readonly owned = new Map<number, TcAttachment>();

  private constructor(
    readonly mode: VethMode,
    readonly pinRoot: string,
    readonly netns: string | undefined,
    private readonly objs: LoadedObjects,
  ) {}

  /** Loads lxc.o and host.o into `pinRoot` (reusing pinned maps), in the given mode. */
  static load(options: VethLoadOptions): VethDatapath {
    return new VethDatapath(options.mode, options.pinRoot, options.netns, loadObjects(options));
  }

  private get fromContainer(): BpfProgram {
    return this.objs.lxc.program("from_container");
  }

  private get fromNetdev(): BpfProgram {
    return this.objs.host.program("from_netdev");
  }

  /**
   * Registers an endpoint (map first), then attaches from_container to its host
   * veth's ingress. Attaching the same endpoint again is harmless (restart,
   * upgrade); to drop an address from an endpoint, detach it first.
   */
  attachEndpoint(spec: EndpointSpec): EndpointRecord {
    this.assertOpen();
    const record = this.validate(spec);
    const value: EndpointInfo = {
      ifindex: record.hostIfindex,
      pod_mac: macToBytes(record.podMac, "pod"),
      host_mac: macToBytes(record.hostMac, "host"),
      endpoint_id: record.endpointId,
      flags: record.viaStack ? EndpointFlags.STACK : 0,
    };
    const { endpoints, epStats } = this.objs.maps;
    const created: string[] = [];
    try {
      for (const ip of record.podIps) {
        const key = endpointKey(ip);
        const old = endpoints.lookup(key);
        if (old && old.endpoint_id !== record.endpointId) {
          throw vethError(
            VethErrorCode.ENDPOINT_CONFLICT,
            `cannot attach endpoint ${record.endpointId}: ${ip} belongs to endpoint ${old.endpoint_id} (ifindex ${old.ifindex})`,
            { details: { ip, endpointId: record.endpointId, owner: old.endpoint_id } },
          );
        }
        endpoints.update(key, value);
        if (!old) created.push(ip);
      }
      this.seedStats(record.endpointId, epStats);
      this.attach(this.fromContainer, record.hostIfindex);
    } catch (err) {
      for (const ip of created) endpoints.delete(endpointKey(ip));
      throw err;
    }
    return record;
  }

  /**
   * Removes the filter (traffic falls back to the host stack), then the map
   * entries and counters of the endpoint. Idempotent: false when nothing was
   * registered under that id. A host veth that is already gone is fine. With
   * `known` (the caller's record of its addresses and host veth) the cost is
   * one lookup per address; without it the endpoint map is walked.
   */
  detachEndpoint(
    endpointId: number,
    known?: { hostIfindex: number | null; podIps: string[] },
  ): boolean {
    this.assertOpen();
    if (!known) {
      const records = this.list().filter((r) => r.endpointId === endpointId);
      for (const r of records) {
        this.detach(r.hostIfindex, true);
        for (const ip of r.podIps) this.objs.maps.endpoints.delete(endpointKey(ip));
      }
      this.objs.maps.epStats.delete(endpointId);
      return records.length > 0;
    }
    let found = false;
    for (const ip of known.podIps) {
      const key = endpointKey(ip);
      // Only this endpoint's entry: the address may already belong to another one.
      if (this.objs.maps.endpoints.lookup(key)?.endpoint_id !== endpointId) continue;
      this.objs.maps.endpoints.delete(key);
      found = true;
    }
    if (known.hostIfindex !== null) this.detach(known.hostIfindex, true);
    this.objs.maps.epStats.delete(endpointId);
    return found;
  }

  /** Attaches from_netdev to an uplink's ingress (replace: idempotent). Returns its ifindex. */
  attachUplink(ref: LinkRef): number {
    this.assertOpen();
    const ifindex = linkIndex(ref, { netns: this.netns });
    this.attach(this.fromNetdev, ifindex);
    return ifindex;
  }

  /** Removes from_netdev from an uplink; false when it was not attached. */
  detachUplink(ref: LinkRef): boolean {
    this.assertOpen();
    return this.detach(linkIndex(ref, { netns: this.netns }), false);
  }

  /**
   * After an agent restart (load() with the same pinRoot): lists the endpoints
   * the pinned map still holds and re-attaches this load's from_container to
   * each live host veth, so the running program matches this agent's version
   * and mode. No link, address or route is touched.
   */
  restore(): RestoreResult {
    this.assertOpen();
    const out: RestoreResult = { endpoints: [], stale: [] };
    for (const r of this.list()) {
      try {
        this.attach(this.fromContainer, r.hostIfindex);
        out.endpoints.push(r);
      } catch (err) {
        if (errnoOf(err) !== ENODEV) throw err;
        out.stale.push(r);
      }
    }
    return out;
  }

  /** Every registered endpoint, from the pinned map (one record per endpoint id and veth). */
  endpoints(): EndpointRecord[] {
    this.assertOpen();
    return this.list();
  }

  /** The program id attached to an interface's ingress at Fairway's priority, or null. */
  attachedProgramId(ref: LinkRef): number | null {
    const ifindex = linkIndex(ref, { netns: this.netns });
    return queryTc({
      ifindex,
      netns: this.netns,
      direction: "ingress",
      priority: VETH_TC_PRIORITY,
      handle: TC_HANDLE,
    });
  }

  /** Per-endpoint counters, summed over CPUs. */
  endpointStats(endpointId: number): EndpointCounters | undefined {
    this.assertOpen();
    return sumEndpoint(this.objs.maps.epStats, endpointId);
  }

  /** How packets left the programs, by enum forward_path name (non-zero only). */
  pathStats(): Record<string, Counter> {
    this.assertOpen();
    return sumPaths(this.objs.maps.paths);
  }

  /** What the programs dropped, by enum drop_reason name (non-zero only). */
  dropStats(): Record<string, Counter> {
    this.assertOpen();
    return sumDrops(this.objs.maps.drops);
  }

  /** Releases fds. Pins, map entries and filters stay: pods keep their traffic. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owned.clear();
    this.objs.host.close();
    this.objs.lxc.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private attach(program: BpfProgram, ifindex: number): void {
    const a = attachTc({
      program,
      ifindex,
      netns: this.netns,
      direction: "ingress",
      priority: VETH_TC_PRIORITY,
      handle: TC_HANDLE,
      replace: true,
    });
    // Keep the first attachment that created the hook: it owns the qdisc.
    if (a.hookCreated || !this.owned.has(ifindex)) this.owned.set(ifindex, a);
  }

  /**
   * Removes our filter; false when there was none. With `releaseHook`, also the
   * clsact qdisc when this process created it (a host veth is ours alone; an
   * uplink's qdisc may carry other filters by now, so it stays).
   */
  private detach(ifindex: number, releaseHook: boolean): boolean {
    const mine = this.owned.get(ifindex);
    this.owned.delete(ifindex);
    if (mine && (releaseHook || !mine.hookCreated)) {
      mine.detach();
      return true;
    }
    const target = {
      ifindex,
      netns: this.netns,
      direction: "ingress" as const,
      priority: VETH_TC_PRIORITY,
      handle: TC_HANDLE,
    };
    try {
      if (queryTc(target) === null) return false;
    } catch (err) {
      if (errnoOf(err) === ENODEV || errnoOf(err) === ENOENT) return false;
      throw err;
    }
    // Attached by an earlier agent, or a hook we must leave: the filter only.
    new TcAttachment(
      ifindex,
      this.netns ?? "",
      "ingress",
      VETH_TC_PRIORITY,
      TC_HANDLE,
      0,
      false,
    ).detach();
    return true;
  }

  private seedStats(endpointId: number, map: LoadedObjects["maps"]["epStats"]): void {
    const zero = { packets: 0n, bytes: 0n };
    try {
      map.update(
        endpointId,
        { egress: zero, stack: zero, drop: zero, ingress: zero },
        UpdateFlags.NOEXIST,
      );
    } catch (err) {
      if (errnoOf(err) !== 17 /* EEXIST: keep the counts of a re-attached endpoint */) throw err;
    }
  }

  private list(): EndpointRecord[] {
    const byKey = new Map<string, EndpointRecord>();
    for (const [key, v] of this.objs.maps.endpoints.entries()) {
      const id = `${v.endpoint_id}/${v.ifindex}`;
      let r = byKey.get(id);
      if (!r) {
        r = {
          endpointId: v.endpoint_id,
          hostIfindex: v.ifindex,
          podIps: [],
          podMac: bytesToMac(v.pod_mac),
          hostMac: bytesToMac(v.host_mac),
          viaStack: (v.flags & EndpointFlags.STACK) !== 0,
        };
        byKey.set(id, r);
      }
      r.podIps.push(keyToIp(key));
    }
    const records = [...byKey.values()].sort((a, b) => a.endpointId - b.endpointId);
    // Map order is hash order: list IPv4 first, then IPv6, each sorted.
    for (const r of records)
      r.podIps.sort((a, b) => familyOf(a) - familyOf(b) || a.localeCompare(b));
    return records;
  }

  private validate(spec: EndpointSpec): EndpointRecord {
    const id = spec.endpointId;
    if (!Number.isInteger(id) || id < 1 || id > UINT32_MAX) {
      throw vethError(
        VethErrorCode.INVALID,
        `endpoint id must be an integer in 1..${UINT32_MAX}, got ${id}`,
      );
    }
    if (spec.podIps.length === 0) {
      throw vethError(VethErrorCode.INVALID, `endpoint ${id}: no pod IP given`);
    }
    if (spec.hostIfindex === undefined && spec.hostIfname === undefined) {
      throw vethError(VethErrorCode.INVALID, `endpoint ${id}: hostIfname or hostIfindex required`);
    }
    // Parse everything before the first kernel call.
    const podIps = spec.podIps.map((ip) => keyToIp(endpointKey(ip)));
    macToBytes(spec.podMac, "pod");
    macToBytes(spec.hostMac, "host");
    const hostIfindex = spec.hostIfindex ?? linkIndex(spec.hostIfname!, { netns: this.netns });
    return {
      endpointId: id,
      hostIfindex,
      podIps,
      podMac: spec.podMac.toLowerCase(),
      hostMac: spec.hostMac.toLowerCase(),
      viaStack: spec.viaStack ?? false,
    };
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new FairwayError(VethErrorCode.CLOSED, `veth datapath of ${this.pinRoot} is closed`);
    }
  }
}
