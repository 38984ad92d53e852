// The veth datapath's program set: lxc.o (from_container) and host.o
// (from_netdev), loaded once per node into one pin directory, where they
// share the endpoint and counter maps by name.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { encodeGlobals } from "../bpf/globals.ts";
import { BpfMap } from "../bpf/map.ts";
import { BpfObject } from "../bpf/object.ts";
import { bpfObjectPath } from "../bpf/paths.ts";
import * as layouts from "../generated/lxc.ts";
import { type LbLoadSettings, lbLoadOptions } from "../lb/objects.ts";
import { writeSysctl } from "../net/index.ts";
import { VethErrorCode, vethError } from "./errors.ts";

export type VethMode = "veth" | "veth-legacy";
export const VETH_MODES: readonly VethMode[] = ["veth", "veth-legacy"];

export interface VethLoadOptions {
  mode: VethMode;
  /** bpffs directory for this node's pinned maps, e.g. /sys/fs/bpf/fairway/<node>. Created if missing. */
  pinRoot: string;
  /** The node's network namespace (where host veths and uplinks live); default the current one. */
  netns?: string;
  /** Directory holding lxc.o and host.o; default: bpfObjectPath() ($FAIRWAY_BPF_DIR or build/bpf). */
  objectDir?: string;
  /** Also turn on IPv6 forwarding node-wide (net.ipv6.conf.all.forwarding; it stops the node accepting RAs). */
  ipv6?: boolean;
  /** The service load balancer's load-time settings (the LB maps are shared with sock.o). */
  lb?: LbLoadSettings;
}

export interface VethMaps {
  endpoints: BpfMap<layouts.EndpointKey, layouts.EndpointInfo>;
  epStats: BpfMap<number, layouts.EpStats>;
  paths: BpfMap<number, layouts.FwdCounter>;
  drops: BpfMap<number, layouts.FwdCounter>;
}

export interface LoadedObjects {
  lxc: BpfObject;
  host: BpfObject;
  maps: VethMaps;
}

/** lxc.o / host.o: in `objectDir` when given, else where bpfObjectPath() finds the build. */
function objectPath(name: "lxc" | "host", objectDir?: string): string {
  if (!objectDir) return bpfObjectPath(name);
  const path = join(objectDir, `${name}.o`);
  if (!existsSync(path)) {
    throw vethError(VethErrorCode.INVALID, `BPF object ${path} not found (objectDir ${objectDir})`);
  }
  return path;
}

/** Node-wide sysctls both modes need: the stack forwards in veth-legacy, and for what BPF hands it. */
function enableForwarding(options: VethLoadOptions): void {
  const opts = { netns: options.netns };
  writeSysctl("net/ipv4/ip_forward", 1, opts);
  if (options.ipv6) writeSysctl("net/ipv6/conf/all/forwarding", 1, opts);
}

/** Loads both objects with the mode's config; the second reuses the maps the first pinned. */
export function loadObjects(options: VethLoadOptions): LoadedObjects {
  if (!VETH_MODES.includes(options.mode)) {
    throw vethError(
      VethErrorCode.INVALID,
      `unknown veth datapath mode "${String(options.mode)}" (use ${VETH_MODES.join(" or ")})`,
    );
  }
  mkdirSync(options.pinRoot, { recursive: true, mode: 0o700 });
  enableForwarding(options);
  // Both objects declare the same knobs (bpf/lib/forward.h, lb.h, lb_tc.h): one encoding serves both.
  const lb = lbLoadOptions(options.lb);
  const globals = encodeGlobals(layouts.config, {
    cfg_host_routing: options.mode === "veth" ? 1 : 0,
    cfg_tc_lb: options.mode === "veth" && (options.lb?.tcLb ?? true) ? 1 : 0,
    cfg_maglev_size: lb.maglevTableSize,
  });
  const load = (name: "lxc" | "host") =>
    BpfObject.load(objectPath(name, options.objectDir), {
      pinRoot: options.pinRoot,
      globals,
      valueSizes: lb.valueSizes,
    });
  const lxc = load("lxc");
  let host: BpfObject;
  try {
    host = load("host");
  } catch (err) {
    lxc.close();
    throw err;
  }
  const m = layouts.maps;
  const maps: VethMaps = {
    endpoints: BpfMap.of(lxc.map("fw_endpoints"), m.fw_endpoints),
    epStats: BpfMap.of(lxc.map("fw_ep_stats"), m.fw_ep_stats),
    paths: BpfMap.of(lxc.map("fw_fwd_paths"), m.fw_fwd_paths),
    drops: BpfMap.of(lxc.map("fw_fwd_drops"), m.fw_fwd_drops),
  };
  return { lxc, host, maps };
}
