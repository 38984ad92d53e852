// Pod networking with a real runtime: rootful podman (CNI backend) runs
// busybox containers on network "fairway", whose conflist and plugin the
// fairway-agent under test installed. Each test runs its own agent (temp
// state, run and conf dirs, unique bpffs dir and veth prefix) and removes
// everything it made, pass or fail: containers, namespaces, links, pins, dirs.
// Needs root and podman set up by scripts/setup-podman.sh; fails loudly without.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { cleanupFor, run, uniqueName } from "../harness/index.ts";
import { tempDir } from "./cni-fixtures/harness.ts";
import { inCidr } from "./podman/inventory.ts";
import { FairwayNode, linkNames, NETWORK, podCidrFor } from "./podman/node.ts";
import { makeOutside } from "./podman/outside.ts";
import { Podman, requirePodman } from "./podman/podman.ts";

const POD_CIDR = podCidrFor(0);

/**
 * Fetches url from a fresh container on the network; returns the body.
 * (`timeout`, not wget's -T: Debian's busybox-static 1.35 wget segfaults with -T.)
 */
function fetchFrom(node: FairwayNode, url: string): string {
  return node.podman.runOnce("get", NETWORK, ["timeout", "10", "wget", "-O", "-", url]);
}

/** After every container is gone: no endpoint, no host veth of this node. */
async function assertNothingLeft(node: FairwayNode): Promise<void> {
  node.podman.cleanup();
  assert.deepEqual(await node.endpoints(), [], "endpoint records left");
  assert.deepEqual(
    linkNames().filter((n) => n.startsWith(node.hostIfPrefix)),
    [],
    "host veths left",
  );
  assert.equal(node.dbRows().ipam_allocations, 0, "IPAM rows left");
}

describe("podman on Fairway's CNI network", () => {
  before(() => requirePodman());

  test("podman reads the agent's conflist as written", async (t) => {
    const c = cleanupFor(t);
    const node = await FairwayNode.start(t, c, { podCIDR: POD_CIDR });
    // A podman pointed at the agent's own confDir, whatever the node chose.
    const dir = join(node.dirs.root, "as-written");
    mkdirSync(dir);
    const podman = new Podman(dir, node.dirs.confDir, [node.dirs.binDir, "/usr/lib/cni"]);
    c.defer(() => podman.cleanup());
    const res = await podman.tryOnce("asis", NETWORK, ["true"]);
    assert.equal(
      res.code,
      0,
      `podman (${podman.confPath}) cannot use the agent's conflist: ${res.stderr.trim()}\n` +
        "runtimes built on libcni before 1.2 (podman 4, containerd 1.7) read only `cniVersion` and " +
        "speak up to 1.0.0: the conflist should say cniVersion 1.0.0 and offer 1.1.0 in `cniVersions`.",
    );
    await assertNothingLeft(node);
  });

  test("container A fetches a page from container B's httpd by IP", async (t) => {
    const c = cleanupFor(t);
    const node = await FairwayNode.start(t, c, { podCIDR: POD_CIDR });
    if (node.conflistCompat) t.diagnostic(node.conflistCompat);
    const token = `page-${uniqueName("tok")}`;
    const b = node.podman.start("srvb", NETWORK, [
      "sh",
      "-c",
      `echo ${token} > /www/index.html && exec httpd -f -p 80 -h /www`,
    ]);
    const ipB = node.podman.ip(b, NETWORK);
    assert.ok(inCidr(ipB, POD_CIDR), `B's address ${ipB} is not in ${POD_CIDR}`);
    const eps = await node.endpoints();
    assert.equal(eps.length, 1);
    assert.deepEqual(
      eps[0]!.ips.map((ip) => ip.split("/")[0]),
      [ipB],
    );
    assert.equal(eps[0]!.state, "ready");

    const body = await retry(() => fetchFrom(node, `http://${ipB}/`), 3);
    assert.equal(body.trim(), token);
    // A (run --rm) is gone with its endpoint; B's stays.
    assert.deepEqual(
      (await node.endpoints()).map((e) => e.ips[0]!.split("/")[0]),
      [ipB],
    );
    node.podman.remove(b);
    await assertNothingLeft(node);
  });

  test("a container reaches an address outside the node through the uplink, and only there", async (t) => {
    const c = cleanupFor(t);
    const outside = await makeOutside(c, tempDir(t, "outside"), POD_CIDR);
    const node = await FairwayNode.start(t, c, { podCIDR: POD_CIDR, uplink: outside.uplink });
    // The server's address is routed to the outside namespace and nowhere else.
    const route = run("ip", ["route", "get", new URL(outside.url).hostname]);
    assert.match(route, new RegExp(` dev ${outside.uplink} `), route);
    const rx = outside.rxPackets();
    const body = await retry(() => fetchFrom(node, outside.url), 3);
    assert.equal(body.trim(), outside.token);
    assert.ok(outside.rxPackets() > rx, "the request arrived over the uplink veth");
    await assertNothingLeft(node);
  });

  test("podman rm frees the address: IPAM row, endpoint record, host veth and CNI cache gone", async (t) => {
    const c = cleanupFor(t);
    const node = await FairwayNode.start(t, c, { podCIDR: POD_CIDR });
    const name = node.podman.start("rm", NETWORK, ["sleep", "3600"]);
    const ip = node.podman.ip(name, NETWORK);
    const [ep] = await node.endpoints();
    assert.ok(ep, "an endpoint record while the container runs");
    assert.deepEqual(
      ep.ips.map((a) => a.split("/")[0]),
      [ip],
    );
    const hostIf = ep.hostIfname!;
    assert.ok(linkNames().includes(hostIf), `host veth ${hostIf} exists`);
    const row = node.ipamRow(ip);
    assert.ok(row, `IPAM row for ${ip}`);
    assert.equal(row.container_id, ep.containerId);
    const cache = `/var/lib/cni/results/${NETWORK}-${ep.containerId}-eth0`;
    assert.ok(existsSync(cache), `libcni cached the ADD result in ${cache}`);

    node.podman.remove(name);
    assert.equal(node.ipamRow(ip), undefined, `IPAM row for ${ip} is gone`);
    assert.ok(!linkNames().includes(hostIf), `host veth ${hostIf} is gone`);
    assert.deepEqual(await node.endpoints(), []);
    assert.ok(!existsSync(cache), `${cache} is gone`);
    const routes = run("ip", ["route", "show", "table", "all"]);
    assert.ok(!routes.includes(`${ip} `), `no route to ${ip} left:\n${routes}`);
    await assertNothingLeft(node);
  });
});

async function retry<T>(fn: () => T, attempts: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
