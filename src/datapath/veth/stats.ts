// Reading the forwarding counters (bpf/lib/counters.h): per-CPU values summed,
// keyed by the names the C side uses (enum forward_path, enum drop_reason).

import type { BpfMap } from "../bpf/map.ts";
import { DROP_REASON_MAX, dropReasonInfo } from "../generated/drop_reasons.ts";
import { ForwardPath } from "../generated/events.ts";
import { type EpStats, type FwdCounter, maps } from "../generated/lxc.ts";

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

export interface EndpointCounters {
  /** Sent by the pod and forwarded by BPF (to a pod, or out of the node). */
  egress: Counter;
  /** Sent by the pod and handed to the host stack. */
  stack: Counter;
  /** Sent by the pod and dropped. */
  drop: Counter;
  /** Delivered into the pod by bpf_redirect_peer (from a local pod or the uplink). */
  ingress: Counter;
}

const zero = (): Counter => ({ packets: 0n, bytes: 0n });

function add(into: Counter, c: FwdCounter): void {
  into.packets += c.packets;
  into.bytes += c.bytes;
}

/** Sums one endpoint's per-CPU counters; undefined when the endpoint has none. */
export function sumEndpoint(
  map: BpfMap<number, EpStats>,
  endpointId: number,
): EndpointCounters | undefined {
  const perCpu = map.lookupPerCpu(endpointId);
  if (!perCpu) return undefined;
  const out: EndpointCounters = { egress: zero(), stack: zero(), drop: zero(), ingress: zero() };
  for (const v of perCpu) {
    add(out.egress, v.egress);
    add(out.stack, v.stack);
    add(out.drop, v.drop);
    add(out.ingress, v.ingress);
  }
  return out;
}

function sumArray(
  map: BpfMap<number, FwdCounter>,
  max: number,
  name: (i: number) => string,
): Record<string, Counter> {
  const out: Record<string, Counter> = {};
  for (let i = 0; i < max; i++) {
    const perCpu = map.lookupPerCpu(i);
    if (!perCpu) continue;
    const c = zero();
    for (const v of perCpu) add(c, v);
    if (c.packets > 0n) out[name(i)] = c;
  }
  return out;
}

/** Non-zero path counters by enum forward_path name ("FORWARD_PATH_PEER", ...). */
export function sumPaths(map: BpfMap<number, FwdCounter>): Record<string, Counter> {
  return sumArray(map, maps.fw_fwd_paths.maxEntries, (i) => ForwardPath[i] ?? `FORWARD_PATH_${i}`);
}

/** Non-zero drop counters by enum drop_reason name ("DROP_INVALID_SOURCE", ...). */
export function sumDrops(map: BpfMap<number, FwdCounter>): Record<string, Counter> {
  return sumArray(map, DROP_REASON_MAX, (i) => dropReasonInfo[i]?.name ?? `DROP_${i}`);
}
