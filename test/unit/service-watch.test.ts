// The incremental model over the cluster store, and the ID allocator: a change
// rebuilds only its service, IDs stay with their keys while held and are
// released when nothing uses them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FairwayError } from "../../src/base/errors.ts";
import { ClusterStore, type EndpointSlice, type Service } from "../../src/cluster/index.ts";
import {
  buildServiceTable,
  formatServiceTable,
  MemoryIdAllocator,
  parseServiceConfig,
  ServiceCode,
  ServiceModel,
} from "../../src/service/index.ts";

const config = parseServiceConfig({});
const NODE = { nodeName: "node-a", nodeAddresses: ["192.168.0.10"] };

function service(name: string, ip: string, rv = "1"): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default", resourceVersion: rv },
    spec: { clusterIP: ip, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

function slice(svc: string, addrs: string[], rv = "1"): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${svc}-1`,
      namespace: "default",
      resourceVersion: rv,
      labels: { "kubernetes.io/service-name": svc },
    },
    addressType: "IPv4",
    ports: [{ port: 8080, protocol: "TCP" }],
    endpoints: addrs.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  };
}

test("the allocator keeps an ID while held and reuses freed IDs lowest first", () => {
  const ids = new MemoryIdAllocator("test", 1, 3);
  assert.equal(ids.acquire("a"), 1);
  assert.equal(ids.acquire("b"), 2);
  assert.equal(ids.acquire("a"), 1);
  assert.equal(ids.acquire("c"), 3);
  assert.throws(
    () => ids.acquire("d"),
    (err: unknown) => err instanceof FairwayError && err.code === ServiceCode.idsExhausted,
  );
  ids.release("b");
  ids.release("a");
  ids.release("zzz");
  assert.equal(ids.acquire("d"), 1);
  assert.equal(ids.lookup("c"), 3);
  assert.deepEqual(
    [...ids.entries()],
    [
      ["c", 3],
      ["d", 1],
    ],
  );
});

test("the incremental model follows the store and matches a full build", () => {
  const store = new ClusterStore({ kinds: ["Service", "EndpointSlice"] });
  store.apply("Service", service("a", "10.96.0.1"));
  store.apply("EndpointSlice", slice("a", ["10.0.0.1", "10.0.0.2"]));
  const model = new ServiceModel({ store, config, ...NODE });
  const changed: string[] = [];
  const off = model.onTableChange((keys) => changed.push(...keys));
  model.start();
  assert.equal(model.table().services[0]!.frontends[0]!.backends.length, 2);

  store.apply("Service", service("b", "10.96.0.2"));
  assert.equal(model.table().services[1]!.frontends[0]!.action, "reject");
  store.apply("EndpointSlice", slice("b", ["10.0.0.3"]));
  store.apply("EndpointSlice", slice("a", ["10.0.0.2"], "2"));
  assert.deepEqual(changed, ["default/a", "default/a", "default/b", "default/b", "default/a"]);

  const full = buildServiceTable({
    services: store.list("Service"),
    slices: store.list("EndpointSlice"),
    ...NODE,
    config,
  });
  const strip = (t: string): string => t.replace(/#\d+ /g, "");
  assert.equal(strip(formatServiceTable(model.table())), strip(formatServiceTable(full)));
  off();
  model.stop();
});

test("IDs stay with kept frontends and backends; unused ones are released", () => {
  const store = new ClusterStore({ kinds: ["Service", "EndpointSlice"] });
  const model = new ServiceModel({ store, config, ...NODE });
  model.start();
  store.apply("Service", service("a", "10.96.0.1"));
  store.apply("EndpointSlice", slice("a", ["10.0.0.1", "10.0.0.2"]));
  const before = model.table().services[0]!.frontends[0]!;
  const id2 = before.backends.find((b) => b.address === "10.0.0.2")!.id;

  store.apply("EndpointSlice", slice("a", ["10.0.0.2", "10.0.0.9"], "2"));
  const after = model.table().services[0]!.frontends[0]!;
  assert.equal(after.id, before.id);
  assert.equal(after.backends.find((b) => b.address === "10.0.0.2")!.id, id2);
  assert.equal(model.ids.backends.lookup("10.0.0.1:8080/TCP"), undefined);
  assert.deepEqual([...model.ids.backends.entries().keys()].sort(), [
    "10.0.0.2:8080/TCP",
    "10.0.0.9:8080/TCP",
  ]);

  store.remove("Service", "default/a");
  assert.equal(model.table().services.length, 0);
  assert.equal(model.ids.frontends.entries().size, 0);
  assert.equal(model.ids.backends.entries().size, 0);
  model.stop();
  // Stopped: no more updates.
  store.apply("Service", service("c", "10.96.0.3"));
  assert.equal(model.table().services.length, 0);
});
