// Taking an endpoint apart, in the reverse order of ADD: mark the row
// 'deleting', remove the datapath entry (filter first, then map entries and
// counters), delete the host veth (its pod end, routes and neighbours go with
// it), release the addresses, delete the row. A failure leaves the row
// 'deleting' with its addresses held, so nothing is reused while a link may
// still carry it; the next DEL, GC or agent start finishes the job.

import type { AttachmentKey } from "../ipam/index.ts";
import type { EndpointContext } from "./context.ts";
import { datapathError } from "./errors.ts";
import { hostIfnameFor } from "./naming.ts";
import type { EndpointRow } from "./store.ts";

export interface TeardownOptions {
  /** keep the IPAM allocation (a repair that re-creates the endpoint with the same addresses) */
  keepIps?: boolean;
}

export async function teardown(
  ctx: EndpointContext,
  row: EndpointRow,
  options: TeardownOptions = {},
): Promise<void> {
  const key = { containerId: row.containerId, ifname: row.ifname };
  if (row.state !== "deleting") ctx.store.setState(row.id, "deleting");
  try {
    ctx.kernel.detach(row.id, { hostIfindex: row.hostIfindex, podIps: row.ips });
  } catch (err) {
    throw datapathError("removing the datapath entry", key, err);
  }
  try {
    await ctx.kernel.unplumb(row.hostIfname, row.netns);
  } catch (err) {
    throw datapathError(`deleting host veth ${row.hostIfname}`, key, err);
  }
  if (!options.keepIps) await ctx.ipam.release(key);
  ctx.store.remove(row.id);
}

/**
 * DEL of an attachment that has no row (never added, already deleted, or a
 * lost database): whatever still carries its derived host veth name goes, and
 * its addresses are released.
 */
export async function teardownUnrecorded(
  ctx: EndpointContext,
  key: AttachmentKey,
  podNetns: string | undefined,
): Promise<boolean> {
  const hostIfname = hostIfnameFor(ctx.config.hostIfPrefix, key.containerId, key.ifname);
  const ifindex = ctx.kernel.hostLinkIndex(hostIfname);
  let found = false;
  if (ifindex !== 0) {
    found = true;
    try {
      for (const e of ctx.kernel.entries()) {
        if (e.hostIfindex === ifindex) ctx.kernel.detach(e.endpointId);
      }
      await ctx.kernel.unplumb(hostIfname, podNetns);
    } catch (err) {
      throw datapathError(`deleting unrecorded host veth ${hostIfname}`, key, err);
    }
  }
  const released = await ctx.ipam.release(key);
  return found || released.length > 0;
}
