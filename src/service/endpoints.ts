// Endpoint selection for one service port and one IP family, as kube-proxy's
// CategorizeEndpoints does it: the EndpointSlice port is matched by the
// service port's name and protocol (the EndpointSlice controller resolved a
// named targetPort per pod, so its number can differ between slices); a missing
// `ready` counts as ready, `serving` defaults to `ready`; serving+terminating
// endpoints are used only when no endpoint is ready; only an endpoint's first
// address is used.

import { isIP } from "node:net";
import type { EndpointSlice } from "../cluster/index.ts";
import type { BackendState, IpFamily, Protocol } from "./types.ts";

export interface Candidate {
  readonly address: string;
  readonly port: number;
  readonly state: BackendState;
  readonly nodeName?: string;
  readonly zone?: string;
}

export interface Selection {
  /** What Cluster traffic policy uses. */
  readonly cluster: readonly Candidate[];
  /** What Local traffic policy uses: the same rule over endpoints on this node. */
  readonly local: readonly Candidate[];
}

export interface PortRef {
  readonly name: string;
  readonly protocol: Protocol;
  readonly family: IpFamily;
}

interface Seen {
  readonly address: string;
  readonly port: number;
  readonly ready: boolean;
  readonly servingTerminating: boolean;
  readonly nodeName?: string;
  readonly zone?: string;
}

/** Selects backends from `slices` (all the service's slices); bad entries go to `problems`. */
export function selectEndpoints(
  slices: readonly EndpointSlice[],
  ref: PortRef,
  nodeName: string,
  problems: string[],
): Selection {
  const seen = new Map<string, Seen>();
  for (const slice of slices) {
    if (slice.addressType !== ref.family) continue;
    const sp = (slice.ports ?? []).find(
      (p) => (p.name ?? "") === ref.name && (p.protocol ?? "TCP") === ref.protocol,
    );
    if (!sp) continue;
    const port = sp.port;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
      problems.push(
        `EndpointSlice ${slice.metadata.name}: port "${ref.name}" has invalid number ${String(port)}`,
      );
      continue;
    }
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses[0];
      if (address === undefined) continue;
      if (isIP(address) !== (ref.family === "IPv4" ? 4 : 6)) {
        problems.push(
          `EndpointSlice ${slice.metadata.name}: "${address}" is not an ${ref.family} address`,
        );
        continue;
      }
      const ready = ep.conditions?.ready ?? true;
      const serving = ep.conditions?.serving ?? ready;
      const terminating = ep.conditions?.terminating ?? false;
      const key = `${address}|${port}`;
      const entry: Seen = {
        address,
        port,
        ready,
        servingTerminating: serving && terminating,
        ...(ep.nodeName !== undefined ? { nodeName: ep.nodeName } : {}),
        ...(ep.zone !== undefined ? { zone: ep.zone } : {}),
      };
      const prev = seen.get(key);
      // The same endpoint in two slices (during a slice update): the readier wins.
      if (!prev || (!prev.ready && entry.ready)) seen.set(key, entry);
    }
  }
  const all = [...seen.values()];
  return {
    cluster: choose(all),
    local: choose(all.filter((e) => e.nodeName === nodeName)),
  };
}

function choose(endpoints: readonly Seen[]): Candidate[] {
  const ready = endpoints.filter((e) => e.ready);
  const picked = ready.length > 0 ? ready : endpoints.filter((e) => e.servingTerminating);
  const state: BackendState = ready.length > 0 ? "active" : "terminating";
  return picked
    .map((e) => ({
      address: e.address,
      port: e.port,
      state,
      ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
      ...(e.zone !== undefined ? { zone: e.zone } : {}),
    }))
    .sort(compareAddrPort);
}

export function compareAddrPort(
  a: { address: string; port: number },
  b: { address: string; port: number },
): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  return a.port - b.port;
}

/** "10.0.0.1:80", "[fd00::1]:80". */
export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
