// Loads the Kubernetes client lazily, so that importing src/cluster (the
// directory source, the store, the agent's module graph) never loads it.
//
// Why the check: @kubernetes/client-node 2.x depends on undici ^8, and undici 8
// calls zlib.createZstdDecompress while it loads, which Node 20 does not have:
// the import throws and takes the process down (not only the promise). So before
// importing we look for zstd in zlib or an undici older than 8 next to the
// client, and otherwise refuse with a message that says what to change.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as zlib from "node:zlib";
import { FairwayError } from "../base/errors.ts";
import { ClusterCode } from "./errors.ts";

type KubeHttp = typeof import("./kube-http.ts");

/** Why the client cannot be loaded in this process, or undefined when it can. */
export function kubeClientProblem(): string | undefined {
  if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === "function")
    return undefined;
  let undiciVersion: string;
  try {
    const req = createRequire(import.meta.url);
    const client = req.resolve("@kubernetes/client-node/package.json");
    const undiciMain = createRequire(client).resolve("undici");
    undiciVersion = (
      JSON.parse(readFileSync(join(dirname(undiciMain), "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  } catch (err) {
    return `cannot find @kubernetes/client-node and its undici: ${(err as Error).message}`;
  }
  if (Number(undiciVersion.split(".")[0]) < 8) return undefined;
  return (
    `@kubernetes/client-node uses undici ${undiciVersion}, which needs zlib zstd support (Node >= 22.19); ` +
    `this is Node ${process.versions.node}. Use Node >= 22.19, or pin undici ^7 for the client ` +
    `(package.json "overrides": { "undici": "^7" })`
  );
}

let loaded: Promise<KubeHttp> | undefined;

/** Imports the client-backed KubeApi module once. Throws E_CLUSTER_KUBE_CLIENT when it cannot load here. */
export function loadKubeClient(): Promise<KubeHttp> {
  const problem = kubeClientProblem();
  if (problem) return Promise.reject(new FairwayError(ClusterCode.kubeClient, problem));
  loaded ??= import("./kube-http.ts");
  return loaded;
}
