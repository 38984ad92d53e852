// FairwayNetworkPolicy (namespaced) and FairwayClusterwideNetworkPolicy ->
// the engine's policy form, modelled on CiliumNetworkPolicy:
//   - endpointSelector picks pods (of the policy's namespace, for the namespaced kind);
//   - ingress/egress rules allow, ingressDeny/egressDeny rules deny; deny beats allow;
//   - a direction is isolated when the policy has a rule or deny rule for it
//     (enableDefaultDeny.ingress/egress: false turns that off);
//   - a rule's peers are the union of fromEndpoints/toEndpoints (selectors over
//     pod labels and io.kubernetes.pod.namespace[.labels.<key>]; in the
//     namespaced kind limited to its namespace unless the selector names
//     io.kubernetes.pod.namespace), from/toEntities, from/toCIDR and
//     from/toCIDRSet (addresses outside the cluster, as Cilium's CIDR rules);
//     no peer field and toPorts: any peer; an empty rule ({}) matches nothing;
//   - toPorts[].ports[]: port (number, "0" = all, or a named port), endPort,
//     protocol TCP/UDP/SCTP/ANY (default ANY).
// Unknown fields reject the policy; Cilium fields Fairway does not implement
// (L7 rules, FQDNs, services, node selectors...) say so.

import { z } from "zod";
import {
  type FairwayClusterwideNetworkPolicy,
  type FairwayNetworkPolicy,
  formatSelector,
  type LabelSelector,
} from "../cluster/index.ts";
import { NAMESPACE_KEY, normalizeSelectorKey } from "../identity/index.ts";
import { requiredLabel } from "./k8s.ts";
import {
  type CompiledPolicy,
  ENTITIES,
  type Entity,
  type ParsedPolicy,
  type Peer,
  policyRef,
  type Rule,
} from "./model.ts";
import { formatPortMatch, isPortNumber, type PortMatch, svcNameProblem } from "./ports.ts";
import {
  checkSelector,
  fairwayPredicate,
  type LabelsPredicate,
  labelSelectorSchema,
  normalizeFairwaySelector,
  selectorKeys,
} from "./selectors.ts";
import type { Direction, PolicyKind, Protocol } from "./types.ts";
import { checkCidrSet, dropNulls, zodProblems } from "./validate.ts";

const UNSUPPORTED = "unsupported: a CiliumNetworkPolicy field that Fairway does not implement";
const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = Object.fromEntries(
  [
    "toFQDNs",
    "toServices",
    "toGroups",
    "toRequires",
    "fromRequires",
    "toNodes",
    "fromNodes",
    "icmps",
    "authentication",
    "nodeSelector",
    "specs",
    "rules",
    "originatingTLS",
    "terminatingTLS",
    "serverNames",
    "listener",
    "cidrGroupRef",
    "labels",
  ].map((f) => [f, UNSUPPORTED]),
);

const selector = labelSelectorSchema;
const cidrSet = z.strictObject({ cidr: z.string(), except: z.array(z.string()).optional() });
const portProtocol = z.strictObject({
  port: z.union([z.number(), z.string()]).optional(),
  endPort: z.number().optional(),
  protocol: z.string().optional(),
});
const portRule = z.strictObject({ ports: z.array(portProtocol).optional() });
const peerFields = (dir: "from" | "to") =>
  ({
    [`${dir}Endpoints`]: z.array(selector).optional(),
    [`${dir}Entities`]: z.array(z.string()).optional(),
    [`${dir}CIDR`]: z.array(z.string()).optional(),
    [`${dir}CIDRSet`]: z.array(cidrSet).optional(),
    toPorts: z.array(portRule).optional(),
  }) as const;
const ingressRule = z.strictObject(peerFields("from"));
const egressRule = z.strictObject(peerFields("to"));
const specSchema = z.strictObject({
  description: z.string().optional(),
  endpointSelector: selector,
  enableDefaultDeny: z
    .strictObject({ ingress: z.boolean().optional(), egress: z.boolean().optional() })
    .optional(),
  ingress: z.array(ingressRule).optional(),
  ingressDeny: z.array(ingressRule).optional(),
  egress: z.array(egressRule).optional(),
  egressDeny: z.array(egressRule).optional(),
});
type RuleIn = Record<string, unknown> & { toPorts?: z.infer<typeof portRule>[] };

const SECTIONS = [
  ["ingress", "ingress", "allow"],
  ["ingressDeny", "ingress", "deny"],
  ["egress", "egress", "allow"],
  ["egressDeny", "egress", "deny"],
] as const;

interface Ctx {
  readonly namespace: string | undefined;
  readonly problems: string[];
  readonly cidrs: string[];
}

export function parseFairwayPolicy(
  obj: FairwayNetworkPolicy | FairwayClusterwideNetworkPolicy,
  kind: Exclude<PolicyKind, "NetworkPolicy">,
): ParsedPolicy {
  const namespace =
    kind === "FairwayNetworkPolicy" ? (obj.metadata.namespace ?? "default") : undefined;
  const name = obj.metadata.name;
  const head = {
    ref: policyRef(kind, namespace, name),
    kind,
    ...(namespace !== undefined ? { namespace } : {}),
    name,
  };
  if (obj.spec === undefined) return { ...head, rejected: ["spec: required"] };
  const parsed = specSchema.safeParse(dropNulls(obj.spec));
  if (!parsed.success)
    return { ...head, rejected: zodProblems(parsed.error, "spec", UNSUPPORTED_FIELDS) };
  const spec = parsed.data;
  const ctx: Ctx = { namespace, problems: [], cidrs: [] };
  ctx.problems.push(
    ...checkSelector(spec.endpointSelector, "spec.endpointSelector", normalizeSelectorKey),
  );
  const rules: Rule[] = [];
  for (const [section, direction, action] of SECTIONS) {
    (spec[section] ?? []).forEach((r, i) => {
      rules.push(parseRule(r as RuleIn, { section, direction, action, index: i }, ctx));
    });
  }
  if (ctx.problems.length > 0) return { ...head, rejected: ctx.problems };
  const has = (d: Direction) => (spec[d] ?? []).length > 0 || (spec[`${d}Deny`] ?? []).length > 0;
  const subjectMatch = fairwayPredicate(spec.endpointSelector);
  const compiled: CompiledPolicy = {
    ...head,
    subject:
      namespace === undefined ? subjectMatch : (s) => s.namespace === namespace && subjectMatch(s),
    subjectText: `${namespace === undefined ? "pods" : `pods of ${namespace}`}${
      formatSelector(spec.endpointSelector) ? ` with ${formatSelector(spec.endpointSelector)}` : ""
    }`,
    ...requiredLabel(
      normalizeFairwaySelector(spec.endpointSelector).matchLabels,
      (k) => !k.startsWith(NAMESPACE_KEY),
    ),
    isolates: {
      ingress: has("ingress") && spec.enableDefaultDeny?.ingress !== false,
      egress: has("egress") && spec.enableDefaultDeny?.egress !== false,
    },
    rules,
    cidrs: [...new Set(ctx.cidrs)].sort(),
    problems: [],
  };
  return compiled;
}

interface Where {
  readonly section: string;
  readonly direction: Direction;
  readonly action: "allow" | "deny";
  readonly index: number;
}

function parseRule(r: RuleIn, w: Where, ctx: Ctx): Rule {
  const dir = w.direction === "ingress" ? "from" : "to";
  const name = `${w.section}[${w.index}]`;
  const at = `spec.${name}`;
  const peers: Peer[] = [];
  const texts: string[] = [];
  const endpoints = (r[`${dir}Endpoints`] as LabelSelector[] | undefined) ?? [];
  endpoints.forEach((sel, j) => {
    const where = `${at}.${dir}Endpoints[${j}]`;
    const problems = checkSelector(sel, where, normalizeSelectorKey);
    if (problems.length > 0) {
      ctx.problems.push(...problems);
      return;
    }
    peers.push({
      kind: "endpoints",
      match: endpointsMatch(sel, ctx.namespace),
      text: `{${formatSelector(sel)}}`,
    });
    texts.push(`endpoints {${formatSelector(sel)}}`);
  });
  ((r[`${dir}Entities`] as string[] | undefined) ?? []).forEach((e, j) => {
    if (!(ENTITIES as readonly string[]).includes(e)) {
      ctx.problems.push(`${at}.${dir}Entities[${j}]: "${e}" is not one of ${ENTITIES.join(", ")}`);
      return;
    }
    peers.push({ kind: "entity", entity: e as Entity });
    texts.push(`entity ${e}`);
  });
  const sets = [
    ...((r[`${dir}CIDR`] as string[] | undefined) ?? []).map((cidr, j) => ({
      cidr,
      except: [] as string[],
      at: `${at}.${dir}CIDR[${j}]`,
    })),
    ...((r[`${dir}CIDRSet`] as { cidr: string; except?: string[] }[] | undefined) ?? []).map(
      (s, j) => ({ cidr: s.cidr, except: s.except ?? [], at: `${at}.${dir}CIDRSet[${j}]` }),
    ),
  ];
  for (const s of sets) {
    const checked = checkCidrSet(s.cidr, s.except, s.at, ctx.problems);
    if (!checked) continue;
    ctx.cidrs.push(checked.cidr, ...checked.except);
    peers.push({ kind: "cidr", ...checked, pods: false });
    texts.push(
      `cidr ${checked.cidr}${checked.except.length ? ` except ${checked.except.join(",")}` : ""}`,
    );
  }
  const ports = parseToPorts(r.toPorts, at, ctx.problems);
  const hasL3 = endpoints.length > 0 || texts.length > 0;
  // Cilium: no L3 field but toPorts -> every peer; an empty rule matches nothing.
  if (!hasL3 && ports !== undefined) peers.push({ kind: "all" });
  const peerText = peers.length === 0 ? "nothing" : hasL3 ? texts.join(" | ") : "any peer";
  const portText = ports ? `ports ${ports.map(formatPortMatch).join(", ")}` : "any port";
  return {
    name,
    direction: w.direction,
    action: w.action,
    peers,
    ...(ports ? { ports } : {}),
    text: `${w.action} ${dir} ${peerText}; ${portText}`,
  };
}

/** A namespaced policy's endpoint selector stays in its namespace unless it names one. */
function endpointsMatch(sel: LabelSelector, namespace: string | undefined): LabelsPredicate {
  const match = fairwayPredicate(sel);
  const namesNamespace = selectorKeys(normalizeFairwaySelector(sel)).includes(NAMESPACE_KEY);
  if (namespace === undefined || namesNamespace) return match;
  return (s) => s.namespace === namespace && match(s);
}

function parseToPorts(
  toPorts: RuleIn["toPorts"],
  at: string,
  problems: string[],
): PortMatch[] | undefined {
  if (toPorts === undefined || toPorts.length === 0) return undefined;
  const out: PortMatch[] = [];
  toPorts.forEach((pr, i) => {
    const list = pr.ports ?? [];
    if (list.length === 0) {
      // Cilium: toPorts without ports means every port.
      out.push({ protocol: "ANY" });
      return;
    }
    list.forEach((p, j) => {
      const m = parsePort(p, `${at}.toPorts[${i}].ports[${j}]`, problems);
      if (m) out.push(m);
    });
  });
  return out;
}

function parsePort(
  p: z.infer<typeof portProtocol>,
  at: string,
  problems: string[],
): PortMatch | undefined {
  const protocol = (p.protocol ?? "ANY").toUpperCase();
  const before = problems.length;
  if (!["TCP", "UDP", "SCTP", "ANY"].includes(protocol))
    problems.push(`${at}.protocol: "${p.protocol}" is not TCP, UDP, SCTP or ANY`);
  let port: number | string | undefined;
  if (typeof p.port === "number" || (typeof p.port === "string" && /^\d+$/.test(p.port))) {
    const n = Number(p.port);
    if (n !== 0 && !isPortNumber(n))
      problems.push(`${at}.port: ${p.port} is not a port number (0-65535)`);
    port = n === 0 ? undefined : n;
  } else if (typeof p.port === "string") {
    const why = svcNameProblem(p.port);
    if (why) problems.push(`${at}.port: named port "${p.port}" ${why}`);
    port = p.port;
  }
  if (p.endPort !== undefined) {
    if (typeof port !== "number") problems.push(`${at}.endPort: needs a numeric port`);
    else if (!isPortNumber(p.endPort) || p.endPort < port)
      problems.push(`${at}.endPort: ${p.endPort} must be a port number >= port ${port}`);
  }
  if (problems.length > before) return undefined;
  return {
    protocol: protocol as Protocol | "ANY",
    ...(port !== undefined ? { port } : {}),
    ...(p.endPort !== undefined && port !== undefined ? { endPort: p.endPort } : {}),
  };
}
