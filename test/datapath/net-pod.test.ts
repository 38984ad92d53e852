// A pod network as the CNI plugin builds it, between a "host" namespace and a
// pod namespace: veth (pod end eth0), /32 and /128 addresses, default routes via
// a link-local gateway (onlink), static neighbours for the gateway, host routes
// to the pod, sysctls. Checked by reading back, by iproute2, and by ping.
// Root: everything lives in fwt* namespaces removed at the end.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as net from "../../src/datapath/net/index.ts";
import { cleanupFor, requireRoot, run, uniqueName } from "../harness/index.ts";

requireRoot();
after(() => net.closeNetlinkSockets());

const HOST_MAC = "ee:ee:ee:ee:ee:ee";
const GW4 = "169.254.1.1";
const GW6 = "fe80::1";
const POD4 = "10.201.0.2";
const POD6 = "fd00:201::2";
const HOST4 = "10.200.0.1";
const HOST6 = "fd00:200::1";

const nsName = (path: string) => path.split("/").at(-1)!;

test("pod network: set up, read back, ping both ways, torn down", async (t) => {
  const c = cleanupFor(t);
  const host = await net.createNetns(uniqueName("h"));
  c.defer(async () => {
    await net.deleteNetns(host, { ifExists: true });
  });
  const pod = await net.createNetns(uniqueName("p"));
  c.defer(async () => {
    await net.deleteNetns(pod, { ifExists: true });
  });
  // No DAD on links created from now on: addresses are usable at once.
  for (const netns of [host, pod])
    net.writeSysctl("net.ipv6.conf.default.accept_dad", 0, { netns });
  assert.equal(net.readSysctl("net/ipv6/conf/default/accept_dad", { netns: pod }), "0");

  const hostIf = uniqueName("v");
  await net.createVeth(
    {
      name: hostIf,
      peerName: "eth0",
      peerNetns: pod,
      mac: HOST_MAC,
      mtu: 1450,
      up: true,
      peerUp: true,
    },
    { netns: host },
  );
  c.defer(async () => {
    await net.deleteLinkIfExists(hostIf, { netns: host });
  });
  await net.setLinkUp("lo", { netns: host });
  await net.setLinkUp("lo", { netns: pod });

  const inPod = { netns: pod };
  const inHost = { netns: host };
  await net.addAddress("lo", `${HOST4}/32`, inHost);
  await net.addAddress("lo", { address: `${HOST6}/128`, noDad: true }, inHost);
  await net.addAddress("eth0", `${POD4}/32`, inPod);
  await net.addAddress("eth0", { address: `${POD6}/128`, noDad: true, noPrefixRoute: true }, inPod);
  await net.addRoute({ dst: "default", gateway: GW4, dev: "eth0", onlink: true }, inPod);
  await net.addRoute({ dst: "default6", gateway: GW6, dev: "eth0" }, inPod);
  await net.addNeighbour({ address: GW4, lladdr: HOST_MAC, dev: "eth0" }, inPod);
  await net.addNeighbour({ address: GW6, lladdr: HOST_MAC, dev: "eth0", router: true }, inPod);
  await net.addRoute({ dst: `${POD4}/32`, dev: hostIf }, inHost);
  await net.addRoute({ dst: `${POD6}/128`, dev: hostIf, protocol: 4 }, inHost);

  // read back through our own decoders
  const eth0 = await net.getLink("eth0", inPod);
  assert.equal(eth0.mtu, 1450);
  const addrs = await net.listAddresses({ link: "eth0" }, inPod);
  assert.ok(addrs.some((a) => a.cidr === `${POD4}/32` && a.scope === "global"));
  assert.ok(addrs.some((a) => a.cidr === `${POD6}/128` && a.noDad && a.noPrefixRoute));
  assert.deepEqual(
    (await net.listAddresses({ link: "eth0", family: 4 }, inPod)).map((a) => a.cidr),
    [`${POD4}/32`],
  );
  const routes = await net.listRoutes({ family: 4 }, inPod);
  assert.deepEqual(routes, [
    {
      family: 4,
      dst: "default",
      gateway: GW4,
      dev: eth0.index,
      scope: "global",
      table: 254,
      protocol: 3,
      type: "unicast",
      onlink: true,
    },
  ]);
  const v6default = (await net.listRoutes({ family: 6 }, inPod)).find((r) => r.dst === "default");
  assert.equal(v6default?.gateway, GW6);
  const hostRoutes = await net.listRoutes({ dev: hostIf }, inHost);
  assert.deepEqual(
    hostRoutes.map((r) => [r.dst, r.scope, r.protocol]),
    [
      [`${POD4}/32`, "link", 3],
      [`${POD6}/128`, "global", 4],
      ["fe80::/64", "global", 2],
    ],
  );
  const neigh = await net.listNeighbours({ dev: "eth0", family: 4 }, inPod);
  assert.deepEqual(neigh, [
    {
      family: 4,
      dev: eth0.index,
      address: GW4,
      lladdr: HOST_MAC,
      state: 0x80,
      permanent: true,
      flags: 0,
    },
  ]);

  // and as iproute2 shows it
  const p = nsName(pod);
  assert.match(
    run("ip", ["-n", p, "route"]),
    new RegExp(`default via ${GW4} dev eth0 (proto boot )?onlink`),
  );
  assert.match(
    run("ip", ["-n", p, "neigh"]),
    new RegExp(`${GW4} dev eth0 lladdr ${HOST_MAC} PERMANENT`),
  );
  assert.match(
    run("ip", ["-n", p, "-6", "neigh"]),
    new RegExp(`${GW6} dev eth0 lladdr ${HOST_MAC} router PERMANENT`),
  );

  // traffic: pod -> host over the static gateway entries, host -> pod over the host routes
  run("ip", ["netns", "exec", p, "ping", "-c1", "-W1", HOST4]);
  run("ip", ["netns", "exec", p, "ping", "-6", "-c1", "-W1", HOST6]);
  run("ip", ["netns", "exec", nsName(host), "ping", "-c1", "-W1", POD4]);

  // teardown of the pieces, then of the pair
  await net.replaceRoute(
    { dst: "default", gateway: GW4, dev: "eth0", onlink: true, metric: 10 },
    inPod,
  );
  await net.deleteRoute({ dst: "default", gateway: GW4, metric: 10 }, inPod);
  await net.deleteRoute({ dst: "default" }, inPod);
  assert.deepEqual(await net.listRoutes({ family: 4 }, inPod), []);
  await net.replaceNeighbour({ address: GW4, lladdr: "ee:ee:ee:ee:ee:01", dev: "eth0" }, inPod);
  const replaced = await net.listNeighbours({ dev: "eth0", family: 4 }, inPod);
  assert.equal(replaced.find((n) => n.address === GW4)?.lladdr, "ee:ee:ee:ee:ee:01");
  await net.deleteNeighbour({ address: GW4, dev: "eth0" }, inPod);
  // (the pod may have learnt the host's address from its ARP request: only GW4 must be gone)
  const left = await net.listNeighbours({ dev: "eth0", family: 4 }, inPod);
  assert.equal(
    left.find((n) => n.address === GW4),
    undefined,
  );
  await net.deleteAddress("eth0", `${POD4}/32`, inPod);
  assert.deepEqual(await net.listAddresses({ link: "eth0", family: 4 }, inPod), []);
  await net.deleteLink(hostIf, inHost);
  assert.equal(await net.findLink("eth0", inPod), undefined);
  assert.deepEqual(
    await net.listRoutes({ family: 4 }, inHost),
    [],
    "host routes went with the link",
  );
});

test("sysctls are per namespace: a write inside one is not seen outside", async (t) => {
  const c = cleanupFor(t);
  const ns = await net.createNetns(uniqueName("s"));
  c.defer(async () => {
    await net.deleteNetns(ns, { ifExists: true });
  });
  const outside = net.readSysctl("net.ipv4.ip_forward");
  const value = outside === "1" ? "0" : "1";
  net.writeSysctl("net.ipv4.ip_forward", value, { netns: ns });
  assert.equal(net.readSysctl("net.ipv4.ip_forward", { netns: ns }), value);
  assert.equal(
    run("ip", ["netns", "exec", nsName(ns), "cat", "/proc/sys/net/ipv4/ip_forward"]).trim(),
    value,
  );
  assert.equal(
    net.readSysctl("net.ipv4.ip_forward"),
    outside,
    "the test's own namespace is untouched",
  );
  assert.throws(() => net.readSysctl("kernel.hostname", { netns: ns }), { code: "E_NET_INVALID" });
  assert.throws(() => net.writeSysctl("net.ipv4.no_such_key", 1, { netns: ns }), {
    code: "E_SYSCTL",
    message: /net\/ipv4\/no_such_key/,
  });
});
