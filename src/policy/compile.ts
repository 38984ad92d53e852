// One endpoint's policy map from the policies that select it: every rule's
// peers (identities) x ports (LPM blocks) become keyed entries, unioned over
// rules and policies; then deny is made to win under longest-prefix lookups:
// an allow entry lying inside a deny entry of the same identity (a broader
// port block, or "any protocol") turns into that deny, so the longest match a
// lookup finds is never an allow that a deny covers. Across identities (the
// peer's and 0) the lookup itself lets deny win (evaluate.ts).

import type { SecurityLabels } from "../identity/index.ts";
import { KeyIndex } from "./lookup.ts";
import type { CompiledPolicy, Rule } from "./model.ts";
import { type ContainerPortInfo, type PeerContext, type PodInfo, resolvePeer } from "./peers.ts";
import { blockEnd, maskPort, type PortMatch, portBlocks } from "./ports.ts";
import {
  type Direction,
  type DirectionPolicy,
  type EndpointPolicy,
  type PolicyEntry,
  type PolicyKey,
  PROTOCOL_NUMBERS,
  PROTOCOLS,
  type RuleKind,
  type RuleRef,
} from "./types.ts";

export interface EndpointSubject {
  readonly key: string;
  readonly identity: number;
  /** Unfiltered labels: policies select their subjects on these. */
  readonly labels: SecurityLabels;
  readonly pod: PodInfo;
}

interface Block {
  readonly protocol: number;
  readonly port: number;
  readonly prefixLen: number;
}

interface Acc {
  readonly key: PolicyKey;
  readonly allow: RuleRef[];
  readonly deny: RuleRef[];
  /** "allow|deny <policy> <rule>" already recorded. */
  readonly seen: Set<string>;
}

const ANY_BLOCK: Block = { protocol: 0, port: 0, prefixLen: 0 };

export function ruleKind(identity: number, protocol: number): RuleKind {
  if (identity !== 0) return protocol === 0 ? "L3-only" : "L3+L4";
  return protocol === 0 ? "all" : "L4-only";
}

/** Policy problems found while compiling (ipBlocks splitting identities), by policy ref. */
export type CompileProblems = Map<string, Set<string>>;

/** `policies`: the accepted policies that select this endpoint (see selectingPolicies). */
export function compileEndpoint(
  subject: EndpointSubject,
  policies: readonly CompiledPolicy[],
  ctx: PeerContext,
  problems: CompileProblems = new Map(),
): EndpointPolicy {
  const accs: Record<Direction, { list: Acc[]; index: KeyIndex<Acc> }> = {
    ingress: { list: [], index: new KeyIndex() },
    egress: { list: [], index: new KeyIndex() },
  };
  const isolatedBy: Record<Direction, string[]> = { ingress: [], egress: [] };
  for (const policy of policies) {
    for (const d of ["ingress", "egress"] as const)
      if (policy.isolates[d]) isolatedBy[d].push(policy.ref);
    for (const rule of policy.rules) addRule(rule, { policy: policy.ref, rule: rule.name });
  }
  return {
    endpoint: subject.key,
    identity: subject.identity,
    ingress: finish("ingress"),
    egress: finish("egress"),
  };

  function addRule(rule: Rule, ref: RuleRef): void {
    const ids = new Set<number>();
    for (const peer of rule.peers) {
      const r = resolvePeer(peer, ctx);
      for (const id of r.ids) ids.add(id);
      for (const p of r.problems) {
        const set = problems.get(ref.policy) ?? new Set<string>();
        problems.set(ref.policy, set);
        set.add(`${rule.name}: ${p}`);
      }
    }
    const numeric = rule.ports?.filter((p) => typeof p.port !== "string");
    const named = rule.ports?.filter((p) => typeof p.port === "string") ?? [];
    for (const id of ids) {
      const blocks: Block[] =
        rule.ports === undefined ? [ANY_BLOCK] : numeric!.flatMap(numericBlocks);
      for (const b of blocks) add(rule, ref, id, b);
      if (named.length === 0) continue;
      if (rule.direction === "ingress") {
        for (const b of named.flatMap((p) => namedBlocks(p, [subject.pod]))) add(rule, ref, id, b);
      } else {
        // Egress: the name is resolved on the destination's pods; "any peer" means every pod.
        for (const dest of id === 0 ? ctx.endpointIds : [id]) {
          const pods = ctx.podsByIdentity.get(dest) ?? [];
          for (const b of named.flatMap((p) => namedBlocks(p, pods))) add(rule, ref, dest, b);
        }
      }
    }
  }

  function add(rule: Rule, ref: RuleRef, identity: number, b: Block): void {
    const key: PolicyKey = {
      direction: rule.direction,
      identity,
      protocol: b.protocol,
      port: b.port,
      portPrefixLen: b.prefixLen,
    };
    const dir = accs[rule.direction];
    let acc = dir.index.get(identity, b.protocol, b.port, b.prefixLen);
    if (!acc) {
      acc = { key, allow: [], deny: [], seen: new Set() };
      dir.index.set(key, acc);
      dir.list.push(acc);
    }
    const seen = `${rule.action} ${ref.policy} ${ref.rule}`;
    if (acc.seen.has(seen)) return;
    acc.seen.add(seen);
    (rule.action === "allow" ? acc.allow : acc.deny).push(ref);
  }

  function finish(direction: Direction): DirectionPolicy {
    const { list, index } = accs[direction];
    const entries = list.map((a): PolicyEntry => {
      const cover = a.deny.length > 0 ? a : coveringDeny(a.key, index);
      const verdict = cover ? "deny" : "allow";
      return {
        ...a.key,
        verdict,
        endPort: a.key.protocol === 0 ? 65_535 : blockEnd(a.key.port, a.key.portPrefixLen),
        kind: ruleKind(a.key.identity, a.key.protocol),
        origins: sortRefs(cover ? cover.deny : a.allow),
      };
    });
    entries.sort(compareKeys);
    return {
      isolated: isolatedBy[direction].length > 0,
      isolatedBy: [...isolatedBy[direction]].sort(),
      entries,
    };
  }
}

/** A deny entry of the same direction and identity whose block contains `key`'s. */
function coveringDeny(key: PolicyKey, index: KeyIndex<Acc>): Acc | undefined {
  if (key.protocol === 0) return undefined;
  for (let len = key.portPrefixLen - 1; len >= 0; len--) {
    const acc = index.get(key.identity, key.protocol, maskPort(key.port, len), len);
    if (acc && acc.deny.length > 0) return acc;
  }
  const any = index.get(key.identity, 0, 0, 0);
  return any && any.deny.length > 0 ? any : undefined;
}

function protocolsOf(p: PortMatch): number[] {
  return p.protocol === "ANY"
    ? PROTOCOLS.map((n) => PROTOCOL_NUMBERS[n])
    : [PROTOCOL_NUMBERS[p.protocol]];
}

function numericBlocks(p: PortMatch): Block[] {
  if (p.port === undefined) {
    return p.protocol === "ANY"
      ? [ANY_BLOCK]
      : [{ protocol: PROTOCOL_NUMBERS[p.protocol], port: 0, prefixLen: 0 }];
  }
  const lo = p.port as number;
  const blocks = portBlocks(lo, p.endPort ?? lo);
  return protocolsOf(p).flatMap((protocol) => blocks.map((b) => ({ protocol, ...b })));
}

function namedBlocks(p: PortMatch, pods: readonly PodInfo[]): Block[] {
  const out: Block[] = [];
  const matches = (c: ContainerPortInfo) =>
    c.name === p.port && (p.protocol === "ANY" || c.protocol === p.protocol);
  for (const pod of pods) {
    for (const c of pod.ports.filter(matches)) {
      out.push({ protocol: PROTOCOL_NUMBERS[c.protocol], port: c.port, prefixLen: 16 });
    }
  }
  return out;
}

function sortRefs(refs: readonly RuleRef[]): RuleRef[] {
  return [...refs].sort((a, b) => cmp(a.policy, b.policy) || cmp(a.rule, b.rule));
}

export function compareKeys(a: PolicyKey, b: PolicyKey): number {
  return (
    a.identity - b.identity ||
    a.protocol - b.protocol ||
    a.port - b.port ||
    a.portPrefixLen - b.portPrefixLen
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
