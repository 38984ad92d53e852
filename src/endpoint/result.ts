// What a record looks like to the outside: the CNI 1.1.0 result of ADD (the
// same for a repeated ADD: it is built from the row alone) and the
// /v1/endpoints view.

import { isIP } from "node:net";
import {
  type CniDns,
  type CniResult,
  type CniRoute,
  CURRENT_CNI_VERSION,
  type EndpointRecord,
} from "../base/api.ts";
import { POD_GATEWAY_V4, POD_GATEWAY_V6 } from "../datapath/veth/index.ts";
import type { EndpointCounters } from "./kernel.ts";
import type { EndpointRow } from "./store.ts";

/** The address as configured inside the pod: /32 or /128 (the gateway is on-link). */
export function podCidr(ip: string): string {
  return isIP(ip) === 6 ? `${ip}/128` : `${ip}/32`;
}

export function gatewayOf(ip: string): string {
  return isIP(ip) === 6 ? POD_GATEWAY_V6 : POD_GATEWAY_V4;
}

/** interfaces[0] is the host veth, interfaces[1] the pod's; ips and routes per family. */
export function cniResult(row: EndpointRow, dns: CniDns | undefined): CniResult {
  const routes: CniRoute[] = row.ips.map((ip) => ({
    dst: isIP(ip) === 6 ? "::/0" : "0.0.0.0/0",
    gw: gatewayOf(ip),
  }));
  return {
    cniVersion: CURRENT_CNI_VERSION,
    interfaces: [
      { name: row.hostIfname, mac: row.hostMac, mtu: row.mtu },
      { name: row.ifname, mac: row.podMac, mtu: row.mtu, sandbox: row.netns },
    ],
    ips: row.ips.map((ip) => ({ address: podCidr(ip), gateway: gatewayOf(ip), interface: 1 })),
    routes,
    ...(dns && Object.keys(dns).length > 0 ? { dns } : {}),
  };
}

/** JSON-safe counters (bigint as number: far below 2^53 in practice). */
export interface CounterView {
  packets: number;
  bytes: number;
}

export interface EndpointView extends EndpointRecord {
  hostIfindex?: number;
  hostMac: string;
  podMac: string;
  mtu: number;
  updatedAt: string;
  counters?: Record<keyof EndpointCounters, CounterView>;
}

export function endpointView(row: EndpointRow, counters?: EndpointCounters): EndpointView {
  const view: EndpointView = {
    id: String(row.id),
    network: row.network,
    containerId: row.containerId,
    ifname: row.ifname,
    netns: row.netns,
    ips: row.ips.map(podCidr),
    hostIfname: row.hostIfname,
    state: row.state,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    hostMac: row.hostMac,
    podMac: row.podMac,
    mtu: row.mtu,
  };
  if (row.hostIfindex !== null) view.hostIfindex = row.hostIfindex;
  if (row.podNamespace !== null && row.podName !== null) {
    view.pod = {
      namespace: row.podNamespace,
      name: row.podName,
      ...(row.podUid === null ? {} : { uid: row.podUid }),
    };
  }
  if (counters) {
    const c = (x: { packets: bigint; bytes: bigint }): CounterView => ({
      packets: Number(x.packets),
      bytes: Number(x.bytes),
    });
    view.counters = {
      egress: c(counters.egress),
      stack: c(counters.stack),
      drop: c(counters.drop),
      ingress: c(counters.ingress),
    };
  }
  return view;
}
