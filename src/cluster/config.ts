// The cluster module's config slice (the agent config's `cluster` key):
// schema and defaults side by side, validated once, frozen.

import { isAbsolute } from "node:path";
import { z } from "zod";
import { FairwayError } from "../base/errors.ts";
import { ClusterCode } from "./errors.ts";

export const clusterConfigSchema = z.strictObject({
  /** Where cluster state comes from. */
  source: z.enum(["kubernetes", "directory"]).default("kubernetes"),
  /** kubeconfig path (source "kubernetes"); unset: the pod's service account. */
  kubeconfig: z.string().min(1).optional(),
  /** manifest directory (source "directory"). */
  directory: z.string().min(1).optional(),
  /**
   * kubernetes: relist every kind about this often (default 600). directory: full
   * rescan this often, the fallback for missed fs.watch events (default 10).
   * 0 turns it off.
   */
  resyncSeconds: z.number().int().min(0).max(86_400).optional(),
});

export interface ClusterConfig {
  readonly source: "kubernetes" | "directory";
  readonly kubeconfig?: string;
  readonly directory?: string;
  /** Always set after parsing (the source's default when not given). */
  readonly resyncSeconds: number;
}

export const DEFAULT_RESYNC_SECONDS = { kubernetes: 600, directory: 10 } as const;

/** Validates the slice; throws one E_CLUSTER_BAD_CONFIG that lists every problem. */
export function parseClusterConfig(raw: unknown): ClusterConfig {
  const parsed = clusterConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw configError(
      parsed.error.issues.map(
        (i) => `cluster${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`,
      ),
    );
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.source === "directory" && c.directory === undefined) {
    problems.push('cluster.directory: required when cluster.source is "directory"');
  }
  for (const field of ["kubeconfig", "directory"] as const) {
    const value = c[field];
    if (value !== undefined && !isAbsolute(value))
      problems.push(`cluster.${field}: "${value}" must be an absolute path`);
  }
  if (problems.length > 0) throw configError(problems);
  return Object.freeze({
    ...c,
    resyncSeconds: c.resyncSeconds ?? DEFAULT_RESYNC_SECONDS[c.source],
  });
}

function configError(problems: string[]): FairwayError {
  return new FairwayError(
    ClusterCode.badConfig,
    `invalid cluster config:\n  ${problems.join("\n  ")}`,
    {
      details: { problems },
    },
  );
}
