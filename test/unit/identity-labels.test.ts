// Security labels and the label filter: what a pod's identity is made of.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Namespace, Pod } from "../../src/cluster/index.ts";
import {
  canonicalLabels,
  DEFAULT_EXCLUDED_LABELS,
  labelFilter,
  labelsKey,
  parseIdentityConfig,
  securityLabels,
  selectorView,
} from "../../src/identity/index.ts";

const ns: Namespace = {
  metadata: { name: "shop", labels: { team: "pay", "kubernetes.io/metadata.name": "shop" } },
};
const pod = (labels: Record<string, string>): Pod => ({
  metadata: { name: "web-1", namespace: "shop", labels },
});

test("a pod's labels, its namespace's name and labels make its security labels", () => {
  const s = securityLabels(pod({ app: "web" }), ns);
  assert.deepEqual(canonicalLabels(s), [
    "k8s:app=web",
    "k8s:io.kubernetes.pod.namespace.labels.kubernetes.io/metadata.name=shop",
    "k8s:io.kubernetes.pod.namespace.labels.team=pay",
    "k8s:io.kubernetes.pod.namespace=shop",
  ]);
  assert.deepEqual(selectorView(s), {
    app: "web",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.namespace.labels.kubernetes.io/metadata.name": "shop",
    "io.kubernetes.pod.namespace.labels.team": "pay",
  });
});

test("the namespace name label is there even without the Namespace object, as the API server sets it", () => {
  const s = securityLabels(pod({ app: "web" }), undefined);
  assert.deepEqual(s.namespaceLabels, { "kubernetes.io/metadata.name": "shop" });
});

test("default filter drops churn-only labels: two ReplicaSets' pods share one identity", () => {
  const filter = labelFilter(parseIdentityConfig({}));
  const a = securityLabels(pod({ app: "web", "pod-template-hash": "5d8f" }), ns, filter);
  const b = securityLabels(
    pod({ app: "web", "pod-template-hash": "77aa", "controller-revision-hash": "x" }),
    ns,
    filter,
  );
  assert.equal(labelsKey(a), labelsKey(b));
  assert.ok(DEFAULT_EXCLUDED_LABELS.includes("pod-template-generation"));
});

test("include and exclude patterns, with prefixes; a pod label cannot forge the namespace", () => {
  const filter = labelFilter(
    parseIdentityConfig({
      labels: { include: ["app", "example.com/*"], exclude: ["example.com/build"] },
    }),
  );
  const s = securityLabels(
    pod({
      app: "web",
      version: "3",
      "example.com/tier": "front",
      "example.com/build": "1234",
      "io.kubernetes.pod.namespace": "kube-system",
    }),
    ns,
    filter,
  );
  assert.deepEqual(s.pod, { app: "web", "example.com/tier": "front" });
  assert.equal(s.namespace, "shop");
  // the include list filters namespace labels too, but never the name label
  assert.deepEqual(s.namespaceLabels, { "kubernetes.io/metadata.name": "shop" });
});

test("the config is strict and names every problem", () => {
  assert.throws(
    () => parseIdentityConfig({ labels: { exclude: ["bad key!"], inclued: [] } }),
    (err: Error & { code?: string }) =>
      err.code === "E_IDENTITY_BAD_CONFIG" &&
      /identity\.labels/.test(err.message) &&
      /inclued/.test(err.message),
  );
  assert.deepEqual(parseIdentityConfig(undefined).labels.exclude, DEFAULT_EXCLUDED_LABELS);
});
