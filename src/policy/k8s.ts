// Kubernetes NetworkPolicy (networking.k8s.io/v1) -> the engine's policy form,
// to the API reference:
//   - spec.podSelector selects pods of the policy's namespace ({} = all of them);
//   - policyTypes defaults to [Ingress], plus Egress when spec.egress has a rule;
//     a direction is isolated for the selected pods only when it is listed;
//   - a rule without `from`/`to` (or with an empty list) matches every peer,
//     without `ports` every port; an isolated direction without rules allows nothing;
//   - a peer is podSelector (this namespace), namespaceSelector (all pods of the
//     matching namespaces), both (matching pods in matching namespaces), or an
//     ipBlock with excepts (alone);
//   - ports: TCP (default), UDP, SCTP; a number, a range (endPort), or a named
//     container port, resolved per destination pod.
// Invalid input rejects the whole policy with every reason; the others keep working.

import { z } from "zod";
import {
  compileSelector,
  formatSelector,
  type LabelSelector,
  type NetworkPolicy,
} from "../cluster/index.ts";
import type { KeyFilter } from "../identity/index.ts";
import {
  type CompiledPolicy,
  type ParsedPolicy,
  type Peer,
  policyRef,
  type Rule,
} from "./model.ts";
import { formatPortMatch, isPortNumber, type PortMatch, svcNameProblem } from "./ports.ts";
import {
  checkSelector,
  type LabelsPredicate,
  labelSelectorSchema,
  selectorKeys,
} from "./selectors.ts";
import type { Direction, Protocol } from "./types.ts";
import { checkCidrSet, dropNulls, zodProblems } from "./validate.ts";

const selector = labelSelectorSchema;
const port = z.strictObject({
  protocol: z.string().optional(),
  port: z.union([z.number(), z.string()]).optional(),
  endPort: z.number().optional(),
});
const peer = z.strictObject({
  podSelector: selector.optional(),
  namespaceSelector: selector.optional(),
  ipBlock: z.strictObject({ cidr: z.string(), except: z.array(z.string()).optional() }).optional(),
});
const specSchema = z.strictObject({
  podSelector: selector.optional(),
  policyTypes: z.array(z.string()).optional(),
  ingress: z
    .array(z.strictObject({ from: z.array(peer).optional(), ports: z.array(port).optional() }))
    .optional(),
  egress: z
    .array(z.strictObject({ to: z.array(peer).optional(), ports: z.array(port).optional() }))
    .optional(),
});
type Spec = z.infer<typeof specSchema>;
type PeerIn = z.infer<typeof peer>;
type PortIn = z.infer<typeof port>;

const PROTOCOL_NAMES: readonly string[] = ["TCP", "UDP", "SCTP"];

interface Ctx {
  readonly namespace: string;
  readonly filter: KeyFilter;
  readonly problems: string[];
  readonly warnings: string[];
  readonly cidrs: string[];
}

export function parseNetworkPolicy(np: NetworkPolicy, filter: KeyFilter): ParsedPolicy {
  const namespace = np.metadata.namespace ?? "default";
  const name = np.metadata.name;
  const head = {
    ref: policyRef("NetworkPolicy", namespace, name),
    kind: "NetworkPolicy" as const,
    namespace,
    name,
  };
  const parsed = specSchema.safeParse(dropNulls(np.spec ?? {}));
  if (!parsed.success) return { ...head, rejected: zodProblems(parsed.error, "spec") };
  const spec = parsed.data;
  const ctx: Ctx = { namespace, filter, problems: [], warnings: [], cidrs: [] };
  const podSelector = spec.podSelector ?? {};
  ctx.problems.push(...checkSelector(podSelector, "spec.podSelector"));
  const types = policyTypes(spec, ctx.problems);
  const rules: Rule[] = [];
  for (const direction of ["ingress", "egress"] as const) {
    const list = spec[direction] ?? [];
    if (!types.has(direction)) {
      if (list.length > 0)
        ctx.warnings.push(
          `spec.${direction} is ignored: policyTypes does not list ${cap(direction)}`,
        );
      continue;
    }
    list.forEach((r, i) => {
      const peers = "from" in r ? r.from : (r as { to?: PeerIn[] }).to;
      rules.push(parseRule(direction, i, peers, r.ports, ctx));
    });
  }
  if (ctx.problems.length > 0) return { ...head, rejected: ctx.problems };
  const podMatch = compileSelector(podSelector);
  const compiled: CompiledPolicy = {
    ...head,
    subject: (s) => s.namespace === namespace && podMatch(s.pod),
    subjectText: `pods of ${namespace}${selText(" with ", podSelector)}`,
    ...requiredLabel(podSelector.matchLabels),
    isolates: { ingress: types.has("ingress"), egress: types.has("egress") },
    rules,
    cidrs: [...new Set(ctx.cidrs)].sort(),
    problems: ctx.warnings,
  };
  return compiled;
}

/** The subjectLabel of a selector requiring pod labels (the first, in key order). */
export function requiredLabel(
  matchLabels: Readonly<Record<string, string>> | undefined,
  keep: (key: string) => boolean = () => true,
): { subjectLabel?: string } {
  const first = Object.entries(matchLabels ?? {})
    .filter(([k]) => keep(k))
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))[0];
  return first ? { subjectLabel: `${first[0]}=${first[1]}` } : {};
}

function cap(d: Direction): string {
  return d === "ingress" ? "Ingress" : "Egress";
}

function policyTypes(spec: Spec, problems: string[]): Set<Direction> {
  if (spec.policyTypes === undefined || spec.policyTypes.length === 0) {
    const out = new Set<Direction>(["ingress"]);
    if ((spec.egress ?? []).length > 0) out.add("egress");
    return out;
  }
  const out = new Set<Direction>();
  spec.policyTypes.forEach((t, i) => {
    const d = t === "Ingress" ? "ingress" : t === "Egress" ? "egress" : undefined;
    if (!d) problems.push(`spec.policyTypes[${i}]: "${t}" is not Ingress or Egress`);
    else if (out.has(d)) problems.push(`spec.policyTypes[${i}]: ${t} is listed twice`);
    else out.add(d);
  });
  return out;
}

function parseRule(
  direction: Direction,
  index: number,
  peersIn: readonly PeerIn[] | undefined,
  portsIn: readonly PortIn[] | undefined,
  ctx: Ctx,
): Rule {
  const name = `${direction}[${index}]`;
  const field = direction === "ingress" ? "from" : "to";
  const at = `spec.${name}`;
  const peers: Peer[] =
    peersIn && peersIn.length > 0
      ? peersIn.flatMap((p, j) => parsePeer(p, `${at}.${field}[${j}]`, ctx))
      : [{ kind: "all" }];
  const ports =
    portsIn && portsIn.length > 0
      ? portsIn.flatMap((p, j) => parsePort(p, `${at}.ports[${j}]`, ctx.problems))
      : undefined;
  const peerText =
    peersIn && peersIn.length > 0 ? peersIn.map(describePeer).join(" | ") : "any peer";
  const portText = ports ? `ports ${ports.map(formatPortMatch).join(", ")}` : "any port";
  return {
    name,
    direction,
    action: "allow",
    peers,
    ...(ports ? { ports } : {}),
    text: `${field} ${peerText}; ${portText}`,
  };
}

function parsePeer(p: PeerIn, at: string, ctx: Ctx): Peer[] {
  const set = [p.podSelector, p.namespaceSelector, p.ipBlock].filter((x) => x !== undefined);
  if (set.length === 0) {
    ctx.problems.push(`${at}: must specify podSelector, namespaceSelector or ipBlock`);
    return [];
  }
  if (p.ipBlock) {
    if (set.length > 1) {
      ctx.problems.push(`${at}: ipBlock may not be combined with podSelector or namespaceSelector`);
      return [];
    }
    const checked = checkCidrSet(
      p.ipBlock.cidr,
      p.ipBlock.except ?? [],
      `${at}.ipBlock`,
      ctx.problems,
    );
    if (!checked) return [];
    ctx.cidrs.push(checked.cidr, ...checked.except);
    return [{ kind: "cidr", ...checked, pods: true }];
  }
  const before = ctx.problems.length;
  if (p.podSelector) ctx.problems.push(...checkSelector(p.podSelector, `${at}.podSelector`));
  if (p.namespaceSelector)
    ctx.problems.push(...checkSelector(p.namespaceSelector, `${at}.namespaceSelector`));
  if (ctx.problems.length > before) return [];
  for (const [sel, what] of [
    [p.podSelector, "podSelector"],
    [p.namespaceSelector, "namespaceSelector"],
  ] as const) {
    for (const key of sel ? selectorKeys(sel) : []) {
      if (!ctx.filter(key) && key !== "kubernetes.io/metadata.name")
        ctx.warnings.push(
          `${at}.${what}: label "${key}" is not a security label (identity.labels filter); it never matches`,
        );
    }
  }
  const pod: LabelsPredicate | undefined = p.podSelector
    ? (
        (m) => (s) =>
          m(s.pod)
      )(compileSelector(p.podSelector))
    : undefined;
  const ns: LabelsPredicate | undefined = p.namespaceSelector
    ? (
        (m) => (s) =>
          m(s.namespaceLabels)
      )(compileSelector(p.namespaceSelector))
    : undefined;
  const namespace = ctx.namespace;
  const match: LabelsPredicate =
    pod && ns ? (s) => ns(s) && pod(s) : ns ? ns : (s) => s.namespace === namespace && pod!(s);
  return [{ kind: "endpoints", match, text: describePeer(p) }];
}

function parsePort(p: PortIn, at: string, problems: string[]): PortMatch[] {
  const protocol = p.protocol ?? "TCP";
  const before = problems.length;
  if (!PROTOCOL_NAMES.includes(protocol))
    problems.push(`${at}.protocol: "${protocol}" is not TCP, UDP or SCTP`);
  if (typeof p.port === "number" && !isPortNumber(p.port))
    problems.push(`${at}.port: ${p.port} is not a port number (1-65535)`);
  if (typeof p.port === "string") {
    const why = svcNameProblem(p.port);
    if (why) problems.push(`${at}.port: named port "${p.port}" ${why}`);
  }
  if (p.endPort !== undefined) {
    if (typeof p.port !== "number") problems.push(`${at}.endPort: needs a numeric port`);
    else if (!isPortNumber(p.endPort) || p.endPort < p.port)
      problems.push(`${at}.endPort: ${p.endPort} must be a port number >= port ${p.port}`);
  }
  if (problems.length > before) return [];
  return [
    {
      protocol: protocol as Protocol,
      ...(p.port !== undefined ? { port: p.port } : {}),
      ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
    },
  ];
}

function selText(prefix: string, s: LabelSelector): string {
  const text = formatSelector(s);
  return text === "" ? "" : `${prefix}${text}`;
}

function describePeer(p: PeerIn): string {
  if (p.ipBlock) {
    const ex = p.ipBlock.except?.length ? ` except ${p.ipBlock.except.join(",")}` : "";
    return `ipBlock ${p.ipBlock.cidr}${ex}`;
  }
  const parts: string[] = [];
  if (p.namespaceSelector) parts.push(`namespaceSelector {${formatSelector(p.namespaceSelector)}}`);
  if (p.podSelector) parts.push(`podSelector {${formatSelector(p.podSelector)}}`);
  return parts.join(" + ");
}
