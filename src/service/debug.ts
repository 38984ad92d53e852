// The service table as text, for `fairway debug tables`, `fairway service
// list` and golden tests (one format everywhere, so bug reports and tests compare).

import { hostPort } from "./endpoints.ts";
import type { Frontend, ServiceEntry, ServiceTable } from "./types.ts";

/**
 * service default/web NodePort random affinity=10800s
 *   #1 ClusterIP 10.96.0.10:80/TCP http policy=Cluster forward
 *     #1 10.0.1.5:8080 active node=node-a
 *   ! a problem that was ignored
 * skipped default/dns: headless service: DNS only
 */
export function formatServiceTable(table: ServiceTable): string {
  const lines: string[] = [];
  for (const svc of table.services) lines.push(...formatService(svc));
  for (const s of table.skipped) lines.push(`skipped ${s.key}: ${s.reason}`);
  return `${lines.join("\n")}\n`;
}

export function formatService(svc: ServiceEntry): string[] {
  const affinity =
    svc.affinityTimeoutSeconds !== undefined ? ` affinity=${svc.affinityTimeoutSeconds}s` : "";
  const lines = [`service ${svc.key} ${svc.type} ${svc.algorithm}${affinity}`];
  for (const fe of svc.frontends) lines.push(...formatFrontend(fe));
  for (const p of svc.problems) lines.push(`  ! ${p}`);
  return lines;
}

function formatFrontend(fe: Frontend): string[] {
  const name = fe.portName ? ` ${fe.portName}` : "";
  const lines = [
    `  #${fe.id} ${fe.kind} ${hostPort(fe.address, fe.port)}/${fe.protocol}${name} policy=${fe.trafficPolicy} ${fe.action}`,
  ];
  for (const be of fe.backends) {
    const node = be.nodeName ? ` node=${be.nodeName}` : "";
    lines.push(`    #${be.id} ${hostPort(be.address, be.port)} ${be.state}${node}`);
  }
  return lines;
}
