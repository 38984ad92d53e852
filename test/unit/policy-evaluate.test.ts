// evaluate() over the per-endpoint form against the rules themselves: port
// blocks cover ranges exactly; deny beats allow under longest-prefix lookups;
// a randomized cross-check of the map + lookup plan against a direct reading
// of the rules; the BPF key layout.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { FairwayNetworkPolicy, Pod } from "../../src/cluster/index.ts";
import {
  blockEnd,
  buildPolicyState,
  encodePolicyKey,
  evaluate,
  lpmPrefixLen,
  portBlocks,
} from "../../src/policy/index.ts";

test("port blocks cover a range exactly, with at most 30 aligned blocks", () => {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const ranges: [number, number][] = [
    [0, 65_535],
    [1, 65_535],
    [80, 81],
    [80, 80],
    [32_000, 32_768],
    [1, 1024],
  ];
  for (let i = 0; i < 300; i++) {
    const lo = Math.floor(rnd() * 65_536);
    ranges.push([lo, Math.min(65_535, lo + Math.floor(rnd() * (rnd() < 0.5 ? 100 : 65_536)))]);
  }
  for (const [lo, hi] of ranges) {
    const blocks = portBlocks(lo, hi);
    assert.ok(blocks.length <= 30, `${lo}-${hi}: ${blocks.length} blocks`);
    let next = lo;
    for (const b of blocks) {
      assert.equal(b.port, next, `${lo}-${hi}: contiguous`);
      assert.equal(b.port % 2 ** (16 - b.prefixLen), 0, "aligned");
      next = blockEnd(b.port, b.prefixLen) + 1;
    }
    assert.equal(next, hi + 1, `${lo}-${hi}: ends at hi`);
  }
  assert.deepEqual(portBlocks(80, 81), [{ port: 80, prefixLen: 15 }]);
  assert.deepEqual(portBlocks(0, 65_535), [{ port: 0, prefixLen: 0 }]);
});

test("the policy key layout: LPM prefix over identity, direction, protocol, port bits", () => {
  const key = {
    direction: "egress" as const,
    identity: 256,
    protocol: 6,
    port: 80,
    portPrefixLen: 15,
  };
  assert.equal(lpmPrefixLen(key), 40 + 8 + 15);
  assert.equal(
    encodePolicyKey(key).toString("hex"),
    "3f000000" + "00010000" + "01" + "06" + "0050",
  );
  assert.equal(lpmPrefixLen({ ...key, protocol: 0, port: 0, portPrefixLen: 0 }), 40);
});

// --- randomized: the map and its lookups agree with the rules read directly

type Proto = "TCP" | "UDP" | "ANY";
interface RPort {
  protocol: Proto;
  port?: number;
  endPort?: number;
}
interface RRule {
  peers: "none" | "all" | number[];
  ports?: RPort[];
}
interface RPolicy {
  ingress: RRule[];
  ingressDeny: RRule[];
}

const PEERS = 5;

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s % n;
  };
}

function randomRule(r: (n: number) => number): RRule {
  const kind = r(4);
  const peers: RRule["peers"] =
    kind === 0 ? "none" : kind === 1 ? "all" : [...new Set([r(PEERS), r(PEERS)])];
  const ports =
    r(3) === 0
      ? undefined
      : Array.from({ length: 1 + r(2) }, (): RPort => {
          const protocol = (["TCP", "UDP", "ANY"] as const)[r(3)]!;
          if (r(4) === 0) return { protocol };
          const port = 1 + r(40);
          return r(2) === 0 ? { protocol, port } : { protocol, port, endPort: port + r(12) };
        });
  return { peers, ...(ports ? { ports } : {}) };
}

function toSpec(rule: RRule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rule.peers === "all") out.fromEntities = ["all"];
  else if (Array.isArray(rule.peers))
    out.fromEndpoints = rule.peers.map((p) => ({ matchLabels: { peer: `p${p}` } }));
  if (rule.ports)
    out.toPorts = [
      {
        ports: rule.ports.map((p) => ({
          protocol: p.protocol,
          ...(p.port !== undefined ? { port: String(p.port) } : {}),
          ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
        })),
      },
    ];
  return out;
}

/** The rule read directly (Cilium semantics): does it match this peer and port? */
function ruleMatches(
  rule: RRule,
  peer: number,
  protocol: "TCP" | "UDP" | "SCTP",
  port: number,
): boolean {
  const hasPeer = rule.peers === "all" || (Array.isArray(rule.peers) && rule.peers.includes(peer));
  const l3 = rule.peers === "none" ? rule.ports !== undefined : hasPeer;
  if (!l3) return false;
  if (!rule.ports) return true;
  return rule.ports.some(
    (p) =>
      (p.protocol === "ANY" || p.protocol === protocol) &&
      (p.port === undefined || (port >= p.port && port <= (p.endPort ?? p.port))),
  );
}

test("randomized: lookups over the per-endpoint map give the rules' verdicts (deny beats allow)", () => {
  const pods: Pod[] = [
    { metadata: { name: "t", namespace: "x", labels: { role: "t" } } },
    ...Array.from({ length: PEERS }, (_, i) => ({
      metadata: { name: `p${i}`, namespace: "x", labels: { peer: `p${i}` } },
    })),
  ];
  let checked = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const r = rng(seed);
    const policies: RPolicy[] = Array.from({ length: 1 + r(3) }, () => ({
      ingress: Array.from({ length: r(3) }, () => randomRule(r)),
      ingressDeny: Array.from({ length: r(3) }, () => randomRule(r)),
    }));
    const objects: FairwayNetworkPolicy[] = policies.map((p, i) => ({
      metadata: { name: `p${i}`, namespace: "x" },
      spec: {
        endpointSelector: { matchLabels: { role: "t" } },
        ingress: p.ingress.map(toSpec),
        ingressDeny: p.ingressDeny.map(toSpec),
      },
    }));
    const state = buildPolicyState({ pods, namespaces: [], fairwayPolicies: objects });
    assert.ok(
      state.policies.every((p) => p.state === "accepted"),
      JSON.stringify(state.policies),
    );
    const ep = state.endpoints.get("x/t")!;
    const isolated = policies.some((p) => p.ingress.length + p.ingressDeny.length > 0);
    for (let peer = 0; peer < PEERS; peer++) {
      const identity = state.identities.podIdentity.get(`x/p${peer}`)!;
      for (const protocol of ["TCP", "UDP", "SCTP"] as const) {
        for (let port = 1; port <= 55; port++) {
          const denied = policies.some((p) =>
            p.ingressDeny.some((rule) => ruleMatches(rule, peer, protocol, port)),
          );
          const allowed = policies.some((p) =>
            p.ingress.some((rule) => ruleMatches(rule, peer, protocol, port)),
          );
          const want = denied ? false : allowed ? true : !isolated;
          const got = evaluate(ep, { direction: "ingress", identity, protocol, port });
          assert.equal(
            got.allowed,
            want,
            `seed ${seed}: peer p${peer} ${port}/${protocol}: ${JSON.stringify(policies)} -> ${got.reason} ${JSON.stringify(got.entry)}`,
          );
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 100_000);
});

test("the entry that decides: deny origins, the more specific allow, isolating policies", () => {
  const pods: Pod[] = [
    { metadata: { name: "t", namespace: "x", labels: { role: "t" } } },
    { metadata: { name: "c", namespace: "x", labels: { role: "c" } } },
  ];
  const state = buildPolicyState({
    pods,
    namespaces: [],
    fairwayPolicies: [
      {
        metadata: { name: "p", namespace: "x" },
        spec: {
          endpointSelector: { matchLabels: { role: "t" } },
          ingress: [
            { fromEndpoints: [{ matchLabels: { role: "c" } }] },
            { toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] },
          ],
          ingressDeny: [{ toPorts: [{ ports: [{ port: "81", endPort: 82, protocol: "TCP" }] }] }],
        },
      },
    ],
  });
  const ep = state.endpoints.get("x/t")!;
  const c = state.identities.podIdentity.get("x/c")!;
  const v80 = evaluate(ep, { direction: "ingress", identity: c, protocol: "TCP", port: 80 });
  assert.equal(v80.reason, "allowed");
  assert.equal(v80.entry!.kind, "L4-only", "the L4 entry is more specific than the L3-only one");
  const v81 = evaluate(ep, { direction: "ingress", identity: c, protocol: "TCP", port: 81 });
  assert.deepEqual(
    [v81.reason, v81.entry!.kind, v81.rules],
    ["denied", "L4-only", [{ policy: "fnp:x/p", rule: "ingressDeny[0]" }]],
  );
  const v90 = evaluate(ep, { direction: "ingress", identity: 2, protocol: "UDP", port: 90 });
  assert.deepEqual([v90.allowed, v90.reason, v90.policies], [false, "default-deny", ["fnp:x/p"]]);
  const out = evaluate(ep, { direction: "egress", identity: 2, protocol: 1, port: 0 });
  assert.deepEqual([out.allowed, out.reason], [true, "not-isolated"]);
});
