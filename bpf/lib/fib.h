/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: forwarding off the node without the host stack.
 *
 * bpf_fib_lookup() asks the kernel's routing table (rules included) where a
 * packet would go; the answer is the egress interface, the next hop and,
 * when the neighbour table already knows it, the next hop's MAC. Then:
 *  - MAC known (BPF_FIB_LKUP_RET_SUCCESS): rewrite the Ethernet header and
 *    bpf_redirect() to the egress interface;
 *  - MAC unknown (BPF_FIB_LKUP_RET_NO_NEIGH): bpf_redirect_neigh() to the
 *    egress interface with the next hop, which resolves it through the
 *    neighbour subsystem (ARP/NDP, queueing the packet meanwhile) and builds
 *    the header itself;
 *  - anything else (a local address, no route, MTU exceeded, forwarding
 *    off): the packet goes to the host stack, which knows how to answer
 *    (ICMP unreachable, fragmentation needed, delivery to a node socket).
 *    Each of those is counted under its own FORWARD_PATH_STACK_*.
 * Either way the host's netfilter FORWARD hooks are not traversed.
 */
#pragma once

#include "common.h"
#include "drop_reasons.h"
#include "events.h"
#include "forward.h"
#include "l3.h"
#include "parse.h"

/* Address families as the FIB helpers want them (linux/socket.h, which we
 * cannot include under -target bpf). */
#define FIB_AF_INET 2
#define FIB_AF_INET6 10

/* Fills the lookup from the packet and asks the FIB. The ingress interface
 * is the one the program runs on (skb->ifindex at tc ingress): the lookup
 * then applies its forwarding sysctl and the routing rules matching iif.
 * Returns a BPF_FIB_LKUP_RET_* (>= 0) or a negative errno from the helper
 * (or -1 if the IP header vanished, which parse_packet() rules out). */
static __always_inline int fib_lookup_pkt(struct __sk_buff *ctx, const struct pkt_info *pkt,
					  struct bpf_fib_lookup *fib)
{
	fib->ifindex = ctx->ifindex;
	fib->l4_protocol = pkt->l4_proto;
	fib->sport = pkt->sport;
	fib->dport = pkt->dport;
	if (pkt->family == L3_FAMILY_IPV4) {
		struct iphdr *ip4 = pkt_header(ctx, pkt->l3_off, sizeof(*ip4));

		if (!ip4)
			return -1;
		fib->family = FIB_AF_INET;
		fib->tos = ip4->tos;
		fib->tot_len = fw_ntohs(ip4->tot_len);
		fib->ipv4_src = pkt->saddr.v4;
		fib->ipv4_dst = pkt->daddr.v4;
	} else {
		struct ipv6hdr *ip6 = pkt_header(ctx, pkt->l3_off, sizeof(*ip6));

		if (!ip6)
			return -1;
		fib->family = FIB_AF_INET6;
		/* Traffic class and flow label: the first word minus the version. */
		fib->flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		fib->tot_len = fw_ntohs(ip6->payload_len) + sizeof(*ip6);
		__builtin_memcpy(fib->ipv6_src, &pkt->saddr, sizeof(fib->ipv6_src));
		__builtin_memcpy(fib->ipv6_dst, &pkt->daddr, sizeof(fib->ipv6_dst));
	}
	return (int)bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* The FORWARD_PATH_STACK_* for a FIB answer that is not a next hop. */
static __always_inline enum forward_path fib_stack_reason(int fib_ret)
{
	switch (fib_ret) {
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return FORWARD_PATH_STACK_NO_ROUTE;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return FORWARD_PATH_STACK_FIB_LOCAL;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return FORWARD_PATH_STACK_FWD_DISABLED;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return FORWARD_PATH_STACK_FRAG_NEEDED;
	default:
		return FORWARD_PATH_STACK_FIB_OTHER;
	}
}

/* Sends the packet to the FIB's next hop (see the top). `fib_ret` is SUCCESS
 * or NO_NEIGH. Returns TC_ACT_REDIRECT or a negated drop reason. */
static __always_inline int fib_redirect(struct __sk_buff *ctx, const struct bpf_fib_lookup *fib,
					int fib_ret, struct fwd_state *st)
{
	struct bpf_redir_neigh nh = {};
	long ret;

	if (fib_ret == BPF_FIB_LKUP_RET_SUCCESS) {
		int err = eth_set_macs(ctx, fib->smac, fib->dmac);

		if (err < 0)
			return err;
		st->path = FORWARD_PATH_FIB;
		ret = bpf_redirect(fib->ifindex, 0);
	} else {
		/* The lookup left the next hop in *_dst (the gateway, or the
		 * destination itself on a connected route), in fib->family:
		 * an IPv4 route may have an IPv6 next hop (RFC 5549). */
		nh.nh_family = fib->family;
		if (fib->family == FIB_AF_INET)
			nh.ipv4_nh = fib->ipv4_dst;
		else
			__builtin_memcpy(nh.ipv6_nh, fib->ipv6_dst, sizeof(nh.ipv6_nh));
		st->path = FORWARD_PATH_FIB_NEIGH;
		ret = bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
	}
	if (ret != TC_ACT_REDIRECT)
		return fwd_drop(DROP_REDIRECT);
	return TC_ACT_REDIRECT;
}

/* Routes a packet off the node (or to a pod the endpoint map does not know)
 * by the FIB. Returns a tc verdict or a negated drop reason; st->path says
 * which way it went. */
static __always_inline int fib_forward(struct __sk_buff *ctx, const struct pkt_info *pkt,
				       struct fwd_state *st)
{
	struct bpf_fib_lookup fib = {};
	int ret = fib_lookup_pkt(ctx, pkt, &fib);
	int hop;

	if (ret < 0)
		return fwd_drop(DROP_FIB_LOOKUP);
	if (ret != BPF_FIB_LKUP_RET_SUCCESS && ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return to_stack(st, fib_stack_reason(ret));

	/* A hop the stack would take: TTL first, so an expiring packet is
	 * still untouched when the stack builds its ICMP error. */
	hop = l3_forward_hop(ctx, pkt);
	if (hop < 0)
		return hop;
	if (hop == L3_TTL_EXPIRED)
		return to_stack(st, FORWARD_PATH_STACK_TTL);
	return fib_redirect(ctx, &fib, ret, st);
}
