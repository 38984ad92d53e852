// The engine, golden style: Kubernetes YAML in test/fixtures/policy/engine/*.yaml
// -> policy statuses, identities, ipcache and every endpoint's policy map,
// compared with the text beside it (*.golden.txt). Regenerate after an
// intended change with FAIRWAY_UPDATE_GOLDEN=1 and read the diff.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ClusterStore, KINDS, type KindName, parseManifest } from "../../src/cluster/index.ts";
import { formatIdentityTable, formatIpcache } from "../../src/identity/index.ts";
import {
  buildPolicyState,
  evaluate,
  formatEndpointPolicy,
  formatPolicyStatuses,
  type PolicyState,
  policyInputFromStore,
} from "../../src/policy/index.ts";
import { repoRoot } from "../harness/index.ts";

const dir = join(repoRoot, "test/fixtures/policy/engine");

function load(name: string, localNode?: string): PolicyState {
  const file = join(dir, `${name}.yaml`);
  const { objects, problems } = parseManifest(file, readFileSync(file, "utf8"));
  assert.deepEqual(problems, []);
  const store = new ClusterStore({ kinds: Object.keys(KINDS) as KindName[] });
  for (const o of objects) store.apply(o.kind, o.object as never);
  return buildPolicyState({ ...policyInputFromStore(store), ...(localNode ? { localNode } : {}) });
}

function dump(state: PolicyState): string {
  return [
    "# policies",
    formatPolicyStatuses(state.policies),
    "# identities",
    formatIdentityTable(state.identities),
    "# ipcache",
    formatIpcache(state.ipcache),
    "# endpoints",
    ...[...state.endpoints.values()].map((ep) => formatEndpointPolicy(ep, state.identities)),
  ].join("\n");
}

function golden(name: string, actual: string): void {
  const file = join(dir, `${name}.golden.txt`);
  if (process.env.FAIRWAY_UPDATE_GOLDEN === "1") writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, "utf8"), `${name}: differs from ${file}`);
}

for (const name of ["named-ports", "mixed"]) {
  test(`golden: ${name}.yaml -> ${name}.golden.txt`, () => {
    golden(name, dump(load(name, "node-a")));
  });
}

test("named ports resolve per destination pod, for egress and ingress", () => {
  const s = load("named-ports");
  const web = s.identities.podIdentity.get("shop/web-1")!;
  const client = s.identities.podIdentity.get("shop/client")!;
  const out = s.endpoints.get("shop/client")!;
  const egress = (port: number) =>
    evaluate(out, { direction: "egress", identity: web, protocol: "TCP", port }).allowed;
  assert.deepEqual([egress(8080), egress(9090), egress(9100)], [true, true, false]);
  const ingress = (pod: string, port: number) =>
    evaluate(s.endpoints.get(pod)!, {
      direction: "ingress",
      identity: client,
      protocol: "TCP",
      port,
    }).allowed;
  assert.deepEqual([ingress("shop/web-1", 8080), ingress("shop/web-1", 9090)], [true, false]);
  assert.deepEqual([ingress("shop/web-2", 9090), ingress("shop/web-2", 9100)], [true, false]);
});

test("rejected policies are listed with their reason; the others are enforced", () => {
  const s = load("mixed");
  const rejected = s.policies
    .filter((p) => p.state === "rejected")
    .map((p) => `${p.ref}: ${p.reason}`);
  assert.deepEqual(rejected, [
    "fnp:back/l7: spec.ingress[0].toPorts[0].rules: unsupported: a CiliumNetworkPolicy field that Fairway does not implement",
    'front/typo: spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR "10.0.0.0/40": prefix length "40" is not 0-32',
  ]);
  assert.equal(s.endpoints.get("front/web")!.ingress.isolatedBy.join(), "front/web-from-lb");
});

test("an ipBlock that splits an identity leaves it out and says so", () => {
  const pods = ["10.0.1.1", "10.0.2.1"].map((ip, i) => ({
    metadata: { name: `web-${i}`, namespace: "a", labels: { app: "web" } },
    status: { podIP: ip },
  }));
  const s = buildPolicyState({
    pods: [...pods, { metadata: { name: "t", namespace: "a", labels: { app: "t" } } }],
    namespaces: [],
    networkPolicies: [
      {
        metadata: { name: "p", namespace: "a" },
        spec: {
          podSelector: { matchLabels: { app: "t" } },
          ingress: [{ from: [{ ipBlock: { cidr: "10.0.1.0/24" } }] }],
        },
      },
    ],
  });
  const status = s.policies[0]!;
  assert.equal(status.state, "accepted");
  assert.deepEqual(status.problems, [
    "ingress[0]: ipBlock 10.0.1.0/24: covers some but not all pods of identity 257 (a/web-0, a/web-1); that identity is left out",
  ]);
  const web = s.identities.podIdentity.get("a/web-0")!;
  assert.equal(
    evaluate(s.endpoints.get("a/t")!, {
      direction: "ingress",
      identity: web,
      protocol: "TCP",
      port: 1,
    }).allowed,
    false,
  );
});
