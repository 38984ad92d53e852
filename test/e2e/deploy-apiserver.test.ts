// deploy/fairway.yaml is accepted by a real kube-apiserver: every object is
// created (schema and RBAC validation included) and read back.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { cleanupFor, repoRoot } from "../harness/index.ts";
import { startControlPlane } from "./cluster-apiserver.ts";

test("a real API server accepts every object of deploy/fairway.yaml", {
  timeout: 10 * 60_000,
}, async (t) => {
  const c = cleanupFor(t);
  const cp = await startControlPlane(c);
  const client = await import("@kubernetes/client-node");
  const kc = new client.KubeConfig();
  kc.loadFromFile(cp.kubeconfig("deploy", cp.apiPort));
  const api = client.KubernetesObjectApi.makeApiClient(kc);
  const docs = parseAllDocuments(readFileSync(join(repoRoot, "deploy/fairway.yaml"), "utf8")).map(
    (d) =>
      d.toJSON() as {
        kind: string;
        apiVersion: string;
        metadata: { name: string; namespace?: string };
      },
  );
  for (const doc of docs) {
    const created = await api.create(doc);
    assert.equal(created.metadata?.name, doc.metadata.name, `${doc.kind} created`);
  }
  const ds = await api.read({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "fairway-agent", namespace: "fairway-system" },
  });
  assert.equal(ds.metadata?.name, "fairway-agent");
});
