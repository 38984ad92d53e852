// CNI CHECK: the record, the kernel and the runtime's prevResult must agree.
// Every difference found is named in one E_CHECK_FAILED.

import type { CniRequest, CniResult } from "../base/api.ts";
import type { EndpointContext } from "./context.ts";
import { checkFailed, containerUnknown } from "./errors.ts";
import type { ObservedEndpoint } from "./kernel.ts";
import { gatewayOf, podCidr } from "./result.ts";
import type { EndpointRow } from "./store.ts";

export async function checkEndpoint(ctx: EndpointContext, req: CniRequest): Promise<void> {
  const key = { containerId: req.containerId, ifname: req.ifname };
  const row = ctx.store.get(key.containerId, key.ifname);
  if (!row) throw containerUnknown(key);
  const problems: string[] = [];
  if (row.state !== "ready") problems.push(`endpoint is ${row.state}, not ready`);
  if (req.netns && req.netns !== row.netns) {
    problems.push(`netns is ${req.netns} but the endpoint was made in ${row.netns}`);
  }
  if (!ctx.kernel.netnsExists(row.netns)) {
    problems.push(`network namespace ${row.netns} is gone`);
  } else if (row.hostIfindex !== null) {
    const seen = await ctx.kernel.observe({
      endpointId: row.id,
      hostIfindex: row.hostIfindex,
      netns: row.netns,
      ifname: row.ifname,
    });
    problems.push(...kernelProblems(row, seen));
  }
  if (req.prevResult) problems.push(...prevResultProblems(row, req.prevResult));
  if (problems.length > 0) throw checkFailed(key, problems);
}

const sameMac = (a: string | undefined, b: string): boolean => a?.toLowerCase() === b.toLowerCase();

/** Differences between the record and what the kernel holds. */
export function kernelProblems(row: EndpointRow, seen: ObservedEndpoint): string[] {
  const p: string[] = [];
  const host = seen.hostLink;
  if (!host) p.push(`host veth ${row.hostIfname} (ifindex ${row.hostIfindex}) is gone`);
  else {
    if (host.name !== row.hostIfname)
      p.push(`ifindex ${row.hostIfindex} is ${host.name}, not ${row.hostIfname}`);
    if (!sameMac(host.mac, row.hostMac)) p.push(`host veth MAC is ${host.mac}, not ${row.hostMac}`);
    if (!host.up) p.push(`host veth ${row.hostIfname} is down`);
  }
  const pod = seen.podLink;
  if (!pod) p.push(`interface ${row.ifname} is missing in ${row.netns}`);
  else {
    if (!sameMac(pod.mac, row.podMac)) p.push(`${row.ifname} MAC is ${pod.mac}, not ${row.podMac}`);
    if (!pod.up) p.push(`${row.ifname} is down`);
    if (pod.mtu !== row.mtu) p.push(`${row.ifname} MTU is ${pod.mtu}, not ${row.mtu}`);
    for (const ip of row.ips) {
      const want = podCidr(ip);
      if (!seen.podAddresses.includes(want)) p.push(`address ${want} is missing on ${row.ifname}`);
      const gw = gatewayOf(ip);
      if (!seen.podRoutes.some((r) => r.dst === "default" && r.gateway === gw)) {
        p.push(`default route via ${gw} is missing in ${row.netns}`);
      }
    }
  }
  for (const ip of row.ips) {
    const e = seen.entries.find((x) => x.podIps.includes(ip));
    if (!e) p.push(`datapath has no entry for ${ip}`);
    else if (e.hostIfindex !== row.hostIfindex) {
      p.push(`datapath entry of ${ip} points at ifindex ${e.hostIfindex}, not ${row.hostIfindex}`);
    } else if (!sameMac(e.podMac, row.podMac)) {
      p.push(`datapath entry of ${ip} has pod MAC ${e.podMac}, not ${row.podMac}`);
    }
  }
  if (host && !seen.filterAttached) p.push(`no datapath program on ${row.hostIfname} ingress`);
  return p;
}

/** Differences between the record and the result the runtime kept from ADD. */
export function prevResultProblems(row: EndpointRow, prev: CniResult): string[] {
  const p: string[] = [];
  const interfaces = prev.interfaces ?? [];
  const mine = interfaces.findIndex((i) => i.name === row.ifname && i.sandbox !== undefined);
  if (mine >= 0) {
    const i = interfaces[mine]!;
    if (i.mac !== undefined && !sameMac(i.mac, row.podMac)) {
      p.push(`prevResult gives ${row.ifname} MAC ${i.mac}, the endpoint has ${row.podMac}`);
    }
    if (i.sandbox !== row.netns) {
      p.push(`prevResult gives sandbox ${i.sandbox}, the endpoint is in ${row.netns}`);
    }
  }
  // Our addresses: those on our interface, or all when the result does not say which.
  const listed = (prev.ips ?? [])
    .filter((ip) => ip.interface === undefined || ip.interface === mine)
    .map((ip) => ip.address);
  const have = row.ips.map(podCidr);
  for (const a of have) if (!listed.includes(a)) p.push(`prevResult lacks address ${a}`);
  for (const a of listed)
    if (!have.includes(a)) p.push(`prevResult has address ${a}, the endpoint does not`);
  return p;
}
