// The cluster module: its config slice, create (no I/O), start/readiness/stop
// with the directory source, the debug dump, and clear start errors.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/base/log.ts";
import {
  ClusterStore,
  clusterModule,
  formatStore,
  KubeSource,
  parseClusterConfig,
} from "../../src/cluster/index.ts";

test("config slice: defaults per source, every problem in one error", () => {
  assert.deepEqual(parseClusterConfig(undefined), { source: "kubernetes", resyncSeconds: 600 });
  assert.deepEqual(parseClusterConfig({ source: "directory", directory: "/srv/m" }), {
    source: "directory",
    directory: "/srv/m",
    resyncSeconds: 10,
  });
  assert.equal(
    clusterModule.config({ cluster: { kubeconfig: "/k", resyncSeconds: 0 } }).resyncSeconds,
    0,
  );
  assert.throws(
    () => parseClusterConfig({ source: "directory", kubeconfig: "relative/path" }),
    (err: Error & { code?: string }) =>
      err.code === "E_CLUSTER_BAD_CONFIG" &&
      /cluster\.directory: required/.test(err.message) &&
      /cluster\.kubeconfig: "relative\/path" must be an absolute path/.test(err.message),
  );
  assert.throws(
    () => parseClusterConfig({ sauce: "kubernetes" }),
    /E_CLUSTER_BAD_CONFIG|invalid cluster config/,
  );
});

test("the module with a directory source: create does no I/O, start syncs, readiness follows, stop releases", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "fairway-module-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, "lab.yaml"),
    "apiVersion: v1\nkind: Node\nmetadata: { name: n1, labels: { zone: a } }\n---\napiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: lab }\n",
  );
  const config = clusterModule.config({ cluster: { source: "directory", directory: dir } });
  const mod = clusterModule.create({ config, log: silentLogger(), deps: {} });
  assert.deepEqual(mod.readiness(), {
    ready: false,
    reason:
      "cluster: waiting for the initial list of Namespace, Node, Pod, Service, EndpointSlice, NetworkPolicy",
  });
  await mod.start();
  t.after(() => mod.stop());
  await mod.store.synced;
  assert.deepEqual(mod.readiness(), { ready: true });
  assert.equal(mod.status().source, "directory");
  assert.equal(formatStore(mod.store), "# revision 2, synced\nNode n1 zone=a\nPod lab/p\n");
  await mod.stop();
});

test("the Kubernetes source refuses to start with a clear error, never a crash", async () => {
  // Either the client cannot load on this Node (E_CLUSTER_KUBE_CLIENT) or the kubeconfig is missing.
  const source = new KubeSource({
    store: new ClusterStore(),
    log: silentLogger(),
    kubeconfig: "/nonexistent/kubeconfig",
    resyncSeconds: 0,
  });
  await assert.rejects(
    source.start(),
    (err: Error & { code?: string }) =>
      (err.code === "E_CLUSTER_KUBECONFIG" && /\/nonexistent\/kubeconfig/.test(err.message)) ||
      err.code === "E_CLUSTER_KUBE_CLIENT",
  );
  assert.equal(source.status().running, false);
  await source.stop();
});
