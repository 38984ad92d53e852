// Failures of datapath/net: each has a stable code, a message naming the link,
// address or namespace, and the native error as cause. Root (fwt* namespaces).

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { FairwayError } from "../../src/base/errors.ts";
import * as net from "../../src/datapath/net/index.ts";
import { cleanupFor, requireRoot, uniqueName } from "../harness/index.ts";

requireRoot();
after(() => net.closeNetlinkSockets());

async function netns(c: ReturnType<typeof cleanupFor>, tag: string): Promise<string> {
  const path = await net.createNetns(uniqueName(tag));
  c.defer(async () => {
    await net.deleteNetns(path, { ifExists: true });
  });
  return path;
}

test("a taken name gives E_LINK_EXISTS naming the taken side", async (t) => {
  const c = cleanupFor(t);
  const a = await netns(c, "ea");
  const b = await netns(c, "eb");
  const name = uniqueName("x");
  await net.createVeth({ name, peerName: "eth0", peerNetns: b }, { netns: a });
  c.defer(async () => {
    await net.deleteLinkIfExists(name, { netns: a });
  });

  const hostSide = await net
    .createVeth({ name, peerName: "eth1", peerNetns: b }, { netns: a })
    .catch((e) => e);
  assert.ok(hostSide instanceof FairwayError);
  assert.equal(hostSide.code, "E_LINK_EXISTS");
  assert.match(hostSide.message, new RegExp(`link "${name}" already exists in netns ${a}`));
  assert.equal(hostSide.details.link, name);
  assert.equal(
    (hostSide.cause as { code?: string }).code,
    "ENETLINK",
    "the native error is the cause",
  );

  const other = uniqueName("y");
  await assert.rejects(
    net.createVeth({ name: other, peerName: "eth0", peerNetns: b }, { netns: a }),
    {
      code: "E_LINK_EXISTS",
      message: new RegExp(`link "eth0" already exists in netns ${b}`),
    },
  );
  assert.equal(
    await net.findLink(other, { netns: a }),
    undefined,
    "a failed create leaves nothing",
  );
  await assert.rejects(net.renameLink(name, "lo", { netns: a }), {
    code: "E_LINK_EXISTS",
    message: /"lo"|name lo/,
  });
});

test("a missing namespace path gives E_NETNS_NOT_FOUND naming it", async (t) => {
  const c = cleanupFor(t);
  const a = await netns(c, "ma");
  const missing = `/run/netns/${uniqueName("gone")}`;
  await assert.rejects(net.listLinks({ netns: missing }), {
    code: "E_NETNS_NOT_FOUND",
    message: new RegExp(`network namespace ${missing} does not exist`),
  });
  const name = uniqueName("x");
  await assert.rejects(
    net.createVeth({ name, peerName: "eth0", peerNetns: missing }, { netns: a }),
    {
      code: "E_NETNS_NOT_FOUND",
      message: new RegExp(missing),
    },
  );
  assert.equal(await net.findLink(name, { netns: a }), undefined);
  await assert.rejects(net.addAddress("lo", "10.0.0.1/32", { netns: missing }), {
    code: "E_NETNS_NOT_FOUND",
  });
  assert.throws(() => net.readSysctl("net.ipv4.ip_forward", { netns: missing }), {
    code: "E_NETNS_NOT_FOUND",
  });
  await assert.rejects(net.deleteNetns(missing), {
    code: "E_NETNS_NOT_FOUND",
    message: new RegExp(missing),
  });
});

test("deleting what is not there: E_*_NOT_FOUND naming it, or false for the idempotent form", async (t) => {
  const c = cleanupFor(t);
  const a = await netns(c, "da");
  const inA = { netns: a };
  const name = uniqueName("nx");
  await assert.rejects(net.deleteLink(name, inA), {
    code: "E_LINK_NOT_FOUND",
    message: new RegExp(`delete link "${name}" in netns ${a}: no such link`),
  });
  assert.equal(await net.deleteLinkIfExists(name, inA), false);
  await assert.rejects(net.getLink(name, inA), {
    code: "E_LINK_NOT_FOUND",
    message: new RegExp(name),
  });
  await assert.rejects(net.addAddress(name, "10.0.0.1/32", inA), {
    code: "E_LINK_NOT_FOUND",
    message: new RegExp(name),
  });
  await assert.rejects(net.deleteAddress("lo", "10.9.9.9/32", inA), {
    code: "E_ADDR_NOT_FOUND",
    message: /10\.9\.9\.9\/32/,
  });
  await assert.rejects(net.deleteRoute({ dst: "10.9.0.0/16" }, inA), {
    code: "E_ROUTE_NOT_FOUND",
    message: /10\.9\.0\.0\/16/,
  });
  await assert.rejects(net.deleteNeighbour({ address: "10.9.9.9", dev: "lo" }, inA), {
    code: "E_NEIGH_NOT_FOUND",
    message: /10\.9\.9\.9/,
  });
});

test("the kernel's extended ACK is the reason given, and E_*_EXISTS on duplicates", async (t) => {
  const c = cleanupFor(t);
  const a = await netns(c, "ka");
  const inA = { netns: a };
  await net.setLinkUp("lo", inA);
  await net.addAddress("lo", "10.9.0.1/32", inA);
  await assert.rejects(net.addAddress("lo", "10.9.0.1/32", inA), {
    code: "E_ADDR_EXISTS",
    message: /10\.9\.0\.1\/32.*"lo"/,
  });
  await net.addRoute({ dst: "10.8.0.0/16", dev: "lo" }, inA);
  await assert.rejects(net.addRoute({ dst: "10.8.0.0/16", dev: "lo" }, inA), {
    code: "E_ROUTE_EXISTS",
  });
  const err = await net.addRoute({ dst: "10.7.0.0/16", gateway: "192.0.2.1" }, inA).catch((e) => e);
  assert.equal(err.code, "E_NETLINK");
  assert.ok(err.details.netlinkMessage, "extack text carried in details");
  assert.ok(err.message.includes(err.details.netlinkMessage), "and in the message");
  assert.equal(err.details.errno, "ENETUNREACH");
  assert.deepEqual(Object.keys(err.toJSON()).sort(), ["code", "details", "kind", "message"]);
});

test("bad input is refused before any syscall with E_NET_INVALID", async () => {
  await assert.rejects(net.getLink("this-name-is-too-long"), {
    code: "E_NET_INVALID",
    message: /this-name-is-too-long/,
  });
  await assert.rejects(net.addAddress("lo", "10.0.0.300/32"), {
    code: "E_NET_INVALID",
    message: /10\.0\.0\.300/,
  });
  await assert.rejects(net.addRoute({ dst: "10.0.0.0/8", gateway: "fd00::1" }), {
    code: "E_NET_INVALID",
  });
  await assert.rejects(net.createNetns("a/b"), { code: "E_NET_INVALID" });
  await assert.rejects(net.setLinkMac("lo", "zz:00:00:00:00:00"), { code: "E_NET_INVALID" });
});
