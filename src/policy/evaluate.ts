// evaluate(): a flow's verdict from an endpoint's policy map alone (not from
// the policies), with the lookups the datapath makes:
//
//   a = LPM(direction, peer identity, protocol, port)    one LPM trie lookup
//   b = LPM(direction, 0 (any),       protocol, port)    one LPM trie lookup
//   where LPM returns the longest match among: {proto, port/16}, the port
//   blocks containing the port {proto, port/15..1}, {proto, any port}, then
//   {any protocol}.
//   deny  if a or b is a deny entry;
//   allow if a or b is an allow entry (the one with the longer port prefix
//         decides, the peer's identity on a tie);
//   else  deny when the direction is isolated, allow when it is not.
//
// Here each LPM lookup is emulated with at most 18 hash probes (prefix
// lengths 16..0, then "any protocol"); the BPF LPM trie does it in one.

import { KeyIndex, l4Key } from "./lookup.ts";
import {
  type DirectionPolicy,
  type EndpointPolicy,
  type Flow,
  type PolicyEntry,
  PROTOCOL_NUMBERS,
  type Protocol,
  type Verdict,
} from "./types.ts";

const indexes = new WeakMap<DirectionPolicy, KeyIndex<PolicyEntry>>();

function indexOf(policy: DirectionPolicy): KeyIndex<PolicyEntry> {
  let index = indexes.get(policy);
  if (!index) {
    index = new KeyIndex();
    for (const e of policy.entries) index.set(e, e);
    indexes.set(policy, index);
  }
  return index;
}

export function protocolNumber(p: Protocol | number): number {
  return typeof p === "number" ? p : PROTOCOL_NUMBERS[p];
}

/** The longest-prefix match for one identity, as one BPF LPM lookup finds it. */
export function lookupEntry(
  policy: DirectionPolicy,
  flow: Flow,
  identity: number,
): PolicyEntry | undefined {
  const entries = indexOf(policy).identity(identity);
  if (!entries) return undefined;
  const protocol = protocolNumber(flow.protocol);
  if (protocol !== 0) {
    for (let len = 16; len >= 0; len--) {
      const port = len === 0 ? 0 : (flow.port >>> (16 - len)) << (16 - len);
      const e = entries.get(l4Key(protocol, port, len));
      if (e) return e;
    }
  }
  return entries.get(l4Key(0, 0, 0));
}

/** The verdict of `flow` under one endpoint's policy (its direction's half). */
export function evaluate(policy: EndpointPolicy | DirectionPolicy, flow: Flow): Verdict {
  const dp = "entries" in policy ? policy : policy[flow.direction];
  const a = flow.identity === 0 ? undefined : lookupEntry(dp, flow, flow.identity);
  const b = lookupEntry(dp, flow, 0);
  const deny = a?.verdict === "deny" ? a : b?.verdict === "deny" ? b : undefined;
  if (deny) return decided(false, "denied", deny);
  const allow = a && b ? (specificity(b) > specificity(a) ? b : a) : (a ?? b);
  if (allow) return decided(true, "allowed", allow);
  if (dp.isolated) {
    return { allowed: false, reason: "default-deny", policies: dp.isolatedBy, rules: [] };
  }
  return { allowed: true, reason: "not-isolated", policies: [], rules: [] };
}

/** How much of the L4 part an entry pins down: any protocol < any port < a block < one port. */
function specificity(e: PolicyEntry): number {
  return e.protocol === 0 ? -1 : e.portPrefixLen;
}

function decided(allowed: boolean, reason: "allowed" | "denied", entry: PolicyEntry): Verdict {
  return {
    allowed,
    reason,
    entry,
    policies: [...new Set(entry.origins.map((o) => o.policy))],
    rules: entry.origins,
  };
}
