// Label selectors in policies: the checks the API server makes (operators,
// values, label key and value syntax) with a path in each problem, and
// compiling them into predicates over security labels (identity/).

import { z } from "zod";
import { compileSelector, type LabelSelector, selectorProblems } from "../cluster/index.ts";
import { normalizeSelectorKey, type SecurityLabels, selectorView } from "../identity/index.ts";

export type LabelsPredicate = (s: SecurityLabels) => boolean;

/** A LabelSelector's shape (unknown fields refused); checkSelector checks the rest. */
export const labelSelectorSchema = z
  .strictObject({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(
        z.strictObject({
          key: z.string(),
          operator: z.string(),
          values: z.array(z.string()).optional(),
        }),
      )
      .optional(),
  })
  .transform((s) => s as LabelSelector);

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a qualified label key ("prefix/name" or "name"), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return `label key "${key}": prefix must be a DNS subdomain`;
  if (name.length === 0 || name.length > 63 || !NAME.test(name))
    return `label key "${key}": name must be 1-63 characters of A-Z, a-z, 0-9, -, _, . starting and ending alphanumeric`;
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63 || !NAME.test(value))
    return `label value "${value}": must be at most 63 characters of A-Z, a-z, 0-9, -, _, . starting and ending alphanumeric`;
  return undefined;
}

/**
 * Every problem of a selector, each prefixed with `at`. `keyOf` maps a
 * selector key before the syntax check (Fairway selectors may carry "k8s:").
 */
export function checkSelector(
  selector: LabelSelector,
  at: string,
  keyOf: (k: string) => string = (k) => k,
): string[] {
  const problems = selectorProblems(selector).map((p) => `${at}: ${p}`);
  if (problems.length > 0) return problems;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    const kp = labelKeyProblem(keyOf(k));
    if (kp) problems.push(`${at}.matchLabels: ${kp}`);
    const vp = labelValueProblem(v);
    if (vp) problems.push(`${at}.matchLabels.${k}: ${vp}`);
  }
  (selector.matchExpressions ?? []).forEach((req, i) => {
    const kp = labelKeyProblem(keyOf(req.key));
    if (kp) problems.push(`${at}.matchExpressions[${i}]: ${kp}`);
    for (const v of req.values ?? []) {
      const vp = labelValueProblem(v);
      if (vp) problems.push(`${at}.matchExpressions[${i}]: ${vp}`);
    }
  });
  return problems;
}

/** Keys a selector reads. */
export function selectorKeys(selector: LabelSelector): string[] {
  return [
    ...Object.keys(selector.matchLabels ?? {}),
    ...(selector.matchExpressions ?? []).map((r) => r.key),
  ];
}

/** A Fairway selector with its keys' "k8s:" / "any:" source prefixes removed. */
export function normalizeFairwaySelector(selector: LabelSelector): LabelSelector {
  const matchLabels = Object.fromEntries(
    Object.entries(selector.matchLabels ?? {}).map(([k, v]) => [normalizeSelectorKey(k), v]),
  );
  const matchExpressions = (selector.matchExpressions ?? []).map((r) => ({
    ...r,
    key: normalizeSelectorKey(r.key),
  }));
  return { matchLabels, matchExpressions };
}

/** A Fairway selector over the flat view (pod labels + namespace keys). */
export function fairwayPredicate(selector: LabelSelector): LabelsPredicate {
  const match = compileSelector(normalizeFairwaySelector(selector));
  return (s) => match(selectorView(s));
}
