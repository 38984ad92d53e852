// The conformance suite against the engine alone: every case of
// test/fixtures/policy (the Kubernetes e2e model: namespaces x, y, z with pods
// a, b, c serving TCP and UDP on 80 and 81) built into per-endpoint policy
// maps, every pod -> pod flow decided by evaluate() over those maps, and the
// 9x9 matrix of each port/protocol compared with the case's expectation.
// The datapath test runs the same cases over real pods.
import assert from "node:assert/strict";
import { test } from "node:test";
import type {
  FairwayClusterwideNetworkPolicy,
  FairwayNetworkPolicy,
  KubeObject,
  NetworkPolicy,
} from "../../src/cluster/index.ts";
import { buildPolicyState, type PolicyInput, policyMatrix } from "../../src/policy/index.ts";
import {
  buildModel,
  CONFORMANCE_CASES,
  type ConformanceCase,
  expectedMatrices,
  gridText,
  PODS,
  PORTS,
  PROTOCOLS,
} from "../fixtures/policy/index.ts";

function input(c: ConformanceCase): PolicyInput {
  const model = buildModel(c.model ?? {});
  const policies = c.policies(model);
  const of = <T extends KubeObject>(kind: string) => policies.filter((p) => p.kind === kind) as T[];
  return {
    pods: model.pods,
    namespaces: model.namespaces,
    networkPolicies: of<NetworkPolicy>("NetworkPolicy"),
    fairwayPolicies: of<FairwayNetworkPolicy>("FairwayNetworkPolicy"),
    clusterwidePolicies: of<FairwayClusterwideNetworkPolicy>("FairwayClusterwideNetworkPolicy"),
  };
}

/** The engine's matrices, keyed like expectedMatrices(). */
export function engineMatrices(c: ConformanceCase): Map<string, boolean[][]> {
  const state = buildPolicyState(input(c));
  const flows = policyMatrix(state, { ports: [...PORTS], protocols: [...PROTOCOLS], pods: PODS });
  const verdict = new Map(
    flows.map((f) => [`${f.port}/${f.protocol} ${f.from} ${f.to}`, f.allowed]),
  );
  const out = new Map<string, boolean[][]>();
  for (const port of PORTS) {
    for (const protocol of PROTOCOLS) {
      const k = `${port}/${protocol}`;
      out.set(
        k,
        PODS.map((from) => PODS.map((to) => verdict.get(`${k} ${from} ${to}`)!)),
      );
    }
  }
  return out;
}

test("the case table has at least 40 cases with unique names", () => {
  assert.ok(CONFORMANCE_CASES.length >= 40, `${CONFORMANCE_CASES.length} cases`);
  const names = CONFORMANCE_CASES.map((c) => c.name);
  assert.equal(new Set(names).size, names.length, "case names are unique");
});

for (const c of CONFORMANCE_CASES) {
  test(`conformance: ${c.name}`, () => {
    const state = buildPolicyState(input(c));
    const rejected = state.policies.filter((p) => p.state === "rejected");
    assert.deepEqual(
      rejected.map((p) => p.ref).sort(),
      [...(c.rejected ?? [])].sort(),
      `rejected policies: ${rejected.map((p) => `${p.ref}: ${p.reason}`).join("\n")}`,
    );
    const want = expectedMatrices(c.expect);
    const got = engineMatrices(c);
    const diffs: string[] = [];
    for (const [k, rows] of want) {
      const actual = got.get(k)!;
      if (gridText(actual) !== gridText(rows)) {
        diffs.push(
          `${k}\n  want        got\n${gridText(rows)
            .split("\n")
            .map((r, i) => `  ${PODS[i]} ${r}   ${gridText(actual).split("\n")[i]}`)
            .join("\n")}`,
        );
      }
    }
    assert.equal(diffs.length, 0, `${c.source}\n${diffs.join("\n")}`);
  });
}
