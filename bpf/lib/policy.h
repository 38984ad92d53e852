/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: identity-based policy lookups (issue 5), the BPF mirror of
 * src/policy/evaluate.ts. Not wired into lxc.c/host.c yet: today only the
 * test fixture test/fixtures/bpf/policy_test.c runs it, and a test compares it
 * flow by flow with evaluate() on the conformance cases.
 *
 *   ipcache      LPM trie {prefixlen, family, pad, addr} -> peer identity
 *   policy map   LPM trie {prefixlen, identity, egress, protocol, dport} ->
 *                {verdict, kind, rule}; identity and direction always fully
 *                matched (40 bits), then the protocol (8), then the port's
 *                prefix bits (a port range is a few aligned blocks)
 *
 * A verdict is two lookups, whatever the number of rules: the peer's identity
 * and identity 0 ("any"). Deny in either wins; else an allow in either; else
 * the direction's isolation decides (isolated: deny, not: allow). Compilation
 * already turned allows inside a deny block into denies (src/policy/compile.ts),
 * so longest-prefix order never lets an allow hide a deny.
 */
#pragma once

#include "common.h"

#define POLICY_FIXED_PREFIX_BITS 40 /* identity (32) + direction (8) */

enum policy_verdict {
	POLICY_NONE = 0,
	POLICY_ALLOW = 1,
	POLICY_DENY = 2,
};

/* The trie matches bits from `family` on: family and padding are always
 * fully matched (32 bits), then the address's prefix. */
#define IPCACHE_FIXED_PREFIX_BITS 32

struct ipcache_key {
	__u32 prefixlen; /* IPCACHE_FIXED_PREFIX_BITS + address prefix bits */
	__u8 family;     /* enum l3_family */
	__u8 pad[3];     /* zero */
	union ip_addr addr;
};
BUILD_BUG_ON(sizeof(struct ipcache_key) != 24);

struct ipcache_value {
	__u32 identity;
};

struct policy_key {
	__u32 prefixlen; /* POLICY_FIXED_PREFIX_BITS [+ 8 protocol + port prefix bits] */
	__u32 identity;  /* host order; always fully matched */
	__u8 egress;     /* 1: egress, 0: ingress */
	__u8 protocol;   /* 0: any (then prefixlen is 40) */
	__be16 dport;
};
BUILD_BUG_ON(sizeof(struct policy_key) != 12);

struct policy_entry {
	__u8 verdict; /* enum policy_verdict */
	__u8 kind;    /* rule kind: 1 L3-only, 2 L3+L4, 3 L4-only, 4 all */
	__u16 pad;
	__u32 rule;   /* the agent's rule index, for verdict events */
};
BUILD_BUG_ON(sizeof(struct policy_entry) != 8);

/* The identity of `addr`, from the ipcache; 2 (world) when nothing matches. */
static __always_inline __u32 ipcache_identity(void *ipcache, __u8 family, const union ip_addr *addr)
{
	struct ipcache_key key = {
		.prefixlen = IPCACHE_FIXED_PREFIX_BITS + (family == L3_FAMILY_IPV4 ? 32 : 128),
		.family = family,
	};
	struct ipcache_value *v;

	key.addr = *addr;
	v = bpf_map_lookup_elem(ipcache, &key);
	return v ? v->identity : 2;
}

/* The longest-prefix entry for (identity, flow), or NULL. */
static __always_inline const struct policy_entry *policy_lookup(void *policy, __u32 identity,
								bool egress, __u8 protocol,
								__be16 dport)
{
	struct policy_key key = {
		.prefixlen = POLICY_FIXED_PREFIX_BITS + 8 + 16,
		.identity = identity,
		.egress = egress,
		.protocol = protocol,
		.dport = dport,
	};

	return bpf_map_lookup_elem(policy, &key);
}

/* The verdict for a flow: POLICY_ALLOW or POLICY_DENY; *decided gets the
 * deciding entry (NULL when isolation decided). */
static __always_inline int policy_verdict(void *policy, __u32 identity, bool egress, __u8 protocol,
					  __be16 dport, bool isolated,
					  const struct policy_entry **decided)
{
	const struct policy_entry *a = identity ? policy_lookup(policy, identity, egress, protocol, dport) : NULL;
	const struct policy_entry *b = policy_lookup(policy, 0, egress, protocol, dport);

	*decided = NULL;
	if (a && a->verdict == POLICY_DENY) {
		*decided = a;
		return POLICY_DENY;
	}
	if (b && b->verdict == POLICY_DENY) {
		*decided = b;
		return POLICY_DENY;
	}
	if (a || b) {
		*decided = a ? a : b;
		return POLICY_ALLOW;
	}
	return isolated ? POLICY_DENY : POLICY_ALLOW;
}
