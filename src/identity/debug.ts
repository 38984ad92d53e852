// The identity table and the ipcache as text: what the goldens compare and
// what `fairway identity list` prints.
//
//   256   k8s:app=web k8s:io.kubernetes.pod.namespace=shop ...   pods: shop/web-1 shop/web-2
//   10.0.1.5/32        256        pod shop/web-1

import type { Ipcache } from "./ipcache.ts";
import type { Identity, IdentityTable } from "./table.ts";

export function formatIdentity(i: Identity): string {
  const pods = i.pods && i.pods.length > 0 ? `   pods: ${i.pods.join(" ")}` : "";
  return `${String(i.id).padEnd(9)} ${i.labels.join(" ")}${pods}`;
}

export function formatIdentityTable(table: IdentityTable): string {
  return `${table.identities.map(formatIdentity).join("\n")}\n`;
}

export function formatIpcache(ipcache: Ipcache): string {
  const width = Math.max(18, ...ipcache.entries.map((e) => e.prefix.length));
  const lines = ipcache.entries.map((e) =>
    `${e.prefix.padEnd(width)} ${String(e.identity).padEnd(9)} ${e.source}${e.owner ? ` ${e.owner}` : ""}`.trimEnd(),
  );
  for (const p of ipcache.problems) lines.push(`! ${p}`);
  return `${lines.join("\n")}\n`;
}
