// Start-up: make the records, the kernel and IPAM agree again after the agent
// was down (upgrade, crash, kill -9 in the middle of an ADD or DEL).
//
//   'ready' rows      host veth and pod netns there -> re-attach this load's
//                     program and rewrite the map entries (no re-plumbing:
//                     the pod's traffic never stops); else torn down
//   'creating' rows   a crash mid-ADD: rolled back
//   'deleting' rows   a crash mid-DEL (or a failed undo): finished
//   IPAM              reconcile with the containers that still have a row
//   orphans           map entries whose endpoint id has no row; veths named
//                     with our prefix that no row names
//
// Also the core of GC's sweep (sweepOrphans), which runs while ADDs may be in
// flight and so takes the per-veth lock for each deletion.

import { errorMessage } from "../base/errors.ts";
import type { EndpointContext } from "./context.ts";
import { isHostIfname } from "./naming.ts";
import type { EndpointRow } from "./store.ts";
import { teardown } from "./teardown.ts";

export interface RestoreReport {
  restored: number;
  /** ready rows whose veth or netns was gone */
  stale: string[];
  /** creating/deleting rows finished */
  rolledBack: string[];
  /** rows that could not be re-attached or torn down (left for the next start) */
  failed: string[];
  released: string[];
  orphanEntries: number[];
  orphanLinks: string[];
}

const label = (r: EndpointRow) => `${r.containerId}/${r.ifname}`;

export async function restore(ctx: EndpointContext): Promise<RestoreReport> {
  const report: RestoreReport = {
    restored: 0,
    stale: [],
    rolledBack: [],
    failed: [],
    released: [],
    orphanEntries: [],
    orphanLinks: [],
  };
  for (const row of ctx.store.all()) {
    try {
      if (row.state !== "ready") {
        await teardown(ctx, row);
        report.rolledBack.push(label(row));
      } else if (!reattach(ctx, row)) {
        await teardown(ctx, row);
        report.stale.push(label(row));
      } else report.restored += 1;
    } catch (err) {
      ctx.log.error({ err, endpoint: label(row) }, "restoring an endpoint failed");
      report.failed.push(`${label(row)}: ${errorMessage(err)}`);
    }
  }
  const live = new Set(ctx.store.all().map((r) => r.containerId));
  const reconciled = await ctx.ipam.reconcile(live);
  report.released = reconciled.released.map((a) => `${a.ip} ${a.containerId}/${a.ifname}`);
  const swept = await sweepOrphans(ctx);
  report.orphanEntries = swept.entries;
  report.orphanLinks = swept.links;
  return report;
}

/** Re-attaches a ready endpoint in place; false when its veth or netns is gone. */
function reattach(ctx: EndpointContext, row: EndpointRow): boolean {
  const ifindex = ctx.kernel.hostLinkIndex(row.hostIfname);
  if (ifindex === 0 || !ctx.kernel.netnsExists(row.netns)) return false;
  if (ifindex !== row.hostIfindex) ctx.store.setIfindex(row.id, ifindex);
  ctx.kernel.attach({
    endpointId: row.id,
    hostIfindex: ifindex,
    podIps: row.ips,
    podMac: row.podMac,
    hostMac: row.hostMac,
  });
  return true;
}

export interface SweepOptions {
  /** runs a deletion of the named host veth under the caller's lock */
  withLock?: <T>(hostIfname: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * Removes datapath entries whose endpoint id has no row and host veths (by
 * prefix) that no row names. Entries are read before rows: a row is written
 * before its entry and deleted after it, so an entry without a row is dead.
 */
export async function sweepOrphans(
  ctx: EndpointContext,
  options: SweepOptions = {},
): Promise<{ entries: number[]; links: string[] }> {
  const entries = ctx.kernel.entries();
  const links = (await ctx.kernel.hostLinks()).filter(
    (l) => l.kind === "veth" && isHostIfname(ctx.config.hostIfPrefix, l.name),
  );
  const ids = new Set(ctx.store.all().map((r) => r.id));
  const deadIds = [...new Set(entries.map((e) => e.endpointId))].filter((id) => !ids.has(id));
  for (const id of deadIds) ctx.kernel.detach(id);
  const withLock = options.withLock ?? ((_name, fn) => fn());
  const removed: string[] = [];
  for (const link of links) {
    await withLock(link.name, async () => {
      // Re-read under the lock: an ADD may have recorded this name meanwhile.
      if (ctx.store.byHostIfname(link.name)) return;
      if (await ctx.kernel.unplumb(link.name)) removed.push(link.name);
    });
  }
  if (deadIds.length > 0 || removed.length > 0) {
    ctx.log.info({ entries: deadIds, links: removed }, "removed orphaned datapath state");
  }
  return { entries: deadIds, links: removed };
}
