// deploy/crds/ against a real kube-apiserver: both CRDs are accepted as
// structural schemas and become Established; a valid FairwayNetworkPolicy and
// FairwayClusterwideNetworkPolicy are stored and read back in a form the
// policy engine accepts; invalid ones (an unknown entity, a bad CIDR, a
// missing endpointSelector, an unknown field under strict field validation)
// are refused by the API server itself.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { isRejected, parseFairwayPolicy } from "../../src/policy/index.ts";
import { cleanupFor, repoRoot } from "../harness/index.ts";
import { type ControlPlane, startControlPlane, TOKEN } from "./cluster-apiserver.ts";

type ReplyBody = Record<string, unknown> & {
  message?: string;
  status?: { conditions?: { type: string; status: string }[] };
};

interface Reply {
  status: number;
  body: ReplyBody;
}

function api(cp: ControlPlane, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: "127.0.0.1",
        port: cp.apiPort,
        path,
        method,
        ca: readFileSync(cp.caFile),
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          "Content-Type": "application/json",
          ...(data ? { "Content-Length": Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const FNP_PATH = "/apis/fairway.io/v1alpha1/namespaces/fw-pol/fairwaynetworkpolicies";
const FCNP_PATH = "/apis/fairway.io/v1alpha1/fairwayclusterwidenetworkpolicies";
const STRICT = "?fieldValidation=Strict";

const validFnp = {
  apiVersion: "fairway.io/v1alpha1",
  kind: "FairwayNetworkPolicy",
  metadata: { name: "api", namespace: "fw-pol" },
  spec: {
    description: "api from front, 8080-8083; no SMTP out",
    endpointSelector: { matchLabels: { app: "api" } },
    ingress: [
      {
        fromEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "front" } }],
        toPorts: [{ ports: [{ port: "8080", endPort: 8083, protocol: "TCP" }, { port: "http" }] }],
      },
      { fromEntities: ["host", "remote-node"] },
    ],
    egress: [
      {
        toCIDRSet: [{ cidr: "203.0.113.0/24", except: ["203.0.113.128/25"] }],
        toPorts: [{ ports: [{ port: 443, protocol: "TCP" }] }],
      },
    ],
    egressDeny: [{ toEntities: ["world"], toPorts: [{ ports: [{ port: "25" }] }] }],
  },
};

const validFcnp = {
  apiVersion: "fairway.io/v1alpha1",
  kind: "FairwayClusterwideNetworkPolicy",
  metadata: { name: "dns" },
  spec: {
    endpointSelector: {},
    enableDefaultDeny: { egress: false },
    egress: [
      {
        toEndpoints: [
          {
            matchExpressions: [
              { key: "k8s:io.kubernetes.pod.namespace", operator: "In", values: ["kube-system"] },
            ],
          },
        ],
        toPorts: [{ ports: [{ port: "53", protocol: "ANY" }] }],
      },
    ],
    ingressDeny: [{ fromCIDR: ["198.51.100.0/24"] }],
  },
};

test("the Fairway policy CRDs on a real API server: accepted, valid objects stored, invalid ones refused", {
  timeout: 10 * 60_000,
}, async (t) => {
  const c = cleanupFor(t);
  const cp = await startControlPlane(c);
  const dir = join(repoRoot, "deploy/crds");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  assert.deepEqual(files, [
    "fairwayclusterwidenetworkpolicies.yaml",
    "fairwaynetworkpolicies.yaml",
  ]);

  await t.test("both CRDs are created and become Established", async () => {
    for (const f of files) {
      const crd = parse(readFileSync(join(dir, f), "utf8")) as { metadata: { name: string } };
      const r = await api(
        cp,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd,
      );
      assert.equal(r.status, 201, `${f}: ${r.body.message}`);
      await until(`${crd.metadata.name} Established`, async () => {
        const got = await api(
          cp,
          "GET",
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
        );
        const cond = got.body.status?.conditions ?? [];
        const nonStructural = cond.find(
          (x) => x.type === "NonStructuralSchema" && x.status === "True",
        );
        assert.equal(nonStructural, undefined, `${f} is not structural`);
        return cond.some((x) => x.type === "Established" && x.status === "True") ? true : undefined;
      });
    }
    const ns = await api(cp, "POST", "/api/v1/namespaces", { metadata: { name: "fw-pol" } });
    assert.equal(ns.status, 201);
  });

  await t.test(
    "a valid policy of each kind is stored and reads back as the engine accepts it",
    async () => {
      for (const [path, obj, kind] of [
        [FNP_PATH, validFnp, "FairwayNetworkPolicy"],
        [FCNP_PATH, validFcnp, "FairwayClusterwideNetworkPolicy"],
      ] as const) {
        // the resource may take a moment to be served after Established
        const created = await until(`create ${kind}`, async () => {
          const r = await api(cp, "POST", path + STRICT, obj);
          return r.status === 404 ? undefined : r;
        });
        assert.equal(created.status, 201, `${kind}: ${created.body.message}`);
        const got = await api(cp, "GET", `${path}/${obj.metadata.name}`);
        assert.equal(got.status, 200);
        const parsed = parseFairwayPolicy(got.body as never, kind);
        assert.ok(
          !isRejected(parsed),
          `${kind} as stored: ${isRejected(parsed) ? parsed.rejected.join("; ") : ""}`,
        );
      }
    },
  );

  await t.test("invalid policies are refused by the API server with the reason", async () => {
    const bad = (spec: unknown, name: string) => ({
      ...validFnp,
      metadata: { name, namespace: "fw-pol" },
      spec,
    });
    const cases: [string, unknown, number, RegExp][] = [
      [
        "entity",
        bad({ endpointSelector: {}, ingress: [{ fromEntities: ["galaxy"] }] }, "bad-entity"),
        422,
        /fromEntities\[0\]: Unsupported value: "galaxy"/,
      ],
      [
        "cidr",
        bad({ endpointSelector: {}, egress: [{ toCIDR: ["10.0.0.0/40"] }] }, "bad-cidr"),
        422,
        /toCIDR\[0\]: Invalid value: "10\.0\.0\.0\/40"/,
      ],
      [
        "protocol",
        bad(
          {
            endpointSelector: {},
            ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "ICMP" }] }] }],
          },
          "bad-proto",
        ),
        422,
        /protocol: Unsupported value: "ICMP"/,
      ],
      [
        "endPort",
        bad(
          {
            endpointSelector: {},
            ingress: [{ toPorts: [{ ports: [{ port: "80", endPort: 70_000 }] }] }],
          },
          "bad-end",
        ),
        422,
        /endPort: Invalid value: 70000/,
      ],
      [
        "selector",
        bad({ ingress: [{}] }, "no-selector"),
        422,
        /spec\.endpointSelector: Required value/,
      ],
      [
        "unknown field",
        bad({ endpointSelector: {}, ingres: [{}] }, "typo"),
        400,
        /unknown field "spec\.ingres"/,
      ],
    ];
    for (const [what, obj, status, message] of cases) {
      const r = await api(cp, "POST", FNP_PATH + STRICT, obj);
      assert.equal(r.status, status, `${what}: ${r.body.message}`);
      assert.match(String(r.body.message), message, what);
    }
    const list = await api(cp, "GET", FNP_PATH);
    assert.deepEqual(
      (list.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name),
      ["api"],
      "only the valid policy was stored",
    );
  });
});
