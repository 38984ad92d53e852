// Results between spec versions, and chaining.
//   1.1.0: interfaces may have mtu, socketPath, pciID; routes mtu, advmss,
//          priority, table, scope.
//   1.0.0: neither of those.
//   0.4.0 / 0.3.x: as 1.0.0, plus ips[].version ("4" | "6").
// The agent answers in 1.1.0; the plugin converts down. A prevResult arrives in
// the config's version and is converted up before it goes to the agent.

import type { CniDns, CniInterface, CniIpConfig, CniResult, CniRoute } from "../api.ts";
import { CNI_CODES, CniError } from "./errors.ts";
import { CURRENT_CNI_VERSION, compareVersions } from "./version.ts";

const INTERFACE_1_1_FIELDS = ["mtu", "socketPath", "pciID"] as const;
const ROUTE_1_1_FIELDS = ["mtu", "advmss", "priority", "table", "scope"] as const;

/** A 1.1.0 result in the shape of spec `version` (0.3.0 and later). */
export function convertResult(result: CniResult, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  const pre11 = compareVersions(version, "1.1.0") < 0;
  const pre10 = compareVersions(version, "1.0.0") < 0;
  if (result.interfaces) {
    out.interfaces = result.interfaces.map((i) =>
      pre11 ? omit(i, INTERFACE_1_1_FIELDS) : { ...i },
    );
  }
  if (result.ips) {
    out.ips = result.ips.map((ip) =>
      pre10 ? { version: ip.address.includes(":") ? "6" : "4", ...ip } : { ...ip },
    );
  }
  if (result.routes)
    out.routes = result.routes.map((r) => (pre11 ? omit(r, ROUTE_1_1_FIELDS) : { ...r }));
  if (result.dns) out.dns = { ...result.dns };
  return out;
}

/** Reads a prevResult (any supported version) into the 1.1.0 shape; code 7 when malformed. */
export function normalizePrevResult(raw: unknown): CniResult {
  const bad = (what: string): CniError =>
    new CniError(CNI_CODES.invalidConfig, `prevResult: ${what}`);
  if (!isObject(raw)) throw bad("must be an object");
  const out: CniResult = { cniVersion: CURRENT_CNI_VERSION };
  if (raw.interfaces !== undefined) {
    out.interfaces = list(raw.interfaces, "interfaces", bad).map((i, n) => {
      if (!isObject(i) || typeof i.name !== "string")
        throw bad(`interfaces[${n}].name must be a string`);
      return { ...i } as unknown as CniInterface;
    });
  }
  if (raw.ips !== undefined) {
    out.ips = list(raw.ips, "ips", bad).map((ip, n) => {
      if (!isObject(ip) || typeof ip.address !== "string")
        throw bad(`ips[${n}].address must be a string`);
      if (
        ip.interface !== undefined &&
        !(Number.isInteger(ip.interface) && (ip.interface as number) >= 0)
      ) {
        throw bad(`ips[${n}].interface must be an interface index`);
      }
      const { version: _v, ...rest } = ip;
      return rest as unknown as CniIpConfig;
    });
  }
  if (raw.routes !== undefined) {
    out.routes = list(raw.routes, "routes", bad).map((r, n) => {
      if (!isObject(r) || typeof r.dst !== "string") throw bad(`routes[${n}].dst must be a string`);
      return { ...r } as unknown as CniRoute;
    });
  }
  if (raw.dns !== undefined) {
    if (!isObject(raw.dns)) throw bad("dns must be an object");
    out.dns = { ...raw.dns } as CniDns;
  }
  return out;
}

/**
 * Chaining: Fairway runs after another plugin. Its interfaces, IPs and routes
 * are appended to the previous result's, with IP interface indexes shifted to
 * point at Fairway's interfaces in the combined list.
 */
export function mergeChained(prev: CniResult, ours: CniResult): CniResult {
  const offset = prev.interfaces?.length ?? 0;
  const shifted = (ours.ips ?? []).map((ip) =>
    ip.interface === undefined ? ip : { ...ip, interface: ip.interface + offset },
  );
  const merged: CniResult = { cniVersion: CURRENT_CNI_VERSION };
  const interfaces = [...(prev.interfaces ?? []), ...(ours.interfaces ?? [])];
  const ips = [...(prev.ips ?? []), ...shifted];
  const routes = [...(prev.routes ?? []), ...(ours.routes ?? [])];
  if (interfaces.length > 0) merged.interfaces = interfaces;
  if (ips.length > 0) merged.ips = ips;
  if (routes.length > 0) merged.routes = routes;
  const dns = hasDns(prev.dns) ? prev.dns : ours.dns;
  if (dns) merged.dns = dns;
  return merged;
}

function hasDns(dns: CniDns | undefined): dns is CniDns {
  return !!dns && Object.values(dns).some((v) => (Array.isArray(v) ? v.length > 0 : !!v));
}

function omit<T extends object>(obj: T, keys: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!keys.includes(k)) out[k] = v;
  return out as Partial<T>;
}

function list(value: unknown, field: string, bad: (w: string) => CniError): unknown[] {
  if (!Array.isArray(value)) throw bad(`${field} must be a list`);
  return value;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
