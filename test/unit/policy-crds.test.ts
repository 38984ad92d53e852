// deploy/crds/: the two CRDs carry the same spec schema, and the policy
// engine's reader (src/policy/fairway.ts) accepts every field the schema
// declares (a policy using all of them is accepted), so the API server and
// the engine cannot drift apart unnoticed. test/e2e/policy-crds.test.ts puts
// the CRDs in front of a real kube-apiserver.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { isRejected, parseFairwayPolicy } from "../../src/policy/index.ts";
import { repoRoot } from "../harness/index.ts";

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  enum?: string[];
  format?: string;
  required?: string[];
  "x-kubernetes-int-or-string"?: boolean;
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

function load(file: string): Crd {
  return parse(readFileSync(join(repoRoot, "deploy/crds", file), "utf8")) as Crd;
}

const fnp = load("fairwaynetworkpolicies.yaml");
const fcnp = load("fairwayclusterwidenetworkpolicies.yaml");
const specOf = (crd: Crd) => crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;

/** A value using every field of the schema. */
function sample(s: Schema, key = ""): unknown {
  if (s["x-kubernetes-int-or-string"]) return "80";
  if (s.properties) {
    return Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, sample(v, k)]));
  }
  if (s.additionalProperties) return { "k8s:app": "web" };
  switch (s.type) {
    case "array":
      return [sample(s.items!, key)];
    case "integer":
      return 81;
    case "boolean":
      return true;
    case "string":
      if (s.enum) return key === "operator" ? "In" : s.enum[0];
      if (s.format === "cidr") return key === "except" ? "10.1.0.0/16" : "10.0.0.0/8";
      return "web";
    default:
      return {};
  }
}

function paths(s: Schema, at = "spec"): string[] {
  const own = [at];
  if (s.properties)
    return own.concat(...Object.entries(s.properties).map(([k, v]) => paths(v, `${at}.${k}`)));
  if (s.items) return own.concat(paths(s.items, `${at}[]`).slice(1));
  return own;
}

test("both CRDs: fairway.io/v1alpha1, their scope and names, one spec schema", () => {
  assert.equal(fnp.metadata.name, "fairwaynetworkpolicies.fairway.io");
  assert.equal(fcnp.metadata.name, "fairwayclusterwidenetworkpolicies.fairway.io");
  assert.deepEqual([fnp.spec.scope, fcnp.spec.scope], ["Namespaced", "Cluster"]);
  assert.deepEqual(
    [fnp.spec.names.kind, fcnp.spec.names.kind],
    ["FairwayNetworkPolicy", "FairwayClusterwideNetworkPolicy"],
  );
  assert.deepEqual([fnp.spec.names.shortNames, fcnp.spec.names.shortNames], [["fnp"], ["fcnp"]]);
  for (const crd of [fnp, fcnp]) {
    assert.equal(crd.spec.group, "fairway.io");
    assert.deepEqual(
      crd.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [["v1alpha1", true, true]],
    );
  }
  assert.deepEqual(specOf(fnp), specOf(fcnp));
  assert.deepEqual(specOf(fnp).required, ["endpointSelector"]);
});

test("the engine accepts a policy that uses every field the CRD schema declares", () => {
  const spec = sample(specOf(fnp));
  for (const kind of ["FairwayNetworkPolicy", "FairwayClusterwideNetworkPolicy"] as const) {
    const p = parseFairwayPolicy({ metadata: { name: "all-fields", namespace: "x" }, spec }, kind);
    assert.ok(!isRejected(p), `${kind}: ${isRejected(p) ? p.rejected.join("\n") : ""}`);
  }
  // the fields, listed: a new one is a decision for both the schema and the reader
  const fields = paths(specOf(fnp)).filter(
    (p) => !/matchLabels\.|\.(key|operator|values)$/.test(p),
  );
  assert.ok(fields.includes("spec.ingressDeny[].fromCIDRSet[].except"));
  assert.ok(fields.includes("spec.egress[].toPorts[].ports[].endPort"));
  assert.ok(fields.includes("spec.enableDefaultDeny.egress"));
  assert.equal(
    fields.filter((f) => /toFQDNs|toServices|rules/.test(f)).length,
    0,
    "no unsupported Cilium field",
  );
});
