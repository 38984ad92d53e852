// Policy validation: a bad policy is rejected with every reason (invalid CIDR,
// selector, port, unknown field...), as the API server's validation or
// Cilium's would; good ones are unaffected.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NetworkPolicy } from "../../src/cluster/index.ts";
import { KEEP_ALL, labelFilter, parseIdentityConfig } from "../../src/identity/index.ts";
import { isRejected, parseFairwayPolicy, parseNetworkPolicy } from "../../src/policy/index.ts";

const np = (spec: unknown): NetworkPolicy =>
  ({ metadata: { name: "p", namespace: "x" }, spec }) as NetworkPolicy;

function reasons(spec: unknown): string[] {
  const p = parseNetworkPolicy(np(spec), KEEP_ALL);
  return isRejected(p) ? [...p.rejected] : [];
}

function fairwayReasons(
  spec: unknown,
  kind: "FairwayNetworkPolicy" | "FairwayClusterwideNetworkPolicy" = "FairwayNetworkPolicy",
): string[] {
  const p = parseFairwayPolicy({ metadata: { name: "p", namespace: "x" }, spec }, kind);
  return isRejected(p) ? [...p.rejected] : [];
}

test("NetworkPolicy: each invalid field is named with its path", () => {
  const cases: [unknown, string[]][] = [
    [{ podSelector: {}, ingres: [] }, ['spec: unknown field "ingres"']],
    [
      { ingress: [{ from: [{ podSelector: {}, nope: 1 }] }] },
      ['spec.ingress[0].from[0]: unknown field "nope"'],
    ],
    [
      { ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/33" } }] }] },
      [
        'spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR "10.0.0.0/33": prefix length "33" is not 0-32',
      ],
    ],
    [
      {
        egress: [
          { to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/16", "10.0.0.0/8"] } }] },
        ],
      },
      [
        "spec.egress[0].to[0].ipBlock.except[0]: 11.0.0.0/16 must be a strict subset of cidr 10.0.0.0/8",
        "spec.egress[0].to[0].ipBlock.except[1]: 10.0.0.0/8 must be a strict subset of cidr 10.0.0.0/8",
      ],
    ],
    [
      { ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] },
      [
        "spec.ingress[0].from[0]: ipBlock may not be combined with podSelector or namespaceSelector",
      ],
    ],
    [
      { ingress: [{ from: [{}] }] },
      ["spec.ingress[0].from[0]: must specify podSelector, namespaceSelector or ipBlock"],
    ],
    [
      { podSelector: { matchExpressions: [{ key: "app", operator: "Near", values: ["a"] }] } },
      [
        'spec.podSelector: matchExpressions[0]: operator "Near" is not one of In, NotIn, Exists, DoesNotExist',
      ],
    ],
    [
      { podSelector: { matchExpressions: [{ key: "app", operator: "In" }] } },
      ["spec.podSelector: matchExpressions[0]: operator In needs values"],
    ],
    [
      { podSelector: { matchLabels: { "bad key!": "x" } } },
      [
        'spec.podSelector.matchLabels: label key "bad key!": name must be 1-63 characters of A-Z, a-z, 0-9, -, _, . starting and ending alphanumeric',
      ],
    ],
    [
      { ingress: [{ ports: [{ port: 0 }] }] },
      ["spec.ingress[0].ports[0].port: 0 is not a port number (1-65535)"],
    ],
    [
      { ingress: [{ ports: [{ port: "HTTP" }] }] },
      ['spec.ingress[0].ports[0].port: named port "HTTP" may contain only a-z, 0-9 and -'],
    ],
    [
      { ingress: [{ ports: [{ port: "80" }] }] },
      ['spec.ingress[0].ports[0].port: named port "80" must contain a letter'],
    ],
    [
      { ingress: [{ ports: [{ protocol: "ICMP" }] }] },
      ['spec.ingress[0].ports[0].protocol: "ICMP" is not TCP, UDP or SCTP'],
    ],
    [
      { ingress: [{ ports: [{ port: 90, endPort: 80 }] }] },
      ["spec.ingress[0].ports[0].endPort: 80 must be a port number >= port 90"],
    ],
    [
      { ingress: [{ ports: [{ port: "http", endPort: 90 }] }] },
      ["spec.ingress[0].ports[0].endPort: needs a numeric port"],
    ],
    [
      { policyTypes: ["Ingress", "Ingress", "Sideways"] },
      [
        "spec.policyTypes[1]: Ingress is listed twice",
        'spec.policyTypes[2]: "Sideways" is not Ingress or Egress',
      ],
    ],
    [{ ingress: "all" }, ["spec.ingress: Invalid input: expected array, received string"]],
  ];
  for (const [spec, want] of cases) assert.deepEqual(reasons(spec), want, JSON.stringify(spec));
});

test("NetworkPolicy: nulls are absent, host bits are masked, a missing spec denies ingress", () => {
  assert.deepEqual(reasons({ podSelector: null, ingress: [{ from: null, ports: null }] }), []);
  const p = parseNetworkPolicy(
    np({ egress: [{ to: [{ ipBlock: { cidr: "10.1.2.3/8" } }] }] }),
    KEEP_ALL,
  );
  assert.ok(!isRejected(p));
  assert.deepEqual(p.cidrs, ["10.0.0.0/8"]);
  const none = parseNetworkPolicy({ metadata: { name: "n", namespace: "x" } }, KEEP_ALL);
  assert.ok(!isRejected(none));
  assert.deepEqual(none.isolates, { ingress: true, egress: false });
  assert.equal(none.rules.length, 0);
});

test("NetworkPolicy: ignored sections and selector keys outside the security labels are reported", () => {
  const filter = labelFilter(parseIdentityConfig({}));
  const p = parseNetworkPolicy(
    np({
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ podSelector: { matchLabels: { "pod-template-hash": "abc" } } }] }],
      egress: [{}],
    }),
    filter,
  );
  assert.ok(!isRejected(p));
  assert.deepEqual(p.problems, [
    'spec.ingress[0].from[0].podSelector: label "pod-template-hash" is not a security label (identity.labels filter); it never matches',
    "spec.egress is ignored: policyTypes does not list Egress",
  ]);
});

test("Fairway policies: unknown and unsupported fields, entities, CIDRs, ports", () => {
  const cases: [unknown, string[]][] = [
    [
      { ingress: [] },
      ["spec.endpointSelector: Invalid input: expected object, received undefined"],
    ],
    [{ endpointSelector: {}, ingres: [] }, ['spec: unknown field "ingres"']],
    [
      { endpointSelector: {}, egress: [{ toFQDNs: [{ matchName: "a.example" }] }] },
      [
        "spec.egress[0].toFQDNs: unsupported: a CiliumNetworkPolicy field that Fairway does not implement",
      ],
    ],
    [
      {
        endpointSelector: {},
        ingress: [{ toPorts: [{ ports: [{ port: "80" }], rules: { http: [] } }] }],
      },
      [
        "spec.ingress[0].toPorts[0].rules: unsupported: a CiliumNetworkPolicy field that Fairway does not implement",
      ],
    ],
    [
      { endpointSelector: {}, ingress: [{ fromEntities: ["galaxy"] }] },
      [
        'spec.ingress[0].fromEntities[0]: "galaxy" is not one of host, remote-node, world, cluster, all, health, init, unmanaged, kube-apiserver',
      ],
    ],
    [
      { endpointSelector: {}, egress: [{ toCIDR: ["300.0.0.0/8"] }] },
      ['spec.egress[0].toCIDR[0].cidr: invalid CIDR "300.0.0.0/8": 300 is larger than 255'],
    ],
    [
      {
        endpointSelector: {},
        egressDeny: [{ toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["192.168.0.0/16"] }] }],
      },
      [
        "spec.egressDeny[0].toCIDRSet[0].except[0]: 192.168.0.0/16 must be a strict subset of cidr 10.0.0.0/8",
      ],
    ],
    [
      {
        endpointSelector: {},
        ingress: [
          {
            toPorts: [
              {
                ports: [
                  { port: "70000" },
                  { port: "80", protocol: "ICMP" },
                  { port: "http", endPort: 90 },
                ],
              },
            ],
          },
        ],
      },
      [
        "spec.ingress[0].toPorts[0].ports[0].port: 70000 is not a port number (0-65535)",
        'spec.ingress[0].toPorts[0].ports[1].protocol: "ICMP" is not TCP, UDP, SCTP or ANY',
        "spec.ingress[0].toPorts[0].ports[2].endPort: needs a numeric port",
      ],
    ],
    [
      {
        endpointSelector: { matchLabels: { "k8s:app": "web" } },
        ingress: [
          {
            fromEndpoints: [
              { matchExpressions: [{ key: "k8s:app", operator: "Exists", values: ["x"] }] },
            ],
          },
        ],
      },
      ["spec.ingress[0].fromEndpoints[0]: matchExpressions[0]: operator Exists takes no values"],
    ],
  ];
  for (const [spec, want] of cases)
    assert.deepEqual(fairwayReasons(spec), want, JSON.stringify(spec));
  assert.deepEqual(
    fairwayReasons({ endpointSelector: {}, nodeSelector: {} }, "FairwayClusterwideNetworkPolicy"),
    ["spec.nodeSelector: unsupported: a CiliumNetworkPolicy field that Fairway does not implement"],
  );
  assert.deepEqual(fairwayReasons(undefined), ["spec: required"]);
});

test("Fairway policies: isolation follows rule presence and enableDefaultDeny", () => {
  const p = parseFairwayPolicy(
    {
      metadata: { name: "p", namespace: "x" },
      spec: { endpointSelector: {}, ingressDeny: [{ fromEntities: ["world"] }], egress: [] },
    },
    "FairwayNetworkPolicy",
  );
  assert.ok(!isRejected(p));
  assert.deepEqual(p.isolates, { ingress: true, egress: false });
  const q = parseFairwayPolicy(
    {
      metadata: { name: "q" },
      spec: {
        endpointSelector: {},
        enableDefaultDeny: { ingress: false },
        ingressDeny: [{ fromEntities: ["world"] }],
        egress: [{}],
      },
    },
    "FairwayClusterwideNetworkPolicy",
  );
  assert.ok(!isRejected(q));
  assert.deepEqual(q.isolates, { ingress: false, egress: true });
  assert.equal(q.ref, "fcnp:q");
  assert.deepEqual(
    q.rules.map((r) => [r.name, r.action, r.peers.length]),
    [
      ["ingressDeny[0]", "deny", 1],
      ["egress[0]", "allow", 0],
    ],
  );
});
