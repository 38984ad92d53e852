// Shared pieces of policy validation: JSON nulls dropped as the API server's
// decoder does, zod issues as "spec.ingress[0].from[1]: unknown field "x""
// lines, CIDR and ipBlock checks.

import type { z } from "zod";
import { type Prefix, parsePrefix, prefixContains } from "../identity/index.ts";

/** A copy without null-valued keys (null means "absent" to the API server). */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
    return out;
  }
  return value;
}

export function pathText(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** zod issues as problem lines; `unsupported` names fields Fairway knows but does not implement. */
export function zodProblems(
  error: z.ZodError,
  root: string,
  unsupported: Readonly<Record<string, string>> = {},
): string[] {
  const out: string[] = [];
  for (const issue of error.issues) {
    const at = pathText(root, issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const why = unsupported[key];
        out.push(why ? `${at}.${key}: ${why}` : `${at}: unknown field "${key}"`);
      }
    } else if (issue.code === "invalid_union") {
      out.push(`${at}: ${issue.message}`);
    } else {
      out.push(`${at}: ${issue.message}`);
    }
  }
  return out;
}

/** The CIDR, or a problem line. Host bits are masked off, as the API server and Cilium do. */
export function checkCidr(text: string, at: string, problems: string[]): Prefix | undefined {
  try {
    return parsePrefix(text);
  } catch (err) {
    problems.push(`${at}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** Checks an ipBlock-like {cidr, except}: excepts must be strict subsets of cidr. */
export function checkCidrSet(
  cidr: string,
  except: readonly string[],
  at: string,
  problems: string[],
): { cidr: string; except: string[] } | undefined {
  const before = problems.length;
  const outer = checkCidr(cidr, `${at}.cidr`, problems);
  const inner: string[] = [];
  except.forEach((e, i) => {
    const p = checkCidr(e, `${at}.except[${i}]`, problems);
    if (!p || !outer) return;
    if (!prefixContains(outer, p) || p.length === outer.length) {
      problems.push(`${at}.except[${i}]: ${p.text} must be a strict subset of cidr ${outer.text}`);
      return;
    }
    inner.push(p.text);
  });
  if (problems.length > before || !outer) return undefined;
  return { cidr: outer.text, except: inner };
}
