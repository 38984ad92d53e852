// The cluster subsystem's error codes and their message templates. Codes are
// stable: callers and tests match on them.

import { FairwayError, type FairwayErrorOptions } from "../base/errors.ts";

export const ClusterCode = {
  /** The cluster config slice is invalid (lists every problem). */
  badConfig: "E_CLUSTER_BAD_CONFIG",
  /** A label selector is malformed (unknown operator, values where none belong...). */
  badSelector: "E_CLUSTER_BAD_SELECTOR",
  /** The kubeconfig could not be read, or in-cluster config is missing. */
  kubeconfig: "E_CLUSTER_KUBECONFIG",
  /** The Kubernetes client library cannot be loaded by this Node.js. */
  kubeClient: "E_CLUSTER_KUBE_CLIENT",
  /** A Kubernetes API request failed (details: path, status). */
  kubeApi: "E_CLUSTER_KUBE_API",
  /** The watched resourceVersion is gone (HTTP 410): the source relists. */
  gone: "E_CLUSTER_GONE",
  /** The manifest directory is missing or unreadable. */
  directory: "E_CLUSTER_DIRECTORY",
  /** A manifest file or one of its documents is invalid (details: file, index). */
  badManifest: "E_CLUSTER_BAD_MANIFEST",
  /** A store or source was used in the wrong state (e.g. started twice). */
  state: "E_CLUSTER_STATE",
} as const;

export type ClusterCodeValue = (typeof ClusterCode)[keyof typeof ClusterCode];

export class KubeApiError extends FairwayError {
  readonly status: number | undefined;

  constructor(
    path: string,
    status: number | undefined,
    reason: string,
    options: FairwayErrorOptions = {},
  ) {
    const gone = status === 410;
    const what = status === undefined ? reason : `HTTP ${status}: ${reason}`;
    super(gone ? ClusterCode.gone : ClusterCode.kubeApi, `Kubernetes API ${path}: ${what}`, {
      // 5xx, 429 and network failures go away on their own; 4xx need a fix (RBAC, CRD...).
      kind:
        status === undefined || status >= 500 || status === 429 || gone ? "transient" : "expected",
      ...options,
      details: { path, status, ...options.details },
    });
    this.name = "KubeApiError";
    this.status = status;
  }
}

export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}
