// CNI ADD, step by step, each step undone when a later one fails:
//
//   validate      netns exists (E_NETNS_NOT_FOUND), ifname free in it (E_IFNAME_TAKEN)
//   idempotency   a 'ready' row for the attachment whose kernel state is there: same result
//   IPAM          allocateAll, committed                          undo: release
//   record        row 'creating'                                  undo: delete row
//   plumb         veth pair, addresses, routes, neighbours        undo: delete host veth
//   attach        endpoint map entries, counters, tc filter       undo: detachEndpoint
//   ready         row 'ready' + host ifindex
//
// A crash between steps leaves a 'creating' row (rolled back at start) or an
// allocation without a row (released by IPAM reconcile at start). Nothing on
// this path forks a process or scans a table: lookups by key, one rtnetlink
// request per kernel object, three small commits.

import { isAbsolute } from "node:path";
import type { CniRequest, CniResult } from "../base/api.ts";
import { FIELDS } from "../base/log.ts";
import { randomMac } from "../datapath/veth/index.ts";
import type { EndpointContext } from "./context.ts";
import { badRequest, datapathError, ifnameTaken, netnsNotFound } from "./errors.ts";
import type { EndpointSpec, PlumbedPod } from "./kernel.ts";
import { hostIfnameFor } from "./naming.ts";
import { cniResult } from "./result.ts";
import type { EndpointRow } from "./store.ts";
import { teardown } from "./teardown.ts";

// CNI spec: container ids are alphanumerics, then also _ . -
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks the attachment fields every command needs (the agent's schema did too: the backend trusts no caller). */
export function validateAttachment(req: CniRequest, what: string): void {
  if (typeof req.containerId !== "string" || !CONTAINER_ID.test(req.containerId)) {
    throw badRequest(
      what,
      `containerId ${JSON.stringify(req.containerId)} is not a valid container id`,
    );
  }
  const ifname = req.ifname;
  if (
    typeof ifname !== "string" ||
    ifname.length === 0 ||
    Buffer.byteLength(ifname) > 15 ||
    ifname === "." ||
    ifname === ".." ||
    /[/:\s]/.test(ifname)
  ) {
    throw badRequest(what, `ifname ${JSON.stringify(ifname)} is not a valid interface name`);
  }
  if (typeof req.network !== "string" || req.network.length === 0) {
    throw badRequest(what, "network is required");
  }
}

export async function addEndpoint(ctx: EndpointContext, req: CniRequest): Promise<CniResult> {
  validateAttachment(req, "ADD");
  const netns = req.netns;
  if (typeof netns !== "string" || !isAbsolute(netns)) {
    throw badRequest("ADD", `netns ${JSON.stringify(netns)} must be an absolute path`);
  }
  const key = { containerId: req.containerId, ifname: req.ifname };
  const log = ctx.log.child({ [FIELDS.containerId]: req.containerId, [FIELDS.ifname]: req.ifname });

  const existing = ctx.store.get(key.containerId, key.ifname);
  if (existing) {
    if (existing.state === "ready" && existing.netns === netns && stillThere(ctx, existing)) {
      return cniResult(existing, req.dns);
    }
    // A crash left it half-made, or its kernel state is gone: start over, same addresses.
    log.warn(
      { state: existing.state, netns: existing.netns },
      "repairing endpoint on repeated ADD",
    );
    await teardown(ctx, existing, { keepIps: existing.netns === netns });
  }

  if (!ctx.kernel.netnsExists(netns)) throw netnsNotFound(netns, key);
  if (ctx.kernel.podLinkIndex(netns, key.ifname) !== 0) throw ifnameTaken(netns, key);
  const hostIfname = hostIfnameFor(ctx.config.hostIfPrefix, key.containerId, key.ifname);
  if (ctx.kernel.hostLinkIndex(hostIfname) !== 0) {
    // Named after this very attachment, with no row: a leftover of ours.
    log.warn({ hostIfname }, "removing a leftover host veth of this attachment");
    await ctx.kernel.unplumb(hostIfname);
  }
  return create(ctx, req, netns, hostIfname);
}

/** The cheap re-check of a repeated ADD: host veth, pod interface and filter still there. */
function stillThere(ctx: EndpointContext, row: EndpointRow): boolean {
  const k = ctx.kernel;
  return (
    row.hostIfindex !== null &&
    k.hostLinkIndex(row.hostIfname) === row.hostIfindex &&
    k.netnsExists(row.netns) &&
    k.podLinkIndex(row.netns, row.ifname) !== 0 &&
    k.filterAttached(row.hostIfindex)
  );
}

interface Made {
  allocated: boolean;
  row?: EndpointRow;
  plumbed?: PlumbedPod;
  attachTried: boolean;
}

async function create(
  ctx: EndpointContext,
  req: CniRequest,
  netns: string,
  hostIfname: string,
): Promise<CniResult> {
  const key = { containerId: req.containerId, ifname: req.ifname };
  const made: Made = { allocated: false, attachTried: false };
  try {
    const allocations = await ctx.ipam.allocateAll({
      ...key,
      ...(req.pod ? { podNamespace: req.pod.namespace, podName: req.pod.name } : {}),
    });
    made.allocated = true;
    const row = ctx.store.insert({
      network: req.network,
      containerId: key.containerId,
      ifname: key.ifname,
      netns,
      podNamespace: req.pod?.namespace ?? null,
      podName: req.pod?.name ?? null,
      podUid: req.pod?.uid ?? null,
      hostIfname,
      hostMac: randomMac(),
      podMac: randomMac(),
      mtu: req.mtu ?? ctx.mtu,
      ips: allocations.map((a) => a.ip),
      createdAt: new Date().toISOString(),
    });
    made.row = row;
    made.plumbed = await plumb(ctx, row);
    made.attachTried = true;
    const spec: EndpointSpec = {
      endpointId: row.id,
      hostIfindex: made.plumbed.hostIfindex,
      podIps: row.ips,
      podMac: row.podMac,
      hostMac: row.hostMac,
    };
    try {
      ctx.kernel.attach(spec);
    } catch (err) {
      throw datapathError("attaching the datapath", key, err);
    }
    ctx.store.markReady(row.id, made.plumbed.hostIfindex);
    return cniResult({ ...row, state: "ready", hostIfindex: made.plumbed.hostIfindex }, req.dns);
  } catch (err) {
    await rollback(ctx, key, made);
    throw err;
  }
}

async function plumb(ctx: EndpointContext, row: EndpointRow): Promise<PlumbedPod> {
  const key = { containerId: row.containerId, ifname: row.ifname };
  try {
    return await ctx.kernel.plumb({
      netnsPath: row.netns,
      ifname: row.ifname,
      hostIfname: row.hostIfname,
      podIps: row.ips,
      mtu: row.mtu,
      podMac: row.podMac,
      hostMac: row.hostMac,
    });
  } catch (err) {
    const e = err as { code?: string; details?: { link?: unknown; netns?: unknown } };
    if (e.code === "E_LINK_EXISTS" && e.details?.netns === row.netns) {
      throw ifnameTaken(row.netns, key, err);
    }
    if (e.code === "E_NETNS_NOT_FOUND" || !ctx.kernel.netnsExists(row.netns)) {
      throw netnsNotFound(row.netns, key);
    }
    throw datapathError("plumbing the pod's interface", key, err);
  }
}

/**
 * Undoes what `made` says was done, newest first. When the kernel side cannot
 * be undone the row stays 'deleting' with its addresses held (see teardown.ts).
 */
async function rollback(
  ctx: EndpointContext,
  key: { containerId: string; ifname: string },
  made: Made,
): Promise<void> {
  const log = ctx.log.child({ [FIELDS.containerId]: key.containerId, [FIELDS.ifname]: key.ifname });
  try {
    if (made.attachTried && made.row) ctx.kernel.detach(made.row.id);
    if (made.plumbed) await ctx.kernel.unplumb(made.plumbed.hostIfname, made.plumbed.netnsPath);
  } catch (err) {
    log.error({ err }, "undoing a failed ADD left kernel state; the record stays 'deleting'");
    try {
      if (made.row) ctx.store.setState(made.row.id, "deleting");
    } catch (dbErr) {
      log.error({ err: dbErr }, "cannot mark the endpoint 'deleting'");
    }
    return;
  }
  try {
    if (made.row) ctx.store.remove(made.row.id);
    if (made.allocated) await ctx.ipam.release(key);
  } catch (err) {
    // The start-up reconcile finds an allocation or a 'creating' row without a kernel side.
    log.error({ err }, "undoing a failed ADD: state database error");
  }
}
