// deploy/fairway.yaml: every document parses, the agent config it ships is one
// the agent accepts, and the DaemonSet mounts every host path that config names.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadAgentConfig } from "../../src/agent/config.ts";
import { repoRoot } from "../harness/index.ts";

interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        containers: {
          env: { name: string }[];
          volumeMounts: { name: string; mountPath: string }[];
        }[];
        volumes: { name: string; hostPath?: { path: string } }[];
      };
    };
  };
}

function deployDocs(): Doc[] {
  const text = readFileSync(join(repoRoot, "deploy/fairway.yaml"), "utf8");
  return parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, [], "deploy/fairway.yaml parses");
    return d.toJSON() as Doc;
  });
}

test("deploy/fairway.yaml holds the agent's namespace, RBAC, config and DaemonSet", () => {
  const kinds = deployDocs().map((d) => `${d.kind}/${d.metadata.name}`);
  assert.deepEqual(kinds, [
    "Namespace/fairway-system",
    "ServiceAccount/fairway-agent",
    "ClusterRole/fairway-agent",
    "ClusterRoleBinding/fairway-agent",
    "ConfigMap/fairway-config",
    "DaemonSet/fairway-agent",
  ]);
});

test("the shipped agent.yaml is valid and the DaemonSet mounts what it names", (t) => {
  const docs = deployDocs();
  const agentYaml = docs.find((d) => d.kind === "ConfigMap")!.data!["agent.yaml"]!;
  const dir = mkdtempSync(join(tmpdir(), "fwt-deploy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "agent.yaml"), agentYaml);
  const config = loadAgentConfig({
    flags: [],
    env: { FAIRWAY_NODE_NAME: "node-1" },
    configPath: join(dir, "agent.yaml"),
  });
  assert.equal(config.nodeName, "node-1", "nodeName from the downward API variable");
  assert.equal(config.cluster.source, "kubernetes");

  const pod = docs.find((d) => d.kind === "DaemonSet")!.spec!.template.spec;
  const agent = pod.containers[0]!;
  assert.ok(agent.env.some((e) => e.name === "FAIRWAY_NODE_NAME"));
  const mounted = agent.volumeMounts.map((m) => m.mountPath);
  for (const path of [
    config.stateDir,
    config.runDir,
    "/sys/fs/bpf",
    config.cni.confDir,
    config.cni.binDir,
  ]) {
    assert.ok(
      mounted.some((m) => path === m || path.startsWith(`${m}/`)),
      `${path} is mounted into the agent`,
    );
  }
  // Every mount has its volume.
  const volumes = new Set(pod.volumes.map((v) => v.name));
  for (const m of agent.volumeMounts) assert.ok(volumes.has(m.name), `volume ${m.name}`);
});
