// Pod CIDRs from the Node object: with none configured, IPAM waits for the
// cluster store's first sync and allocates from the node's spec.podCIDRs.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/base/log.ts";
import { ClusterStore } from "../../src/cluster/index.ts";
import { ipamModule } from "../../src/ipam/index.ts";

function nodeStore(name: string, podCIDRs?: string[]): ClusterStore {
  const store = new ClusterStore({ kinds: ["Node"] });
  store.apply("Node", {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, resourceVersion: "1" },
    spec: podCIDRs ? { podCIDRs } : {},
  });
  store.markSynced("Node");
  return store;
}

function ipamFor(t: { after(fn: () => void): void }, store: ClusterStore, nodeName: string) {
  const stateDir = mkdtempSync(join(tmpdir(), "fwt-ipam-node-"));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  return ipamModule.create({
    config: ipamModule.config({ ipam: { podCIDRs: [], stateDir, nodeName } }),
    log: silentLogger(),
    deps: { cluster: { store } },
  });
}

test("allocates from the Node object's spec.podCIDRs when the config has none", async (t) => {
  const ipam = ipamFor(t, nodeStore("node-7", ["10.77.3.0/24"]), "node-7");
  await ipam.start();
  t.after(() => ipam.stop());
  const a = await ipam.allocate({ containerId: "c1", ifname: "eth0" }, 4);
  assert.match(a.ip, /^10\.77\.3\./);
  assert.equal(a.cidr, "10.77.3.0/24");
});

test("a Node without pod CIDRs, or no Node at all, is a clear start error", async (t) => {
  await assert.rejects(
    ipamFor(t, nodeStore("node-8"), "node-8").start(),
    /node node-8 has no spec\.podCIDRs/,
  );
  await assert.rejects(
    ipamFor(t, nodeStore("other"), "node-9").start(),
    /Node node-9 is not in the cluster state, and ipam\.podCIDRs is empty/,
  );
});
