// The engine's state as text, in one format for goldens, `fairway policy
// get|list|matrix|trace` and bug reports.

import type { Identity, IdentityTable } from "../identity/index.ts";
import type { FlowDecision, FlowEnd, MatrixFlow, SideDecision } from "./flows.ts";
import type { DirectionPolicy, EndpointPolicy, PolicyEntry, PolicyStatus } from "./types.ts";

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 6: "TCP", 17: "UDP", 132: "SCTP" };

export function table(headers: readonly string[], rows: readonly string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("   ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

/** "ANY", "any port/TCP" (printed "*\/TCP"), "80/TCP", "80-81/UDP". */
export function formatPortProto(
  e: Pick<PolicyEntry, "protocol" | "port" | "portPrefixLen" | "endPort">,
): string {
  if (e.protocol === 0) return "ANY";
  const proto = PROTOCOL_NAMES[e.protocol] ?? String(e.protocol);
  if (e.portPrefixLen === 0) return `*/${proto}`;
  return e.endPort === e.port ? `${e.port}/${proto}` : `${e.port}-${e.endPort}/${proto}`;
}

/** Short labels of an identity: "ANY", "reserved:world", "cidr:10.0.0.0/8", "x: pod=a". */
export function identityText(id: number, identities: IdentityTable): string {
  if (id === 0) return "ANY";
  const i: Identity | undefined = identities.byId.get(id);
  if (!i) return "(unknown)";
  if (i.kind === "endpoint") {
    const labels = Object.entries(i.security!.pod).map(([k, v]) => `${k}=${v}`);
    return `${i.security!.namespace}: ${labels.join(",") || "(no labels)"}`;
  }
  return i.labels[0]!;
}

function directionText(name: string, d: DirectionPolicy, identities: IdentityTable): string {
  const head = d.isolated
    ? `${name}: isolated by ${d.isolatedBy.join(", ")}: what no entry allows is denied`
    : `${name}: not isolated: allowed unless an entry denies`;
  if (d.entries.length === 0) return `${head}\n  (no entries)\n`;
  const rows = d.entries.map((e) => [
    e.verdict,
    String(e.identity),
    identityText(e.identity, identities),
    formatPortProto(e),
    e.kind,
    e.origins.map((o) => `${o.policy} ${o.rule}`).join(", "),
  ]);
  const body = table(["VERDICT", "IDENTITY", "LABELS", "PORT/PROTO", "KIND", "FROM"], rows);
  return `${head}\n${body.replace(/^/gm, "  ")}`;
}

/** An endpoint's policy map, as `cilium bpf policy get` shows one. */
export function formatEndpointPolicy(ep: EndpointPolicy, identities: IdentityTable): string {
  return (
    [
      `endpoint ${ep.endpoint} identity ${ep.identity}`,
      directionText("ingress", ep.ingress, identities).trimEnd(),
      directionText("egress", ep.egress, identities).trimEnd(),
    ].join("\n") + "\n"
  );
}

export function formatPolicyStatuses(policies: readonly PolicyStatus[]): string {
  const rows = policies.map((p) => [
    p.ref,
    p.kind,
    p.state,
    p.state === "accepted" ? String(p.endpoints) : "-",
    p.state === "rejected" ? (p.reason ?? "") : p.problems.join("; "),
  ]);
  return table(["POLICY", "KIND", "STATE", "ENDPOINTS", "REASON / PROBLEMS"], rows);
}

/** A grid per port/protocol: rows are sources, columns destinations; "." allowed, "X" denied. */
export function formatMatrix(flows: readonly MatrixFlow[]): string {
  const groups = new Map<string, MatrixFlow[]>();
  for (const f of flows) {
    const k = `${f.port}/${f.protocol}`;
    const g = groups.get(k);
    if (g) g.push(f);
    else groups.set(k, [f]);
  }
  const out: string[] = [];
  for (const [k, fs] of groups) {
    const pods = [...new Set(fs.map((f) => f.from))];
    const allowed = fs.filter((f) => f.allowed).length;
    const verdict = new Map(fs.map((f) => [`${f.from} ${f.to}`, f.allowed]));
    const rows = pods.map((from) => [
      from,
      ...pods.map((to) => (verdict.get(`${from} ${to}`) ? "." : "X")),
    ]);
    out.push(
      `${k}: ${allowed} of ${fs.length} allowed ("." allowed, "X" denied; rows from, columns to)`,
    );
    out.push(table(["from\\to", ...pods], rows).trimEnd());
  }
  return `${out.join("\n")}\n`;
}

function endText(e: FlowEnd, identities: IdentityTable): string {
  const who = e.pod ?? e.address ?? "?";
  const addr = e.pod && e.address ? ` (${e.address})` : "";
  return `${who}${addr} [identity ${e.identity} ${identityText(e.identity, identities)}]`;
}

type RuleText = (policy: string, rule: string) => string | undefined;

function sideText(
  s: SideDecision | undefined,
  what: string,
  identities: IdentityTable,
  ruleText: RuleText,
): string[] {
  if (!s) return [`  ${what}: not an endpoint of the input: not checked`];
  const v = s.verdict;
  const head = `  ${s.direction} of ${s.endpoint}: ${v.allowed ? "allowed" : "DENIED"}`;
  switch (v.reason) {
    case "not-isolated":
      return [`${head}: no policy isolates ${s.direction} of ${s.endpoint}`];
    case "default-deny":
      return [
        `${head}: isolated by ${v.policies.join(", ")}; no entry allows identity ${s.peerIdentity}`,
      ];
    default: {
      const e = v.entry!;
      const who =
        e.identity === 0 ? "ANY" : `${e.identity} (${identityText(e.identity, identities)})`;
      const lines = [
        `${head} by ${v.rules.map((r) => `${r.policy} ${r.rule}`).join(", ")}`,
        `    entry: ${e.verdict} identity ${who} ${formatPortProto(e)} (${e.kind})`,
      ];
      for (const r of v.rules) {
        const text = ruleText(r.policy, r.rule);
        if (text) lines.push(`    ${r.policy} ${r.rule}: ${text}`);
      }
      return lines;
    }
  }
}

/** `fairway policy trace` output: the verdict, then each side and what decided it. */
export function formatDecision(
  d: FlowDecision,
  identities: IdentityTable,
  ruleText: RuleText = () => undefined,
): string {
  const lines = [
    `${endText(d.from, identities)} -> ${endText(d.to, identities)} ${d.port}/${d.protocol}: ${d.allowed ? "ALLOWED" : "DENIED"}`,
  ];
  if (d.loopback) {
    lines.push(
      "  loopback: a pod reaching itself never leaves its network namespace; always allowed",
    );
  } else {
    lines.push(...sideText(d.egress, "egress of the source", identities, ruleText));
    lines.push(...sideText(d.ingress, "ingress of the destination", identities, ruleText));
  }
  return `${lines.join("\n")}\n`;
}
