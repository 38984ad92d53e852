// Kernel feature detection. Each feature says what needs it and the minimum
// kernel; detection reads the kernel's own config (/proc/config.gz or
// /boot/config-<release>) and a few files, once, without loading anything.
// A missing feature is reported, never fatal: the agent refuses only the modes
// that need it.
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { gunzipSync } from "node:zlib";
import { MissingFeatureError } from "../base/errors.ts";

export type FeatureState = "yes" | "no" | "unknown";

export interface FeatureSpec {
  name: string;
  /** what in Fairway uses it */
  neededFor: string;
  minKernel: string;
  /** kernel config symbols that must all be y or m */
  config?: string[];
  /** a path that exists when the feature is there */
  path?: string;
}

export interface Feature extends FeatureSpec {
  state: FeatureState;
}

export const FEATURES: readonly FeatureSpec[] = [
  { name: "bpf", neededFor: "everything", minKernel: "4.18", config: ["CONFIG_BPF_SYSCALL"] },
  {
    name: "btf",
    neededFor: "map layouts, CO-RE",
    minKernel: "5.4",
    path: "/sys/kernel/btf/vmlinux",
  },
  {
    name: "bpffs",
    neededFor: "pinned maps that survive restarts",
    minKernel: "4.4",
    path: "/sys/fs/bpf",
  },
  {
    name: "tc-bpf",
    neededFor: "per-endpoint programs (clsact)",
    minKernel: "4.5",
    config: ["CONFIG_NET_CLS_BPF", "CONFIG_NET_SCH_INGRESS"],
  },
  { name: "bpf_redirect_peer", neededFor: "datapath mode veth", minKernel: "5.10" },
  { name: "bpf_redirect_neigh", neededFor: "datapath mode veth", minKernel: "5.10" },
  { name: "ringbuf", neededFor: "flow and verdict events", minKernel: "5.8" },
  {
    name: "cgroup-bpf",
    neededFor: "socket load balancing",
    minKernel: "4.17",
    config: ["CONFIG_CGROUP_BPF"],
  },
  {
    name: "veth",
    neededFor: "datapath modes veth, veth-legacy",
    minKernel: "2.6.24",
    config: ["CONFIG_VETH"],
  },
  {
    name: "ipvlan",
    neededFor: "datapath mode ipvlan",
    minKernel: "4.2",
    config: ["CONFIG_IPVLAN"],
  },
  {
    name: "netkit",
    neededFor: "datapath mode netkit",
    minKernel: "6.7",
    config: ["CONFIG_NETKIT"],
  },
  {
    name: "ipvs",
    neededFor: "comparison with kube-proxy IPVS mode",
    minKernel: "2.6",
    config: ["CONFIG_IP_VS"],
  },
  {
    name: "fq",
    neededFor: "EDT pacing / bandwidth manager",
    minKernel: "3.12",
    config: ["CONFIG_NET_SCH_FQ"],
  },
  { name: "vxlan", neededFor: "overlay mode", minKernel: "3.7", config: ["CONFIG_VXLAN"] },
];

function kernelConfig(): Map<string, string> | undefined {
  const sources = ["/proc/config.gz", `/boot/config-${release()}`];
  for (const path of sources) {
    try {
      const raw = readFileSync(path);
      const text = path.endsWith(".gz") ? gunzipSync(raw).toString() : raw.toString();
      const map = new Map<string, string>();
      for (const line of text.split("\n")) {
        const m = /^(CONFIG_[A-Z0-9_]+)=(.*)$/.exec(line);
        if (m) map.set(m[1]!, m[2]!);
      }
      return map;
    } catch {
      // try the next source
    }
  }
  return undefined;
}

/** "6.18.44-fc" >= "5.10" */
export function kernelAtLeast(have: string, want: string): boolean {
  const parse = (v: string) =>
    v
      .split(/[.-]/)
      .slice(0, 2)
      .map((x) => Number.parseInt(x, 10) || 0);
  const [hMaj, hMin] = parse(have) as [number, number];
  const [wMaj, wMin] = parse(want) as [number, number];
  return hMaj !== wMaj ? hMaj > wMaj : hMin >= wMin;
}

export function detectFeatures(kernel = release()): Feature[] {
  const config = kernelConfig();
  return FEATURES.map((spec) => {
    let state: FeatureState = kernelAtLeast(kernel, spec.minKernel) ? "yes" : "no";
    if (state === "yes" && spec.config) {
      if (!config) state = "unknown";
      else if (!spec.config.every((s) => config.get(s) === "y" || config.get(s) === "m"))
        state = "no";
    }
    if (state === "yes" && spec.path && !existsSync(spec.path)) state = "no";
    return { ...spec, state };
  });
}

/** Throws MissingFeatureError for the first needed feature that is known to be missing. */
export function requireFeatures(features: readonly Feature[], names: readonly string[]): void {
  for (const name of names) {
    const f = features.find((x) => x.name === name);
    if (f?.state === "no") {
      throw new MissingFeatureError(name, f.minKernel, { details: { neededFor: f.neededFor } });
    }
  }
}
