// `fairway policy` and `fairway identity`, offline, as a person runs them:
// the CLI process reads conformance cases written as YAML and its answers
// are compared with the cases' expected matrices (the same engine, through
// the command line), plus trace, list and get.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { MatrixFlow } from "../../src/policy/index.ts";
import { CONFORMANCE_CASES, caseManifest, expected, PODS } from "../fixtures/policy/index.ts";
import { repoRoot } from "../harness/index.ts";

const CLI = join(repoRoot, "src/cli/main.ts");

function fairway(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

function caseFile(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fw-policy-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = CONFORMANCE_CASES.find((x) => x.name === name)!;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, caseManifest(c));
  return file;
}

for (const name of [
  "egress-denied-although-server-allows",
  "docs-example",
  "fnp-l4-deny-over-l3-allow",
]) {
  test(`policy matrix -o json agrees with the expected matrix: ${name}`, (t) => {
    const file = caseFile(t, name);
    const r = fairway(
      "policy",
      "matrix",
      "-f",
      file,
      "--ports",
      "80,81",
      "--protocols",
      "TCP,UDP",
      "-o",
      "json",
    );
    assert.equal(r.status, 0, r.stderr);
    const { flows } = JSON.parse(r.stdout) as { flows: MatrixFlow[] };
    assert.equal(flows.length, 2 * 2 * PODS.length * PODS.length);
    assert.deepEqual(Object.keys(flows[0]!), [
      "from",
      "to",
      "port",
      "protocol",
      "allowed",
      "policies",
    ]);
    const c = CONFORMANCE_CASES.find((x) => x.name === name)!;
    for (const f of flows) {
      assert.equal(
        f.allowed,
        expected(c.expect, f.from, f.to, f.port, f.protocol as "TCP"),
        `${f.from} -> ${f.to} ${f.port}/${f.protocol}`,
      );
      if (!f.allowed) assert.ok(f.policies.length > 0, "a denied flow names what denied it");
    }
  });
}

test("policy matrix table: a grid per port/protocol; defaults from the pods' container ports", (t) => {
  const file = caseFile(t, "default-deny-ingress");
  const r = fairway("policy", "matrix", "-f", file);
  assert.equal(r.status, 0, r.stderr);
  const headers = r.stdout.split("\n").filter((l) => /^\d+\/(TCP|UDP)/.test(l));
  assert.deepEqual(
    headers.map((h) => h.split(":")[0]),
    ["80/TCP", "80/UDP", "81/TCP", "81/UDP"],
  );
  assert.match(r.stdout, /80\/TCP: 57 of 81 allowed/);
  assert.match(r.stdout, /\ny\/a +X +X +X +\. +\. +\. +\. +\. +\.\n/);
});

test("policy trace names the policy and rule that decided each side", (t) => {
  const file = caseFile(t, "egress-denied-although-server-allows");
  const r = fairway("policy", "trace", "-f", file, "--from", "x/a", "--to", "y/b", "--port", "80");
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^x\/a \[identity \d+ x: pod=a\] -> y\/b \[identity \d+ y: pod=b\] 80\/TCP: DENIED$/m,
  );
  assert.match(
    r.stdout,
    /egress of x\/a: DENIED: isolated by x\/allow-to-ns-y-pod-a; no entry allows identity/,
  );
  assert.match(
    r.stdout,
    /ingress of y\/b: allowed by y\/allow-from-xa-on-yb-match-selector ingress\[0\]/,
  );
  const json = fairway(
    "policy",
    "trace",
    "-f",
    file,
    "--from",
    "10.0.1.10",
    "--to",
    "10.0.2.10",
    "--port",
    "81",
    "--protocol",
    "udp",
    "-o",
    "json",
  );
  const d = JSON.parse(json.stdout) as {
    allowed: boolean;
    egress: { verdict: { rules: unknown[] } };
  };
  assert.equal(d.allowed, true);
  assert.deepEqual(d.egress.verdict.rules, [
    { policy: "x/allow-to-ns-y-pod-a", rule: "egress[0]" },
  ]);
});

test("policy list shows rejected policies with the reason; get prints an endpoint's map", (t) => {
  const file = caseFile(t, "rejected-policy-leaves-others");
  const list = fairway("policy", "list", "-f", file);
  assert.equal(list.status, 0);
  assert.match(
    list.stdout,
    /x\/bad-cidr-allow-all +NetworkPolicy +rejected +- +spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: invalid CIDR "10\.0\.0\.300\/8"/,
  );
  assert.match(list.stdout, /x\/deny-ingress +NetworkPolicy +accepted +3/);
  assert.match(
    list.stderr,
    /warning: policy y\/bad-port rejected: spec\.ingress\[0\]\.ports\[0\]\.port: 70000/,
  );
  const get = fairway("policy", "get", "x/a", "-f", file);
  assert.equal(
    get.stdout,
    [
      "endpoint x/a identity 256",
      "ingress: isolated by x/deny-ingress: what no entry allows is denied",
      "  (no entries)",
      "egress: not isolated: allowed unless an entry denies",
      "  (no entries)",
      "",
    ].join("\n"),
  );
});

test("identity list and ipcache, offline; usage errors without input", (t) => {
  const file = caseFile(t, "egress-cidr-pod-ip");
  const list = execFileSync(
    process.execPath,
    ["--import", "tsx", CLI, "identity", "list", "-f", file],
    { encoding: "utf8" },
  );
  assert.match(list, /^2 +reserved:world$/m);
  assert.match(
    list,
    /^256 +k8s:io\.kubernetes\.pod\.namespace\.labels\.kubernetes\.io\/metadata\.name=x k8s:io\.kubernetes\.pod\.namespace=x k8s:pod=a +pods: x\/a$/m,
  );
  assert.match(list, /^16777216 +cidr:10\.0\.2\.11\/32 reserved:world$/m);
  const ipcache = fairway("identity", "ipcache", "-f", file);
  assert.match(
    ipcache.stdout,
    /^10\.0\.2\.11\/32 +260 +pod y\/b$/m,
    "a pod wins over the CIDR of its own address",
  );
  const bare = fairway("policy", "list");
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /without -f asks the agent/);
  const bad = fairway("policy", "matrix", "-f", file, "--ports", "0");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /port "0" is not 1-65535/);
});
