/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: bounds-checked packet parsing for tc programs.
 *
 * parse_packet() walks Ethernet -> IPv4 (honouring IHL, so IP options are
 * skipped correctly) or IPv6 (skipping up to IPV6_MAX_EXT_HDRS extension
 * headers) -> TCP / UDP / ICMP / ICMPv6 and fills a small struct pkt_info.
 * It only reads: it never changes packet bytes.
 *
 * Every header is reached through pkt_header(), which checks the header lies
 * inside [data, data_end) before handing out a pointer. If the header is
 * inside the skb but not in its linear part (a paged skb from GRO or a
 * zero-copy sender), it pulls exactly that much into the linear part once
 * and retries; a header that is past skb->len is truncated for real.
 * Consequence for callers: bpf_skb_pull_data() invalidates every packet
 * pointer, so a pointer from pkt_header() is only good until the next call.
 * The parse helpers copy the fields they need into pkt_info right away.
 *
 * Not handled (yet), by design: in-band VLAN tags (tc normally sees them
 * already stripped into skb->vlan_tci), tunnels, IPv4 options content.
 */
#pragma once

#include "common.h"
#include "drop_reasons.h"

/* How far parse_packet() got. Always > 0; drop reasons are returned negated
 * (< 0), Cilium-style, so one int carries either. */
enum parse_status {
	PARSE_L2 = 1, /* not IPv4/IPv6: only eth_proto is valid */
	PARSE_L3 = 2, /* IP header parsed; no L4 header (non-first fragment, or an L4 protocol not parsed here) */
	PARSE_L4 = 3, /* IP and TCP/UDP/ICMP/ICMPv6 header parsed */
};

static __always_inline int parse_error(enum drop_reason reason)
{
	return -(int)reason;
}

static __always_inline bool parse_failed(int ret)
{
	return ret < 0;
}

static __always_inline enum drop_reason parse_drop_reason(int ret)
{
	return ret < 0 ? (enum drop_reason)(-ret) : DROP_NONE;
}

/* Largest header offset we ever ask for. Bounding the offset keeps the
 * verifier's range tracking for variable-offset packet pointers small (it
 * rejects offsets it cannot prove below 64 KiB). 14 + 40 + four extension
 * headers of up to 2 KiB each fits. */
#define PARSE_MAX_OFF 9000

/* IPv6 extension headers skipped before giving up on finding L4. Four covers
 * hop-by-hop + routing + fragment + destination options; more is unusual and
 * reported as PARSE_L3, not as malformed. */
#define IPV6_MAX_EXT_HDRS 4

/* IPv4 frag_off field (host order): fragment offset mask. Kernel-internal
 * in net/ip.h, so spelled out here. */
#define IPV4_FRAG_OFFSET_MASK 0x1fff
/* IPv6 fragment header frag_off (host order): offset in the top 13 bits. */
#define IPV6_FRAG_OFFSET_MASK 0xfff8

/* IPv6 fragment header (RFC 8200, 4.5). The kernel's struct frag_hdr lives
 * in net/ipv6.h, which is not UAPI. */
struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/* Every IPv6 extension header is at least 8 bytes long. */
#define IPV6_EXT_HDR_MIN_LEN 8

/* What parse_packet() learned. Addresses and ports keep network byte order. */
struct pkt_info {
	union ip_addr saddr;
	union ip_addr daddr;
	__be16 eth_proto; /* EtherType */
	__be16 sport;     /* TCP/UDP source port; 0 otherwise */
	__be16 dport;     /* TCP/UDP destination port; 0 otherwise */
	__u16 l3_off;     /* offset of the IP header from the start of the frame */
	__u16 l4_off;     /* offset of the L4 header; 0 when there is none */
	__u8 family;      /* enum l3_family */
	__u8 l4_proto;    /* IPPROTO_*, after IPv6 extension headers; 0 when not IP */
	__u8 tcp_flags;   /* TCP flags byte (FIN=0x01 ... CWR=0x80); 0 otherwise */
	__u8 icmp_type;   /* ICMP/ICMPv6 type; 0 otherwise */
	__u8 icmp_code;   /* ICMP/ICMPv6 code; 0 otherwise */
	__u8 fragment;    /* 1 when this is a non-first IP fragment */
};

/* skb->data and skb->data_end as pointers, loaded with inline asm.
 *
 * Two clang habits break the verifier's pointer tracking when these fields
 * are read with plain C more than once (every pkt_header() call, and again
 * after bpf_skb_pull_data()):
 *  - the fields are __u32 in struct __sk_buff (the verifier rewrites the
 *    load into a 64-bit pointer load); clang knows the value is a
 *    zero-extended u32 and may re-extend it with a 32-bit move (`w0 = w3`)
 *    before adding an offset, which turns the packet pointer into a scalar:
 *    "R0 invalid mem access 'scalar'";
 *  - clang hoists `ctx + offsetof(data)` into a register and loads through
 *    it, which the verifier refuses: "dereference of modified ctx ptr".
 * One asm load with the offset as an immediate gives exactly the instruction
 * the verifier expects, and an opaque 64-bit result. */
#define CTX_LOAD_U32_PTR(ctx, field)                                          \
	({                                                                    \
		void *__ptr;                                                  \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                         \
			     : "=r"(__ptr)                                    \
			     : "r"(ctx), "i"(offsetof(struct __sk_buff, field))); \
		__ptr;                                                        \
	})

static __always_inline void *ctx_data(const struct __sk_buff *ctx)
{
	return CTX_LOAD_U32_PTR(ctx, data);
}

static __always_inline void *ctx_data_end(const struct __sk_buff *ctx)
{
	return CTX_LOAD_U32_PTR(ctx, data_end);
}

/* Returns a pointer to `len` bytes at `off` from the start of the frame, or
 * NULL when the skb is shorter than off + len. The pointer is valid until the
 * next pkt_header() call (a pull invalidates packet pointers). */
static __always_inline void *pkt_header(struct __sk_buff *ctx, __u32 off, __u32 len)
{
	void *hdr;

	if (off > PARSE_MAX_OFF)
		return NULL;
	hdr = ctx_data(ctx) + off;
	if (likely(hdr + len <= ctx_data_end(ctx)))
		return hdr;

	/* Not in the linear part. Past the end of the skb: truncated. Inside it:
	 * paged data, pull it in and look again. */
	if (off + len > ctx->len)
		return NULL;
	if (bpf_skb_pull_data(ctx, off + len) < 0)
		return NULL;
	hdr = ctx_data(ctx) + off;
	if (hdr + len > ctx_data_end(ctx))
		return NULL;
	return hdr;
}

/* TCP / UDP / ICMP / ICMPv6 at pkt->l4_off. Returns PARSE_L4, PARSE_L3 for a
 * protocol we do not parse, or a negated drop reason. */
static __always_inline int parse_l4(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	__u32 off = pkt->l4_off;

	switch (pkt->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = pkt_header(ctx, off, sizeof(*tcp));

		if (!tcp)
			return parse_error(DROP_TRUNCATED_L4);
		if (tcp->doff < 5)
			return parse_error(DROP_INVALID_TCP_HDR_LEN);
		pkt->sport = tcp->source;
		pkt->dport = tcp->dest;
		/* The flags byte follows doff/res1 in the header: byte 13. */
		pkt->tcp_flags = ((__u8 *)tcp)[13];
		return PARSE_L4;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = pkt_header(ctx, off, sizeof(*udp));

		if (!udp)
			return parse_error(DROP_TRUNCATED_L4);
		pkt->sport = udp->source;
		pkt->dport = udp->dest;
		return PARSE_L4;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		/* ICMP and ICMPv6 share the layout of the first 8 bytes (type, code,
		 * checksum, rest-of-header); 8 is the smallest valid message. */
		struct icmphdr *icmp = pkt_header(ctx, off, sizeof(*icmp));

		if (!icmp)
			return parse_error(DROP_TRUNCATED_L4);
		pkt->icmp_type = icmp->type;
		pkt->icmp_code = icmp->code;
		return PARSE_L4;
	}
	default:
		return PARSE_L3;
	}
}

/* IPv4 at pkt->l3_off. Returns a parse_status or a negated drop reason. */
static __always_inline int parse_ipv4(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	struct iphdr *ip4 = pkt_header(ctx, pkt->l3_off, sizeof(*ip4));
	__u32 hdr_len, tot_len;

	if (!ip4)
		return parse_error(DROP_TRUNCATED_IPV4);
	/* Record who sent it before judging the header: a malformed packet's
	 * event is most useful with its addresses. */
	pkt->family = L3_FAMILY_IPV4;
	pkt->l4_proto = ip4->protocol;
	pkt->saddr.v4 = ip4->saddr;
	pkt->daddr.v4 = ip4->daddr;
	if (ip4->version != 4)
		return parse_error(DROP_INVALID_IPV4_VERSION);
	if (ip4->ihl < 5)
		return parse_error(DROP_INVALID_IPV4_HDR_LEN);
	hdr_len = ip4->ihl * 4;
	tot_len = fw_ntohs(ip4->tot_len);
	/* tot_len 0 is legal on BIG TCP GSO packets (> 64 KiB, Linux 6.3+): the
	 * real length is skb->len. Anything else below the header is bogus. */
	if (tot_len != 0 && tot_len < hdr_len)
		return parse_error(DROP_INVALID_IPV4_TOT_LEN);

	pkt->fragment = (fw_ntohs(ip4->frag_off) & IPV4_FRAG_OFFSET_MASK) != 0;

	/* The options must be there too, even though we skip their content:
	 * otherwise "L4" would be read from beyond the packet. */
	if (!pkt_header(ctx, pkt->l3_off, hdr_len))
		return parse_error(DROP_TRUNCATED_IPV4);
	pkt->l4_off = pkt->l3_off + hdr_len;

	/* Non-first fragments carry payload where L4 would be: no ports. */
	if (pkt->fragment)
		return PARSE_L3;
	return parse_l4(ctx, pkt);
}

/* Skips IPv6 extension headers starting at pkt->l4_off with next header
 * pkt->l4_proto. Returns PARSE_L4 when an upper-layer header follows,
 * PARSE_L3 when there is none to parse, or a negated drop reason. */
static __always_inline int skip_ipv6_ext_hdrs(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	__u32 off = pkt->l4_off;
	int i;

#pragma unroll
	for (i = 0; i < IPV6_MAX_EXT_HDRS; i++) {
		__u8 nexthdr = pkt->l4_proto;
		struct ipv6_opt_hdr *ext;
		__u32 len;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			break;
		case IPPROTO_NONE:
			return PARSE_L3;
		default:
			pkt->l4_off = off;
			return PARSE_L4;
		}

		ext = pkt_header(ctx, off, IPV6_EXT_HDR_MIN_LEN);
		if (!ext)
			return parse_error(DROP_TRUNCATED_IPV6_EXT_HDR);
		if (nexthdr == IPPROTO_FRAGMENT) {
			struct ipv6_frag_hdr *frag = (void *)ext;

			if (fw_ntohs(frag->frag_off) & IPV6_FRAG_OFFSET_MASK)
				pkt->fragment = 1;
			len = sizeof(*frag);
		} else if (nexthdr == IPPROTO_AH) {
			/* AH counts its length in 4-byte units, minus 2 (RFC 4302). */
			len = (ext->hdrlen + 2) << 2;
		} else {
			/* The others count 8-byte units, not including the first 8. */
			len = (ext->hdrlen + 1) << 3;
		}
		pkt->l4_proto = ext->nexthdr;
		off += len;
		if (pkt->fragment) {
			pkt->l4_off = off;
			return PARSE_L3;
		}
	}
	/* Too many extension headers: not malformed, just more than we walk. */
	return PARSE_L3;
}

/* IPv6 at pkt->l3_off. Returns a parse_status or a negated drop reason. */
static __always_inline int parse_ipv6(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	struct ipv6hdr *ip6 = pkt_header(ctx, pkt->l3_off, sizeof(*ip6));
	int ret;

	if (!ip6)
		return parse_error(DROP_TRUNCATED_IPV6);
	pkt->family = L3_FAMILY_IPV6;
	pkt->l4_proto = ip6->nexthdr;
	__builtin_memcpy(&pkt->saddr, &ip6->saddr, sizeof(pkt->saddr));
	__builtin_memcpy(&pkt->daddr, &ip6->daddr, sizeof(pkt->daddr));
	if (ip6->version != 6)
		return parse_error(DROP_INVALID_IPV6_VERSION);

	pkt->l4_off = pkt->l3_off + sizeof(*ip6);

	ret = skip_ipv6_ext_hdrs(ctx, pkt);
	if (ret != PARSE_L4)
		return ret;
	return parse_l4(ctx, pkt);
}

/* Parses the frame in ctx into *pkt (which the caller zeroes). Returns a
 * parse_status (> 0) or a negated drop reason (< 0); see parse_failed() and
 * parse_drop_reason(). Non-IP frames are PARSE_L2, not an error: whether
 * they are acceptable is the caller's decision (DROP_UNKNOWN_L3). */
static __always_inline int parse_packet(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	struct ethhdr *eth = pkt_header(ctx, 0, sizeof(*eth));

	if (!eth)
		return parse_error(DROP_TRUNCATED_ETH);
	pkt->eth_proto = eth->h_proto;
	pkt->l3_off = sizeof(*eth);

	switch (pkt->eth_proto) {
	case bpf_htons(ETH_P_IP):
		return parse_ipv4(ctx, pkt);
	case bpf_htons(ETH_P_IPV6):
		return parse_ipv6(ctx, pkt);
	default:
		return PARSE_L2;
	}
}
