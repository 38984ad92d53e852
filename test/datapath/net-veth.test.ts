// Namespaces and veth pairs through rtnetlink, checked against iproute2's view.
// Root: creates network namespaces and links (all named fwt*, removed at the end).

import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as net from "../../src/datapath/net/index.ts";
import { cleanupFor, requireRoot, run, uniqueName } from "../harness/index.ts";

requireRoot();
after(() => {
  net.closeNetlinkSockets();
  assert.deepEqual(net.openNetlinkSockets(), {}, "every netlink socket closed");
});

/** A namespace made with our code, deleted at test end. */
async function netns(c: ReturnType<typeof cleanupFor>, tag: string): Promise<string> {
  const path = await net.createNetns(uniqueName(tag));
  c.defer(async () => {
    await net.deleteNetns(path, { ifExists: true });
  });
  return path;
}

test("a namespace created here is one iproute2 lists, enters and deletes", async (t) => {
  const c = cleanupFor(t);
  const name = uniqueName("ns");
  const path = await net.createNetns(name);
  c.defer(async () => {
    await net.deleteNetns(path, { ifExists: true });
  });

  assert.equal(path, `/run/netns/${name}`);
  assert.equal(net.netnsPath(name), path);
  assert.ok(net.netnsExists(name));
  assert.ok(net.listNetns().includes(name));
  assert.match(run("ip", ["netns", "list"]), new RegExp(`^${name}\\b`, "m"));
  assert.match(run("ip", ["netns", "exec", name, "ip", "-o", "link"]), /^1: lo:/m);
  assert.match(run("findmnt", ["-n", "-o", "PROPAGATION", net.NETNS_RUN_DIR]), /shared/);
  await assert.rejects(net.createNetns(name), {
    code: "E_NETNS_EXISTS",
    message: new RegExp(path),
  });

  assert.equal(await net.deleteNetns(name), true);
  assert.equal(net.netnsExists(name), false);
  assert.doesNotMatch(run("ip", ["netns", "list"]), new RegExp(name));
  assert.equal(await net.deleteNetns(name, { ifExists: true }), false);
});

test("a veth pair across two namespaces: both ends, changes, move, delete", async (t) => {
  const c = cleanupFor(t);
  const a = await netns(c, "va");
  const b = await netns(c, "vb");
  const other = await netns(c, "vc");
  const nameA = uniqueName("a");
  const nameB = uniqueName("b");
  await net.createVeth(
    {
      name: nameA,
      peerName: nameB,
      peerNetns: b,
      mtu: 1400,
      mac: "02:00:00:00:0a:01",
      peerMac: "02:00:00:00:0b:01",
      up: true,
      peerUp: true,
    },
    { netns: a },
  );
  c.defer(async () => {
    await net.deleteLinkIfExists(nameA, { netns: a });
  });

  const endA = await net.getLink(nameA, { netns: a });
  const endB = await net.getLink(nameB, { netns: b });
  assert.equal(endA.kind, "veth");
  assert.equal(endA.mtu, 1400);
  assert.equal(endB.mtu, 1400);
  assert.equal(endA.mac, "02:00:00:00:0a:01");
  assert.equal(endB.mac, "02:00:00:00:0b:01");
  assert.ok(endA.up && endB.up);
  assert.equal(endA.peerIndex, endB.index, "IFLA_LINK of one end is the other's ifindex");
  assert.equal(endB.peerIndex, endA.index);
  assert.deepEqual(await net.getLink(endA.index, { netns: a }), endA, "by index = by name");
  assert.deepEqual(
    (await net.listLinks({ netns: a })).map((l) => l.name),
    ["lo", nameA],
  );
  assert.match(run("ip", ["-n", b.split("/").at(-1)!, "-o", "link", "show", nameB]), /mtu 1400/);

  await net.setLink(nameA, { mtu: 1300, mac: "02:00:00:00:0a:02", up: false }, { netns: a });
  const changed = await net.getLink(nameA, { netns: a });
  assert.deepEqual([changed.mtu, changed.mac, changed.up], [1300, "02:00:00:00:0a:02", false]);

  const renamed = uniqueName("r");
  await net.renameLink(nameA, renamed, { netns: a });
  assert.equal((await net.getLink(renamed, { netns: a })).index, endA.index);
  assert.equal(await net.findLink(nameA, { netns: a }), undefined);
  c.defer(async () => {
    await net.deleteLinkIfExists(renamed, { netns: a });
  });

  // the peer moves to a third namespace and is renamed there, in one request
  await net.moveLinkToNetns(nameB, other, "eth0", { netns: b });
  assert.equal(await net.findLink(nameB, { netns: b }), undefined);
  const moved = await net.getLink("eth0", { netns: other });
  assert.equal(moved.mac, "02:00:00:00:0b:01");

  // deleting one end deletes the pair
  await net.deleteLink(renamed, { netns: a });
  assert.equal(await net.findLink("eth0", { netns: other }), undefined);
  assert.equal(await net.deleteLinkIfExists(renamed, { netns: a }), false);
});

test("ping goes across a veth between two namespaces", async (t) => {
  const c = cleanupFor(t);
  const a = await netns(c, "pa");
  const b = await netns(c, "pb");
  const nameA = uniqueName("a");
  await net.createVeth(
    { name: nameA, peerName: "eth0", peerNetns: b, up: true, peerUp: true },
    { netns: a },
  );
  c.defer(async () => {
    await net.deleteLinkIfExists(nameA, { netns: a });
  });
  await net.addAddress(nameA, "10.231.0.1/24", { netns: a });
  await net.addAddress("eth0", "10.231.0.2/24", { netns: b });
  run("ip", ["netns", "exec", a.split("/").at(-1)!, "ping", "-c1", "-W1", "10.231.0.2"]);
  run("ip", ["netns", "exec", b.split("/").at(-1)!, "ping", "-c1", "-W1", "10.231.0.1"]);
});

test("a cached socket does not outlive its namespace: same path, new namespace", async (t) => {
  const c = cleanupFor(t);
  const name = uniqueName("re");
  const path = net.netnsPath(name);
  c.defer(async () => {
    await net.deleteNetns(path, { ifExists: true });
  });
  run("ip", ["netns", "add", name]);
  const link = uniqueName("d");
  await net.createVeth({ name: link, peerName: `${link}p` }, { netns: path });
  assert.ok(await net.findLink(link, { netns: path }));
  assert.ok(net.openNetlinkSockets()[path], "a socket is cached for the path");
  // deleted and re-created behind our back, by iproute2
  run("ip", ["netns", "del", name]);
  run("ip", ["netns", "add", name]);
  assert.equal(await net.findLink(link, { netns: path }), undefined, "asks the new namespace");
  await net.deleteNetns(path);
  assert.equal(net.openNetlinkSockets()[path], undefined, "deleteNetns closes the path's sockets");
});
