// `fairway service list`: the table built from inline Services and
// EndpointSlices, marked by a scripted datapath, printed as the CLI prints it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderData } from "../../src/cli/output.ts";
import { formatServiceStatus, runService } from "../../src/cli/service.ts";
import type { EndpointSlice, Service } from "../../src/cluster/index.ts";
import {
  buildServiceTable,
  parseServiceConfig,
  type ServiceStatus,
  serviceStatus,
} from "../../src/service/index.ts";

const ports = [{ port: 80, targetPort: 8080 }];

function service(name: string, spec: Service["spec"], annotations?: Record<string, string>) {
  return {
    metadata: { name, namespace: "default", ...(annotations ? { annotations } : {}) },
    spec,
  } satisfies Service;
}

function slice(svc: string, endpoints: EndpointSlice["endpoints"]): EndpointSlice {
  return {
    metadata: {
      name: `${svc}-1`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": svc },
    },
    addressType: "IPv4",
    ports: [{ port: 8080, protocol: "TCP" }],
    endpoints,
  };
}

const terminating = { ready: false, serving: true, terminating: true };

/** One service per case: forward (with a terminating endpoint left out), terminating only, reject, drop, skipped. */
const table = buildServiceTable({
  nodeName: "node-a",
  nodeAddresses: ["192.168.0.10"],
  config: parseServiceConfig({}),
  services: [
    service("web", { clusterIP: "10.96.0.20", ports }, { "fairway.io/lb-algorithm": "fastest" }),
    service("drain", { clusterIP: "10.96.0.21", ports }),
    service("empty", { clusterIP: "10.96.0.22", ports }),
    service("local", {
      type: "NodePort",
      clusterIP: "10.96.0.23",
      externalTrafficPolicy: "Local",
      ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    service("headless", { clusterIP: "None", ports }),
  ],
  slices: [
    slice("web", [
      { addresses: ["10.0.1.7"], nodeName: "node-a" },
      { addresses: ["10.0.2.9"], nodeName: "node-b", conditions: terminating },
      { addresses: ["10.0.2.10"], nodeName: "node-b" },
    ]),
    slice("drain", [{ addresses: ["10.0.2.9"], conditions: terminating }]),
    slice("local", [{ addresses: ["10.0.2.11"], nodeName: "node-b" }]),
  ],
});

const datapath = {
  socketLb: true,
  tcLb: false,
  algorithm: "random",
  maglevTableSize: 16381,
  lastSyncMs: 12,
  errors: ["tc LB: no such device"],
} as const;

/** Frontend 2 (default/empty) failed to program; the rest are in the maps. */
const status: ServiceStatus = serviceStatus(
  table,
  (id) => (id === 2 ? { ok: false, error: "map full" } : { ok: true }),
  datapath,
);

test("serviceStatus marks each frontend and carries the table and datapath as they are", () => {
  const frontends = status.services.flatMap((s) => s.frontends);
  assert.deepEqual(
    frontends.map((f) => `${f.id} ${f.programmed} ${f.error ?? "-"}`),
    ["1 true -", "2 false map full", "3 true -", "4 true -", "5 true -"],
  );
  assert.equal("error" in frontends[0]!, false, "no error key when programmed");
  assert.deepEqual(
    status.services.map(({ frontends: _, ...rest }) => rest),
    table.services.map(({ frontends: _, ...rest }) => rest),
  );
  assert.equal(status.skipped, table.skipped);
  assert.equal(status.datapath, datapath);
});

test("service list: frontends -> backends, reject/drop/terminating, skipped, problems, not programmed", () => {
  assert.equal(
    formatServiceStatus(status),
    `ID   FRONTEND                 SERVICE TYPE   SERVICE         BACKEND
1    10.96.0.21:80/TCP        ClusterIP      default/drain   1 => 10.0.2.9:8080/TCP (terminating)
2    10.96.0.22:80/TCP        ClusterIP      default/empty   (reject: no endpoints)
                                                             ! not programmed: map full
3    10.96.0.23:80/TCP        ClusterIP      default/local   2 => 10.0.2.11:8080/TCP (active)
4    192.168.0.10:30080/TCP   NodePort       default/local   (drop: Local traffic policy, no endpoint on this node)
5    10.96.0.20:80/TCP        ClusterIP      default/web     3 => 10.0.1.7:8080/TCP (active)
                                                             4 => 10.0.2.10:8080/TCP (active)

Skipped:
  default/headless   headless service: DNS only

Problems:
  default/web: annotation fairway.io/lb-algorithm: "fastest" is not one of random, maglev; using random

Datapath: socket LB on, tc LB off, algorithm random, Maglev table 16381, last sync 12 ms
  ! tc LB: no such device
`,
  );
});

test("service list: IPv6 in brackets, no sync yet, a frontend not programmed without an error", () => {
  const v6 = buildServiceTable({
    nodeName: "node-a",
    nodeAddresses: [],
    config: parseServiceConfig({}),
    services: [service("v6", { clusterIP: "fd00:96::1", ports })],
    slices: [
      {
        ...slice("v6", [{ addresses: ["fd00:1::7"] }]),
        addressType: "IPv6",
      },
    ],
  });
  const { lastSyncMs: _, ...notSynced } = datapath;
  const text = formatServiceStatus(
    serviceStatus(v6, () => ({ ok: false }), { ...notSynced, errors: [] }),
  );
  assert.equal(
    text,
    `ID   FRONTEND              SERVICE TYPE   SERVICE      BACKEND
1    [fd00:96::1]:80/TCP   ClusterIP      default/v6   1 => [fd00:1::7]:8080/TCP (active)
                                                       ! not programmed: not written yet

Datapath: socket LB on, tc LB off, algorithm random, Maglev table 16381, not synced yet
`,
  );
});

test("-o json prints the ServiceStatus as it is", () => {
  assert.deepEqual(JSON.parse(renderData("json", status)), JSON.parse(JSON.stringify(status)));
});

test("service: only the list verb", async () => {
  await assert.rejects(runService(["get", "x"]), { code: "E_CLI_USAGE" });
  await assert.rejects(runService([]), { code: "E_CLI_USAGE" });
  await assert.rejects(runService(["list", "-o", "wide"]), { code: "E_CLI_USAGE" });
});
