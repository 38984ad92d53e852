// Label selectors (meta/v1 LabelSelector), implemented once for every
// subsystem: the store's list filter, Service selectors, NetworkPolicy peers.
// Semantics follow Kubernetes: requirements are ANDed; an empty selector ({})
// matches everything; NotIn and DoesNotExist match objects without the key.
// A selector is checked and compiled once into a predicate.

import { FairwayError } from "../base/errors.ts";
import { ClusterCode } from "./errors.ts";
import type { LabelSelector, LabelSelectorRequirement } from "./types.ts";

export type Labels = Readonly<Record<string, string>> | undefined;
export type LabelPredicate = (labels: Labels) => boolean;

const OPERATORS = new Set(["In", "NotIn", "Exists", "DoesNotExist"]);

/** Every problem of a selector, one line each; empty when it is valid. */
export function selectorProblems(selector: LabelSelector): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (typeof value !== "string") problems.push(`matchLabels.${key}: value must be a string`);
  }
  (selector.matchExpressions ?? []).forEach((req, i) => {
    const at = `matchExpressions[${i}]`;
    if (typeof req.key !== "string" || req.key === "") problems.push(`${at}: key is required`);
    if (!OPERATORS.has(req.operator)) {
      problems.push(
        `${at}: operator "${String(req.operator)}" is not one of In, NotIn, Exists, DoesNotExist`,
      );
      return;
    }
    const values = req.values ?? [];
    const needsValues = req.operator === "In" || req.operator === "NotIn";
    if (needsValues && values.length === 0)
      problems.push(`${at}: operator ${req.operator} needs values`);
    if (!needsValues && values.length > 0)
      problems.push(`${at}: operator ${req.operator} takes no values`);
    if (values.some((v) => typeof v !== "string")) problems.push(`${at}: values must be strings`);
  });
  return problems;
}

function requirementPredicate(req: LabelSelectorRequirement): LabelPredicate {
  const values = new Set(req.values ?? []);
  const { key } = req;
  switch (req.operator) {
    case "In":
      return (labels) =>
        labels !== undefined && Object.hasOwn(labels, key) && values.has(labels[key]!);
    case "NotIn":
      return (labels) =>
        labels === undefined || !Object.hasOwn(labels, key) || !values.has(labels[key]!);
    case "Exists":
      return (labels) => labels !== undefined && Object.hasOwn(labels, key);
    case "DoesNotExist":
      return (labels) => labels === undefined || !Object.hasOwn(labels, key);
  }
}

/**
 * Compiles a selector into a predicate over an object's labels. Throws
 * E_CLUSTER_BAD_SELECTOR listing every problem of a malformed selector.
 */
export function compileSelector(selector: LabelSelector): LabelPredicate {
  const problems = selectorProblems(selector);
  if (problems.length > 0) {
    throw new FairwayError(
      ClusterCode.badSelector,
      `invalid label selector: ${problems.join("; ")}`,
      {
        details: { problems },
      },
    );
  }
  const preds: LabelPredicate[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    preds.push(
      (labels) => labels !== undefined && Object.hasOwn(labels, key) && labels[key] === value,
    );
  }
  for (const req of selector.matchExpressions ?? []) preds.push(requirementPredicate(req));
  if (preds.length === 0) return () => true;
  return (labels) => preds.every((p) => p(labels));
}

/** One-shot match; compile once with compileSelector when matching many objects. */
export function matchesSelector(selector: LabelSelector, labels: Labels): boolean {
  return compileSelector(selector)(labels);
}

/** The selector in kubectl's text form: "app=web,tier in (a,b),!legacy". Empty selector: "". */
export function formatSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const req of selector.matchExpressions ?? []) {
    const values = [...(req.values ?? [])].sort().join(",");
    if (req.operator === "In") parts.push(`${req.key} in (${values})`);
    else if (req.operator === "NotIn") parts.push(`${req.key} notin (${values})`);
    else if (req.operator === "Exists") parts.push(req.key);
    else parts.push(`!${req.key}`);
  }
  return parts.join(",");
}
