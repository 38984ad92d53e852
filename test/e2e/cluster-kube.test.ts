// The Kubernetes cluster source against a real kube-apiserver + etcd (built by
// scripts/get-kube-apiserver.sh), on loopback. The source talks through a TCP
// proxy the test can cut: initial sync, following changes, a dropped watch
// (resume, no relist), an API server restart after etcd compaction (410 Gone,
// relist catches what happened meanwhile), resync, and a stop that closes
// every connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import type * as k8s from "@kubernetes/client-node";
import { silentLogger } from "../../src/base/log.ts";
import {
  ALL_KINDS,
  type ChangeEvent,
  ClusterStore,
  type KindStatus,
  KubeSource,
  kubeClientProblem,
} from "../../src/cluster/index.ts";
import { cleanupFor } from "../harness/index.ts";
import { CuttableProxy, startControlPlane } from "./cluster-apiserver.ts";

const NS = "fw-e2e";
const clientProblem = kubeClientProblem();

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pod(name: string, labels: Record<string, string> = {}): k8s.V1Pod {
  return {
    metadata: { name, namespace: NS, labels },
    spec: {
      nodeName: "node-a",
      containers: [
        {
          name: "app",
          image: "registry.invalid/app:1",
          ports: [{ name: "http", containerPort: 8080 }],
        },
      ],
    },
  };
}

test("the Kubernetes source follows a real API server through dropped watches, restarts and 410 Gone", {
  timeout: 15 * 60_000,
}, async (t) => {
  // No skip: a client that cannot load here is a failure of the setup.
  assert.equal(
    clientProblem,
    undefined,
    `@kubernetes/client-node cannot load here: ${clientProblem}`,
  );
  const c = cleanupFor(t);
  const cp = await startControlPlane(c);
  const client = await import("@kubernetes/client-node");
  const direct = new client.KubeConfig();
  direct.loadFromFile(cp.kubeconfig("direct", cp.apiPort));
  const core = direct.makeApiClient(client.CoreV1Api);

  await core.createNamespace({ body: { metadata: { name: NS, labels: { team: "net" } } } });
  // no controller-manager here: create the namespace's default service account ourselves
  await core.createNamespacedServiceAccount({
    namespace: NS,
    body: { metadata: { name: "default" } },
  });
  await core.createNode({
    body: {
      metadata: { name: "node-a", labels: { "kubernetes.io/os": "linux" } },
      spec: { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24"] },
    },
  });
  await core.createNamespacedPod({ namespace: NS, body: pod("web-1", { app: "web" }) });

  const proxy = await CuttableProxy.start(cp.apiPort);
  c.defer(() => proxy.close());
  const store = new ClusterStore();
  const events: ChangeEvent[] = [];
  store.subscribe((e) => events.push(e));
  const source = new KubeSource({
    store,
    log: silentLogger(),
    kubeconfig: cp.kubeconfig("via-proxy", proxy.port),
    resyncSeconds: 0,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  c.defer(() => source.stop());
  const podStatus = (): KindStatus => source.status().kinds.find((k) => k.kind === "Pod")!;

  await t.test("initial list of every kind", async () => {
    await source.start();
    await store.synced;
    assert.deepEqual(
      source.status().kinds.map((k) => k.kind),
      [...ALL_KINDS],
    );
    assert.equal(store.get("Namespace", NS)?.metadata.labels?.team, "net");
    assert.ok(store.get("Namespace", "kube-system"), "system namespaces are there");
    assert.deepEqual(store.get("Node", "node-a")?.spec?.podCIDRs, ["10.244.1.0/24"]);
    const web1 = store.get("Pod", `${NS}/web-1`);
    assert.equal(web1?.spec?.containers?.[0]?.ports?.[0]?.name, "http");
    assert.equal(web1?.kind, "Pod");
    assert.ok(store.get("Service", "default/kubernetes"), "the kubernetes Service");
  });

  await t.test("services, endpointslices and network policies arrive typed", async () => {
    const discovery = direct.makeApiClient(client.DiscoveryV1Api);
    const networking = direct.makeApiClient(client.NetworkingV1Api);
    await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: "web" },
        spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] },
      },
    });
    await discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: { name: "web-abc", labels: { "kubernetes.io/service-name": "web" } },
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.244.1.7"], conditions: { ready: true }, nodeName: "node-a" }],
        ports: [{ name: "", port: 8080, protocol: "TCP" }],
      },
    });
    await networking.createNamespacedNetworkPolicy({
      namespace: NS,
      body: {
        metadata: { name: "deny-others" },
        spec: {
          podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] },
          policyTypes: ["Ingress"],
          ingress: [
            {
              // the client's model names it _from; on the wire and in our store it is "from"
              _from: [{ namespaceSelector: { matchLabels: { team: "net" } } }],
              ports: [{ port: "http" }],
            },
          ],
        },
      },
    });
    await until("service, slice and policy", () =>
      Boolean(
        store.get("Service", `${NS}/web`) &&
          store.get("EndpointSlice", `${NS}/web-abc`) &&
          store.get("NetworkPolicy", `${NS}/deny-others`),
      ),
    );
    assert.equal(store.get("Service", `${NS}/web`)?.spec?.ports?.[0]?.targetPort, "http");
    assert.deepEqual(store.get("EndpointSlice", `${NS}/web-abc`)?.endpoints?.[0]?.addresses, [
      "10.244.1.7",
    ]);
    const rule = store.get("NetworkPolicy", `${NS}/deny-others`)?.spec?.ingress?.[0];
    assert.equal(rule?.ports?.[0]?.port, "http");
    assert.deepEqual(rule?.from?.[0]?.namespaceSelector, { matchLabels: { team: "net" } });
    assert.equal(store.get("EndpointSlice", `${NS}/web-abc`)?.apiVersion, "discovery.k8s.io/v1");
  });

  await t.test("follows adds, updates (status too) and deletes", async () => {
    events.length = 0;
    await core.createNamespacedPod({ namespace: NS, body: pod("web-2", { app: "web" }) });
    const current = await core.readNamespacedPod({ name: "web-1", namespace: NS });
    current.metadata!.labels = { app: "web", version: "2" };
    await core.replaceNamespacedPod({ name: "web-1", namespace: NS, body: current });
    const withStatus = await core.readNamespacedPod({ name: "web-1", namespace: NS });
    withStatus.status = { phase: "Running", podIP: "10.244.1.7", podIPs: [{ ip: "10.244.1.7" }] };
    await core.replaceNamespacedPodStatus({ name: "web-1", namespace: NS, body: withStatus });
    await core.deleteNamespacedPod({ name: "web-2", namespace: NS, gracePeriodSeconds: 0 });
    await until(
      "web-1 running and web-2 gone",
      () =>
        store.get("Pod", `${NS}/web-1`)?.status?.podIP === "10.244.1.7" &&
        !store.get("Pod", `${NS}/web-2`),
    );
    const of = (name: string): string[] =>
      events.filter((e) => e.key === `${NS}/${name}`).map((e) => e.type);
    assert.deepEqual(of("web-1"), ["update", "update"], "labels, then status");
    // a graceful delete may show up as an update (deletionTimestamp) before the delete
    assert.equal(of("web-2")[0], "add");
    assert.equal(of("web-2").at(-1), "delete");
    assert.deepEqual(
      store
        .list("Pod", { namespace: NS, selector: { matchLabels: { version: "2" } } })
        .map((p) => p.metadata.name),
      ["web-1"],
    );
    const revisions = events.map((e) => e.revision);
    assert.deepEqual(
      revisions,
      [...revisions].sort((a, b) => a - b),
      "events in revision order",
    );
  });

  await t.test(
    "a dropped watch connection resumes from its resourceVersion, without a relist",
    async () => {
      const { lists, watches } = podStatus();
      assert.ok(proxy.open > 0, "the source is connected through the proxy");
      proxy.dropAll();
      await core.createNamespacedPod({ namespace: NS, body: pod("web-3") });
      await until("web-3", () => store.get("Pod", `${NS}/web-3`) !== undefined);
      assert.equal(podStatus().lists, lists, "no relist");
      assert.ok(podStatus().watches > watches, "a new watch");
    },
  );

  await t.test(
    "an API server restart after etcd compaction: 410 Gone, relist catches the missed changes",
    async () => {
      proxy.block();
      // while the source cannot reach the API server, change things behind its back
      await core.createNamespacedPod({ namespace: NS, body: pod("web-4") });
      await core.deleteNamespacedPod({ name: "web-3", namespace: NS, gracePeriodSeconds: 0 });
      await cp.stopApiserver();
      await cp.compactEtcd();
      await cp.startApiserver();
      const { gone, lists } = podStatus();
      proxy.unblock();
      await until(
        "web-4 present and web-3 gone",
        () => store.get("Pod", `${NS}/web-4`) !== undefined && !store.get("Pod", `${NS}/web-3`),
        30_000,
      );
      assert.ok(
        podStatus().gone > gone,
        `the Pod watch got 410 Gone (status: ${JSON.stringify(podStatus())})`,
      );
      assert.ok(podStatus().lists > lists, "and relisted");
      // and it keeps following afterwards
      await core.createNamespacedPod({ namespace: NS, body: pod("web-5") });
      await until("web-5", () => store.get("Pod", `${NS}/web-5`) !== undefined);
    },
  );

  await t.test("a resync relists every kind and emits nothing when nothing changed", async () => {
    const before = source.status().kinds.map((k) => k.lists);
    const revision = store.revision;
    source.resync();
    await until("every kind relisted", () =>
      source.status().kinds.every((k, i) => k.lists > before[i]!),
    );
    assert.equal(store.revision, revision);
  });

  await t.test("stop closes every connection of the source", async () => {
    await source.stop();
    assert.equal(source.status().running, false);
    await until("the proxy to see its connections close", () => proxy.open === 0, 5000);
    const revision = store.revision;
    await core.createNamespacedPod({ namespace: NS, body: pod("web-6") });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(store.revision, revision, "nothing applied after stop");
  });
});
