// What the CNI latency benchmark drives: one network, exec'd per operation the
// way a runtime does (libcni's rules: each plugin of the conflist gets the
// plugin's own object plus the list's `name` and `cniVersion`; DEL gets the
// ADD's result as `prevResult`).

import { type CniRun, execCni } from "./exec.ts";

export interface Attachment {
  containerId: string;
  netns: string;
  /** the ADD result, handed back on DEL */
  result?: Record<string, unknown>;
}

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface BenchNetwork {
  /** short label for tables: "fairway", "bridge+host-local" */
  readonly label: string;
  readonly conflist: Conflist;
  /** the executable run for plugins[0] */
  readonly plugin: string;
  /** CNI_PATH */
  readonly cniPath: string;
  /** false for the start-up floor, which creates no interface */
  readonly plumbs?: boolean;
  /**
   * Time spent inside the server per operation since the last call (Fairway:
   * the agent's "CNI ADD"/"CNI DEL" log lines), for the breakdown.
   */
  serverTimes?(): { add: number[]; del: number[] };
  /** releases everything the network created (links, bridges, state, processes) */
  close(): Promise<void>;
}

const ARGS = (id: string) =>
  `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${id};K8S_POD_INFRA_CONTAINER_ID=${id}`;

function netconf(net: BenchNetwork, prevResult?: Record<string, unknown>): unknown {
  const plugin = net.conflist.plugins[0]!;
  return {
    ...plugin,
    name: net.conflist.name,
    cniVersion: net.conflist.cniVersion,
    ...(prevResult ? { prevResult } : {}),
  };
}

export function cniAdd(net: BenchNetwork, a: Attachment): Promise<CniRun> {
  return execCni(
    net.plugin,
    {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: "eth0",
      CNI_ARGS: ARGS(a.containerId),
      CNI_PATH: net.cniPath,
    },
    netconf(net),
  );
}

export function cniDel(net: BenchNetwork, a: Attachment): Promise<CniRun> {
  return execCni(
    net.plugin,
    {
      CNI_COMMAND: "DEL",
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: "eth0",
      CNI_ARGS: ARGS(a.containerId),
      CNI_PATH: net.cniPath,
    },
    netconf(net, a.result),
  );
}
