/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: what a router does to a packet it forwards itself, for the
 * forwarding programs that skip the host stack: decrement the TTL (or hop
 * limit) and rewrite the Ethernet addresses for the next hop. Plus the
 * address tests that keep link-scoped traffic with the host stack.
 *
 * The writes go straight to packet memory (tc allows direct packet writes;
 * the kernel unclones a cloned skb before the program runs), which is
 * cheaper than the store/csum helpers for a few bytes.
 */
#pragma once

#include "common.h"
#include "drop_reasons.h"
#include "parse.h"

/* __sk_buff.pkt_type for a frame addressed to the receiving interface's MAC
 * (PACKET_HOST in linux/if_packet.h). */
#define PKT_TYPE_HOST 0

/* l3_forward_hop() result when the TTL/hop limit would reach zero here. */
#define L3_TTL_EXPIRED 1

/* Decrements the IPv4 TTL and patches the header checksum incrementally (the
 * TTL is the high byte of a 16-bit word, so the sum changes by 0x0100: RFC
 * 1624, as the kernel's ip_decrease_ttl()). Returns 0, L3_TTL_EXPIRED
 * without touching the packet, or a negated drop reason. */
static __always_inline int ipv4_dec_ttl(struct __sk_buff *ctx, __u32 l3_off)
{
	struct iphdr *ip4 = pkt_header(ctx, l3_off, sizeof(*ip4));
	__u32 check;

	if (!ip4)
		return -(int)DROP_WRITE_ERROR;
	if (ip4->ttl <= 1)
		return L3_TTL_EXPIRED;
	check = (__u32)ip4->check + (__u32)bpf_htons(0x0100);
	ip4->check = (__sum16)(check + (check >= 0xffff));
	ip4->ttl--;
	return 0;
}

/* IPv6 has no header checksum: the hop limit is just decremented. Same
 * returns as ipv4_dec_ttl(). */
static __always_inline int ipv6_dec_hop_limit(struct __sk_buff *ctx, __u32 l3_off)
{
	struct ipv6hdr *ip6 = pkt_header(ctx, l3_off, sizeof(*ip6));

	if (!ip6)
		return -(int)DROP_WRITE_ERROR;
	if (ip6->hop_limit <= 1)
		return L3_TTL_EXPIRED;
	ip6->hop_limit--;
	return 0;
}

/* One routing hop at L3: 0, L3_TTL_EXPIRED (the caller leaves the packet to
 * the stack, which sends ICMP time exceeded) or a negated drop reason. */
static __always_inline int l3_forward_hop(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	if (pkt->family == L3_FAMILY_IPV4)
		return ipv4_dec_ttl(ctx, pkt->l3_off);
	return ipv6_dec_hop_limit(ctx, pkt->l3_off);
}

/* Writes the Ethernet source and destination. Returns 0 or a negated drop
 * reason. */
static __always_inline int eth_set_macs(struct __sk_buff *ctx, const __u8 *smac, const __u8 *dmac)
{
	struct ethhdr *eth = pkt_header(ctx, 0, sizeof(*eth));

	if (!eth)
		return -(int)DROP_WRITE_ERROR;
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	return 0;
}

/* fe80::/10 */
static __always_inline bool ipv6_is_link_local(const union ip_addr *a)
{
	return (a->v6[0] & bpf_htonl(0xffc00000)) == bpf_htonl(0xfe800000);
}

/* ff00::/8 */
static __always_inline bool ipv6_is_multicast(const union ip_addr *a)
{
	return (a->v6[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000);
}

static __always_inline bool ipv6_is_unspecified(const union ip_addr *a)
{
	return !(a->v6[0] | a->v6[1] | a->v6[2] | a->v6[3]);
}

/* True for traffic that belongs to the link and must stay with the host
 * stack: IPv6 to or from link-local addresses, to multicast, or from ::
 * (NDP, DAD, router solicitations), and IPv4 from 0.0.0.0 (DHCP). IPv4
 * 169.254/16 destinations are routed like any other: cloud metadata
 * services live there. */
static __always_inline bool pkt_is_link_scoped(const struct pkt_info *pkt)
{
	if (pkt->family == L3_FAMILY_IPV4)
		return pkt->saddr.v4 == 0;
	return ipv6_is_link_local(&pkt->saddr) || ipv6_is_unspecified(&pkt->saddr) ||
	       ipv6_is_link_local(&pkt->daddr) || ipv6_is_multicast(&pkt->daddr);
}
