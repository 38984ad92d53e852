// The config slice `identity`: which labels make up a pod's security identity.
// Fewer labels, fewer identities: labels that differ per pod or per rollout
// (pod-template-hash and friends) would give every pod or every ReplicaSet its
// own identity and make every policy map churn on each rollout.
//
//   identity:
//     labels:
//       include: []            # key patterns kept; empty: every key
//       exclude: [pod-template-hash, ...]   # key patterns dropped (replaces the defaults)
//
// A pattern is a label key, or a prefix ending in "*" ("example.com/*").
// The filter applies to pod labels and namespace labels alike, except that a
// namespace's kubernetes.io/metadata.name label is always kept (NetworkPolicy
// namespaceSelectors name namespaces by it).

import { z } from "zod";
import { IdentityCode, identityError } from "./errors.ts";

/** Labels that change per pod or per rollout and that no policy selects on. */
export const DEFAULT_EXCLUDED_LABELS: readonly string[] = Object.freeze([
  "pod-template-hash",
  "controller-revision-hash",
  "pod-template-generation",
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
  "batch.kubernetes.io/job-completion-index",
  "batch.kubernetes.io/controller-uid",
  "controller-uid",
]);

const pattern = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9][-A-Za-z0-9_./]*\*?$|^\*$/, "a label key, or a key prefix ending in *");

export const identityConfigSchema = z.strictObject({
  labels: z
    .strictObject({
      /** Key patterns kept; empty: every key. */
      include: z.array(pattern).default([]),
      /** Key patterns dropped; replaces DEFAULT_EXCLUDED_LABELS when given. */
      exclude: z.array(pattern).default([...DEFAULT_EXCLUDED_LABELS]),
    })
    .default({ include: [], exclude: [...DEFAULT_EXCLUDED_LABELS] }),
});

export interface IdentityConfig {
  readonly labels: {
    readonly include: readonly string[];
    readonly exclude: readonly string[];
  };
}

/** Validates the slice (absent: defaults) and freezes it. One error lists every problem. */
export function parseIdentityConfig(slice: unknown): IdentityConfig {
  const r = identityConfigSchema.safeParse(slice ?? {});
  if (!r.success) {
    const problems = r.error.issues.map(
      (i) => `identity${i.path.map((p) => `.${String(p)}`).join("")}: ${i.message}`,
    );
    throw identityError(IdentityCode.badConfig, `invalid identity config: ${problems.join("; ")}`, {
      details: { problems },
    });
  }
  const { include, exclude } = r.data.labels;
  return Object.freeze({
    labels: Object.freeze({ include: Object.freeze(include), exclude: Object.freeze(exclude) }),
  });
}

/** A compiled key filter: true keeps the key. */
export type KeyFilter = (key: string) => boolean;

function matcher(patterns: readonly string[]): KeyFilter {
  const exact = new Set(patterns.filter((p) => !p.endsWith("*")));
  const prefixes = patterns.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1));
  return (key) => exact.has(key) || prefixes.some((p) => key.startsWith(p));
}

export function labelFilter(config: IdentityConfig): KeyFilter {
  const include = config.labels.include.length > 0 ? matcher(config.labels.include) : () => true;
  const exclude = matcher(config.labels.exclude);
  return (key) => include(key) && !exclude(key);
}
