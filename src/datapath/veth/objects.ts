// The veth datapath's program set: lxc.o (from_container) and host.o
// (from_netdev), loaded once per node into one pin directory, where they
// share the endpoint and counter maps by name.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BpfMap } from "../bpf/map.ts";
import { BpfObject } from "../bpf/object.ts";
import { U8 } from "../codec.ts";
import * as layouts from "../generated/lxc.ts";
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
  /** Directory holding lxc.o and host.o; default $FAIRWAY_BPF_DIR, else the build output. */
  objectDir?: string;
  /** Also turn on IPv6 forwarding node-wide (net.ipv6.conf.all.forwarding; it stops the node accepting RAs). */
  ipv6?: boolean;
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

const here = dirname(fileURLToPath(import.meta.url));

/** Where lxc.o/host.o are: an explicit dir, $FAIRWAY_BPF_DIR, next to a bundle (dist/bpf), or build/bpf. */
export function objectDir(explicit?: string): string {
  const candidates = explicit
    ? [explicit]
    : [process.env.FAIRWAY_BPF_DIR, join(here, "bpf"), join(here, "../../../build/bpf")].filter(
        (d): d is string => !!d,
      );
  const found = candidates.find(
    (d) => existsSync(join(d, "lxc.o")) && existsSync(join(d, "host.o")),
  );
  if (!found) {
    throw vethError(
      VethErrorCode.OBJECT_MISSING,
      `veth datapath objects lxc.o/host.o not found (looked in ${candidates.join(", ")}); run: npm run build:bpf`,
    );
  }
  return found;
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
  const dir = objectDir(options.objectDir);
  mkdirSync(options.pinRoot, { recursive: true, mode: 0o700 });
  enableForwarding(options);
  const globals = {
    cfg_host_routing: U8.encode(options.mode === "veth" ? 1 : 0),
  };
  const lxc = BpfObject.load(join(dir, "lxc.o"), { pinRoot: options.pinRoot, globals });
  let host: BpfObject;
  try {
    host = BpfObject.load(join(dir, "host.o"), { pinRoot: options.pinRoot, globals });
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
