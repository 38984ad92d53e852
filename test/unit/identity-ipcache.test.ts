// The identity table and the ipcache from cluster objects: every pod of every
// node with its own labels' identity, nodes as host/remote-node, policy CIDRs,
// world; lookups by longest prefix.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Node, Pod } from "../../src/cluster/index.ts";
import {
  buildIdentityTable,
  buildIpcache,
  formatIpcache,
  IpcacheIndex,
  parseIdentityConfig,
  parsePrefix,
  prefixContains,
} from "../../src/identity/index.ts";

const pod = (
  ns: string,
  name: string,
  labels: Record<string, string>,
  ip?: string,
  extra: Partial<Pod> = {},
): Pod => ({
  metadata: { name, namespace: ns, labels },
  spec: { nodeName: "node-b", ...extra.spec },
  status: {
    phase: "Running",
    ...(ip ? { podIP: ip } : {}),
    hostIP: "192.168.0.11",
    ...extra.status,
  },
});
const node = (name: string, ip: string): Node => ({
  metadata: { name },
  status: { addresses: [{ type: "InternalIP", address: ip }] },
});

const pods = [
  pod("shop", "web-1", { app: "web", "pod-template-hash": "a" }, "10.0.1.5"),
  pod("shop", "web-2", { app: "web", "pod-template-hash": "b" }, "10.0.2.7"),
  pod("shop", "db-0", { app: "db" }, "10.0.1.9"),
  pod("shop", "done", { app: "job" }, "10.0.1.99", { status: { phase: "Succeeded" } }),
  pod("kube-system", "proxy", { app: "proxy" }, "192.168.0.11", { spec: { hostNetwork: true } }),
];

function build() {
  const table = buildIdentityTable({
    pods,
    namespaces: [],
    cidrs: ["10.0.0.0/8", "172.16.0.1/12", "not-a-cidr"],
    config: parseIdentityConfig({}),
  });
  const ipcache = buildIpcache({
    pods,
    nodes: [node("node-a", "192.168.0.10"), node("node-b", "192.168.0.11")],
    table,
    localNode: "node-a",
  });
  return { table, ipcache };
}

test("pods with the same security labels share an identity; finished and hostNetwork pods get none", () => {
  const { table } = build();
  assert.equal(table.podIdentity.get("shop/web-1"), table.podIdentity.get("shop/web-2"));
  assert.notEqual(table.podIdentity.get("shop/db-0"), table.podIdentity.get("shop/web-1"));
  assert.equal(table.podIdentity.get("shop/done"), undefined);
  assert.equal(table.podIdentity.get("kube-system/proxy"), undefined);
  // label sets are numbered in sorted order: app=db before app=web
  assert.equal(table.podIdentity.get("shop/db-0"), 256);
  assert.equal(table.podIdentity.get("shop/web-1"), 257);
  assert.deepEqual(table.byId.get(257)!.pods, ["shop/web-1", "shop/web-2"]);
  assert.deepEqual(
    [...table.cidrIdentity],
    [
      ["10.0.0.0/8", 16_777_216],
      ["172.16.0.0/12", 16_777_217],
    ],
  );
});

test("the ipcache: every pod, nodes as host and remote-node, CIDRs, world", () => {
  const { ipcache } = build();
  assert.equal(
    formatIpcache(ipcache),
    [
      "0.0.0.0/0          2         world",
      "10.0.0.0/8         16777216  cidr",
      "10.0.1.5/32        257       pod shop/web-1",
      "10.0.1.9/32        256       pod shop/db-0",
      "10.0.2.7/32        257       pod shop/web-2",
      "172.16.0.0/12      16777217  cidr",
      "192.168.0.10/32    1         node node-a",
      "192.168.0.11/32    6         node node-b",
      "::/0               2         world",
      "",
    ].join("\n"),
  );
  const index = new IpcacheIndex(ipcache);
  assert.equal(index.lookup("10.0.2.7")!.identity, 257);
  assert.equal(index.lookup("10.9.9.9")!.identity, 16_777_216, "inside a policy CIDR");
  assert.equal(index.lookup("8.8.8.8")!.identity, 2, "world");
  assert.equal(index.lookup("2001:db8::1")!.identity, 2, "world (IPv6)");
  assert.equal(index.lookup("not an ip"), undefined);
});

test("an address claimed by two pods is a problem; the first by name keeps it", () => {
  const twice = [pod("a", "p1", { x: "1" }, "10.1.0.1"), pod("a", "p2", { x: "2" }, "10.1.0.1")];
  const table = buildIdentityTable({
    pods: twice,
    namespaces: [],
    config: parseIdentityConfig({}),
  });
  const ipcache = buildIpcache({ pods: twice, table });
  assert.equal(ipcache.entries.find((e) => e.prefix === "10.1.0.1/32")!.owner, "a/p1");
  assert.equal(ipcache.problems.length, 1);
  assert.match(ipcache.problems[0]!, /10\.1\.0\.1\/32: claimed by pod a\/p2/);
});

test("prefixes: host bits masked, containment", () => {
  assert.equal(parsePrefix("10.1.2.3/8").text, "10.0.0.0/8");
  assert.equal(parsePrefix("2001:db8::1/32").text, "2001:db8::/32");
  assert.ok(prefixContains(parsePrefix("10.0.0.0/8"), parsePrefix("10.1.0.0/16")));
  assert.ok(!prefixContains(parsePrefix("10.1.0.0/16"), parsePrefix("10.0.0.0/8")));
  assert.ok(!prefixContains(parsePrefix("0.0.0.0/0"), parsePrefix("::/0")));
  assert.throws(() => parsePrefix("10.0.0.0/33"), /prefix length "33"/);
  assert.throws(() => parsePrefix("10.0.0.256/8"), /invalid CIDR/);
});
