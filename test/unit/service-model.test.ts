// The service model, golden style: Kubernetes YAML in fixtures/service/*.yaml
// -> the desired load-balancer table, compared with the text beside it
// (*.golden.txt). The node is "node-a" with addresses 192.168.0.10 and fd00::10.
// Regenerate the goldens after an intended change with
// FAIRWAY_UPDATE_GOLDEN=1 npm run test:unit, and read the diff.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type EndpointSlice, parseManifest, type Service } from "../../src/cluster/index.ts";
import {
  buildServiceTable,
  formatServiceTable,
  type ModelInput,
  parseServiceConfig,
  type ServiceTable,
} from "../../src/service/index.ts";

const dir = join(import.meta.dirname, "fixtures", "service");
const NODE = { nodeName: "node-a", nodeAddresses: ["192.168.0.10", "fd00::10"] };

function load(name: string): Pick<ModelInput, "services" | "slices"> {
  const file = join(dir, `${name}.yaml`);
  const { objects, problems } = parseManifest(file, readFileSync(file, "utf8"));
  assert.deepEqual(problems, []);
  return {
    services: objects.filter((o) => o.kind === "Service").map((o) => o.object as Service),
    slices: objects.filter((o) => o.kind === "EndpointSlice").map((o) => o.object as EndpointSlice),
  };
}

function build(name: string): ServiceTable {
  return buildServiceTable({ ...load(name), ...NODE, config: parseServiceConfig({}) });
}

function golden(name: string, actual: string): void {
  const file = join(dir, `${name}.golden.txt`);
  if (process.env.FAIRWAY_UPDATE_GOLDEN === "1") writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, "utf8"), `${name}: table differs from ${file}`);
}

for (const name of ["named-port", "terminating", "policies", "kinds"]) {
  test(`golden: ${name}.yaml -> ${name}.golden.txt`, () => {
    golden(name, formatServiceTable(build(name)));
  });
}

test("a named targetPort is resolved per endpoint through the slice's port names", () => {
  const [web] = build("named-port").services;
  const ports = web!.frontends[0]!.backends.map((b) => `${b.address}:${b.port}`);
  assert.deepEqual(ports, ["10.0.1.5:8080", "10.0.1.6:9090", "10.0.2.5:8080"]);
});

test("serving terminating endpoints are used only when none is ready", () => {
  const [draining, rolling] = build("terminating").services;
  assert.deepEqual(
    rolling!.frontends[0]!.backends.map((b) => `${b.address} ${b.state}`),
    ["10.0.1.2 active"],
  );
  assert.deepEqual(
    draining!.frontends[0]!.backends.map((b) => `${b.address} ${b.state}`),
    ["10.0.1.3 terminating"],
  );
});

test("Local policies keep this node's endpoints for the frontend kinds they cover", () => {
  const t = build("policies");
  const lb = t.services.find((s) => s.key === "default/lb")!;
  const byKind = new Map(lb.frontends.map((f) => [f.kind, f]));
  assert.equal(byKind.get("ClusterIP")!.trafficPolicy, "Cluster");
  assert.equal(byKind.get("ClusterIP")!.backends.length, 2);
  for (const kind of ["NodePort", "ExternalIP", "LoadBalancer"] as const) {
    assert.equal(byKind.get(kind)!.trafficPolicy, "Local", kind);
    assert.deepEqual(
      byKind.get(kind)!.backends.map((b) => b.address),
      ["10.0.1.1"],
      kind,
    );
  }
  const local = t.services.find((s) => s.key === "default/local-only")!;
  assert.equal(local.frontends[0]!.action, "drop");
  const np = t.services.find((s) => s.key === "default/np")!;
  const nodePort = np.frontends.find((f) => f.kind === "NodePort")!;
  assert.deepEqual(
    nodePort.backends.map((b) => `${b.address} ${b.state}`),
    ["10.0.1.3 terminating"],
  );
  const clusterIP = np.frontends.find((f) => f.kind === "ClusterIP")!;
  assert.deepEqual(
    clusterIP.backends.map((b) => `${b.address} ${b.state}`),
    ["10.0.2.3 active"],
  );
});

test("headless and ExternalName are skipped, invalid services skipped with a reason", () => {
  const t = build("kinds");
  assert.deepEqual(
    t.skipped.map((s) => `${s.key}: ${s.reason}`),
    [
      "default/alias: ExternalName service: DNS only",
      'default/bad-ip: invalid: clusterIP "10.96.0.333" is not an IP address',
      "default/bad-port: invalid: ports[0]: port 70000",
      'default/bad-proto: invalid: ports[0]: unknown protocol "ICMP"',
      "default/headless: headless service: DNS only",
    ],
  );
});

test("a service without usable endpoints rejects on every frontend", () => {
  const empty = build("kinds").services.find((s) => s.key === "default/empty")!;
  assert.deepEqual(
    empty.frontends.map((f) => `${f.kind} ${f.address}:${f.port} ${f.action}`),
    ["ClusterIP 10.96.0.30:80 reject", "NodePort 192.168.0.10:30030 reject"],
  );
  assert.equal(empty.affinityTimeoutSeconds, 10_800);
});

test("dual-stack: each family's frontends get that family's backends; NodePort per node address", () => {
  const dns = build("kinds").services.find((s) => s.key === "kube-system/dns")!;
  assert.equal(dns.algorithm, "maglev");
  assert.equal(dns.affinityTimeoutSeconds, 300);
  const udp = dns.frontends.filter((f) => f.protocol === "UDP");
  assert.deepEqual(
    udp.map((f) => `${f.kind} ${f.address}:${f.port} -> ${f.backends.map((b) => b.address)}`),
    [
      "ClusterIP 10.96.0.10:53 -> 10.0.1.7,10.0.2.7",
      "ClusterIP fd00:96::a:53 -> fd00:1::7",
      "NodePort 192.168.0.10:30053 -> 10.0.1.7,10.0.2.7",
      "NodePort fd00::10:30053 -> fd00:1::7",
    ],
  );
  // SCTP has no IPv6 slice port: the IPv6 frontend rejects.
  const sctp = dns.frontends.filter((f) => f.protocol === "SCTP");
  assert.deepEqual(
    sctp.map((f) => `${f.address} ${f.action}`),
    ["10.96.0.10 forward", "fd00:96::a reject"],
  );
});

test("one backend keeps one ID across the frontends that use it", () => {
  const dns = build("kinds").services.find((s) => s.key === "kube-system/dns")!;
  const ids = new Set(
    dns.frontends
      .filter((f) => f.protocol === "UDP")
      .flatMap((f) => f.backends.filter((b) => b.address === "10.0.1.7").map((b) => b.id)),
  );
  assert.equal(ids.size, 1);
  const feIds = dns.frontends.map((f) => f.id);
  assert.equal(new Set(feIds).size, feIds.length);
});

test("an unknown algorithm annotation is a problem and falls back to the global choice", () => {
  const input = load("named-port");
  const svc = input.services[0]!;
  const annotated: Service = {
    ...svc,
    metadata: { ...svc.metadata, annotations: { "fairway.io/lb-algorithm": "hash" } },
  };
  const t = buildServiceTable({
    services: [annotated],
    slices: input.slices,
    ...NODE,
    config: parseServiceConfig({ algorithm: "maglev" }),
  });
  assert.equal(t.services[0]!.algorithm, "maglev");
  assert.match(t.services[0]!.problems[0]!, /"hash" is not one of random, maglev/);
});
