/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: answering a refused packet the way kube-proxy's REJECT does for a
 * Service without endpoints, so the client fails at once (ECONNREFUSED)
 * instead of timing out: a TCP segment gets a RST (RFC 9293 3.10.7.1, the
 * CLOSED state), anything else an ICMP port unreachable (RFC 792).
 *
 * The packet itself becomes the answer: addresses, ports and MACs swapped,
 * resized, headers written, checksums computed from scratch. Only IPv4.
 *
 * Checksums, and why each answer's L4 header sits exactly where the refused
 * packet's L4 header was. A packet from a socket in the pod crosses the veth
 * CHECKSUM_PARTIAL: its L4 checksum field holds only the pseudo-header sum,
 * and skb->csum_start / csum_offset tell whoever finishes it (the NIC, or
 * skb_checksum_help() on a device without checksum offload, e.g. a veth with
 * tx checksumming off) where to sum from and where to write; the receiving
 * stack trusts it unchecked as long as csum_start is not before its L4
 * header. A tc program can neither read nor clear that state, so the answer
 * keeps it true:
 *  - the RST's TCP header is where the refused TCP header was: csum_start and
 *    csum_offset (16) still name its checksum. bpf_l4_csum_replace() knows
 *    the skb's state and is left to choose: the pseudo-header sum (passed
 *    with BPF_F_PSEUDO_HDR) goes into the field in every state, the header's
 *    own sum only when the skb is not PARTIAL. So a NONE / UNNECESSARY skb
 *    ends with the full checksum, a PARTIAL one with the seed its finisher
 *    expects.
 *  - the ICMP message starts where the refused UDP header was and carries its
 *    full checksum. A finisher sums the message (valid, so the sum folds to
 *    0) and writes at csum_offset 6, the second half of the unused word:
 *    CSUM_MANGLED_0 (0xffff) where 0 was, which leaves the sum as it was.
 *    (SCTP, finished with a CRC32c at offset 8, would write into the quote;
 *    Fairway's services are TCP and UDP.)
 * CHECKSUM_COMPLETE (skb->csum, the sum of the packet) would go stale; only a
 * length change drops it to NONE (__skb_trim_rcsum / __skb_grow_rcsum), so
 * the resize always changes the length.
 *
 * Never answered (RFC 1122 3.2.2, RFC 1812 4.3.2.7, RFC 9293): a RST, any
 * ICMP (errors must not be; a query has no port to refuse), a packet to a
 * broadcast or multicast address at L2 or L3 or from an address that is not
 * one host, a non-first fragment (and a fragmented TCP segment, whose length
 * the RST would need), and a packet shorter than its own length fields.
 */
#pragma once

#include "common.h"
#include "drop_reasons.h"
#include "parse.h"

/* TCP flags byte (byte 13 of the header). The names are the kernel's
 * (net/tcp.h); the UAPI TCP_FLAG_* are 32-bit big-endian words. */
#define TCPHDR_FIN 0x01
#define TCPHDR_SYN 0x02
#define TCPHDR_RST 0x04
#define TCPHDR_ACK 0x10

/* IPv4 frag_off field (host order): more fragments, don't fragment. */
#define IPV4_FLAG_MF 0x2000
#define IPV4_FLAG_DF 0x4000

#define REJECT_TTL 64
#define IPV4_MIN_HLEN 20
#define IPV4_MAX_HLEN 60
/* Bytes of the refused datagram an ICMP error quotes after its IP header. */
#define REJECT_ICMP_QUOTE_L4 8
#define REJECT_ICMP_QUOTE_MAX (IPV4_MAX_HLEN + REJECT_ICMP_QUOTE_L4)

/* The RST, from its IPv4 header on. */
struct reject4_rst {
	struct iphdr ip;
	struct tcphdr tcp;
};

/* The ICMP error, from its IPv4 header on: the quote is the refused
 * datagram's IPv4 header (options included) and its first 8 bytes. */
struct reject4_unreach {
	struct iphdr ip;
	struct icmphdr icmp;
	__u8 quote[REJECT_ICMP_QUOTE_MAX];
};

/* The IPv4 pseudo header TCP and UDP checksums cover (RFC 9293 3.1). */
struct ipv4_pseudo_hdr {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

static __always_inline int reject_error(enum drop_reason reason)
{
	return -(int)reason;
}

/* Folds a 32-bit one's complement sum (bpf_csum_diff()'s result) into the
 * 16-bit checksum field value. */
static __always_inline __sum16 csum_fold32(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__sum16)~csum;
}

/* An address that names one host: not 0/8 ("this network"), 127/8, multicast
 * (224/4) or 240/4 (reserved, and 255.255.255.255, the limited broadcast). A
 * subnet's directed broadcast cannot be told from here. */
static __always_inline bool ipv4_is_one_host(__be32 addr)
{
	__u8 first = fw_ntohl(addr) >> 24;

	return first != 0 && first != 127 && first < 224;
}

/* Whether an error may be sent about this packet (RFC 1812 4.3.2.7): the
 * frame was sent to one station (the group bit of the destination MAC is
 * clear) and both addresses name one host. */
static __always_inline bool reject4_may_answer(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	struct ethhdr *eth = pkt_header(ctx, 0, sizeof(*eth));

	if (!eth || (eth->h_dest[0] & 1))
		return false;
	return ipv4_is_one_host(pkt->saddr.v4) && ipv4_is_one_host(pkt->daddr.v4);
}

/* Sets skb->len to len, after `front` bytes right behind the Ethernet header
 * are removed: front + len first, then the removal. The removal keeps the
 * bytes behind it where they are in memory (bpf_skb_adjust_room() moves the
 * Ethernet header forward), which is what keeps csum_start pointing at the
 * answer's L4 header (see the top): with the IP options removed, the L4
 * header behind a 20-byte IPv4 header is where it was. The tail goes first
 * because adjust_room refuses UDP GSO packets and changing the tail ends GSO.
 * The length always changes, if need be through one byte more, to drop
 * CHECKSUM_COMPLETE. Returns 0 or a negated drop reason. */
static __always_inline int reject_resize(struct __sk_buff *ctx, __u32 front, __u32 len)
{
	__u32 tail = len + front;

	if (ctx->len == tail && bpf_skb_change_tail(ctx, tail + 1, 0) < 0)
		return reject_error(DROP_REJECT_RESIZE);
	if (bpf_skb_change_tail(ctx, tail, 0) < 0)
		return reject_error(DROP_REJECT_RESIZE);
	if (front && bpf_skb_adjust_room(ctx, -(__s32)front, BPF_ADJ_ROOM_MAC, 0) < 0)
		return reject_error(DROP_REJECT_RESIZE);
	return 0;
}

/* Source and destination MACs trade places: the reply goes to who sent the
 * packet, from who it was sent to. Returns 0 or a negated drop reason. */
static __always_inline int reject_swap_macs(struct __sk_buff *ctx)
{
	struct ethhdr *eth = pkt_header(ctx, 0, sizeof(*eth));
	__u8 mac[ETH_ALEN];

	if (!eth)
		return reject_error(DROP_WRITE_ERROR);
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	return 0;
}

/* The reply's IPv4 header, from the refused packet's destination back to its
 * source, checksum included. Returns 0 or a negated drop reason. */
static __always_inline int reject4_ip_hdr(struct iphdr *ip, const struct pkt_info *pkt, __u8 proto,
					  __u16 tot_len)
{
	__s64 sum;

	ip->version = 4;
	ip->ihl = IPV4_MIN_HLEN / 4;
	ip->tot_len = fw_htons(tot_len);
	/* DF with ID 0: an atomic datagram (RFC 6864), as Linux sends its RSTs. */
	ip->frag_off = fw_htons(IPV4_FLAG_DF);
	ip->ttl = REJECT_TTL;
	ip->protocol = proto;
	ip->saddr = pkt->daddr.v4;
	ip->daddr = pkt->saddr.v4;
	ip->check = 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0);
	if (sum < 0)
		return reject_error(DROP_WRITE_ERROR);
	ip->check = csum_fold32((__u32)sum);
	return 0;
}

/* Fills the L4 checksum field at `off`, which holds 0: `seed` is what the
 * field must hold while the skb is CHECKSUM_PARTIAL (applied in every state),
 * `rest` what completes the sum otherwise (applied unless PARTIAL). Both are
 * 32-bit one's complement sums. Returns 0 or a negated drop reason. */
static __always_inline int reject_l4_csum(struct __sk_buff *ctx, __u32 off, __u32 seed, __u32 rest)
{
	if (bpf_l4_csum_replace(ctx, off, 0, seed, BPF_F_PSEUDO_HDR) < 0)
		return reject_error(DROP_WRITE_ERROR);
	if (bpf_l4_csum_replace(ctx, off, 0, rest, 0) < 0)
		return reject_error(DROP_WRITE_ERROR);
	return 0;
}

/* The refused TCP segment becomes <SEQ=SEG.ACK><CTL=RST> when it carries an
 * ACK, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> otherwise (RFC 9293
 * 3.10.7.1); SEG.LEN counts SYN and FIN. No options, no payload, window 0.
 * `ip_hlen` / `ip_len` are the refused packet's header and total lengths,
 * already checked against the frame. Returns 0 or a negated drop reason. */
static __always_inline int reject4_rst(struct __sk_buff *ctx, const struct pkt_info *pkt,
				       __u32 ip_hlen, __u32 ip_len)
{
	__u32 l4_off = pkt->l3_off + ip_hlen;
	struct tcphdr *tcp = pkt_header(ctx, l4_off, sizeof(*tcp));
	struct ipv4_pseudo_hdr ph = {};
	struct reject4_rst r = {};
	__s64 seed, rest;
	__u32 tcp_hlen, seg_len;
	__u8 flags;
	int ret;

	if (!tcp)
		return reject_error(DROP_TRUNCATED_L4);
	flags = ((__u8 *)tcp)[13];
	if (flags & TCPHDR_RST)
		return reject_error(DROP_REJECT_RST);
	tcp_hlen = tcp->doff * 4;
	if (tcp_hlen < sizeof(*tcp) || ip_hlen + tcp_hlen > ip_len)
		return reject_error(DROP_REJECT_TRUNCATED);

	r.tcp.source = tcp->dest;
	r.tcp.dest = tcp->source;
	((__u8 *)&r.tcp)[12] = (sizeof(r.tcp) / 4) << 4; /* data offset */
	if (flags & TCPHDR_ACK) {
		r.tcp.seq = tcp->ack_seq;
		((__u8 *)&r.tcp)[13] = TCPHDR_RST;
	} else {
		seg_len = ip_len - ip_hlen - tcp_hlen + !!(flags & TCPHDR_SYN) + !!(flags & TCPHDR_FIN);
		r.tcp.ack_seq = fw_htonl(fw_ntohl(tcp->seq) + seg_len);
		((__u8 *)&r.tcp)[13] = TCPHDR_RST | TCPHDR_ACK;
	}
	ret = reject4_ip_hdr(&r.ip, pkt, IPPROTO_TCP, sizeof(r));
	if (ret < 0)
		return ret;

	/* The TCP header stays at l4_off: drop the IP options in front of it. */
	ret = reject_resize(ctx, ip_hlen - IPV4_MIN_HLEN, pkt->l3_off + sizeof(r));
	if (ret < 0)
		return ret;
	ret = reject_swap_macs(ctx);
	if (ret < 0)
		return ret;
	if (bpf_skb_store_bytes(ctx, pkt->l3_off, &r, sizeof(r), 0) < 0)
		return reject_error(DROP_WRITE_ERROR);

	ph.saddr = r.ip.saddr;
	ph.daddr = r.ip.daddr;
	ph.proto = IPPROTO_TCP;
	ph.len = fw_htons(sizeof(r.tcp));
	seed = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	rest = bpf_csum_diff(NULL, 0, (__be32 *)&r.tcp, sizeof(r.tcp), 0);
	if (seed < 0 || rest < 0)
		return reject_error(DROP_WRITE_ERROR);
	return reject_l4_csum(ctx, pkt->l3_off + sizeof(r.ip) + offsetof(struct tcphdr, check),
			      (__u32)seed, (__u32)rest);
}

/* The refused datagram becomes an ICMP destination unreachable, code port
 * unreachable, quoting its IPv4 header and first 8 bytes (RFC 792). Same
 * arguments and returns as reject4_rst(). */
static __always_inline int reject4_unreach(struct __sk_buff *ctx, const struct pkt_info *pkt,
					   __u32 ip_hlen, __u32 ip_len)
{
	struct reject4_unreach r = {};
	__u32 quote_len = ip_hlen + REJECT_ICMP_QUOTE_L4;
	__u32 len;
	__s64 sum;
	int ret;

	if (quote_len > ip_len)
		return reject_error(DROP_REJECT_TRUNCATED);
	/* Bounds the verifier can see for the variable-length copies below. */
	if (quote_len < IPV4_MIN_HLEN + REJECT_ICMP_QUOTE_L4 || quote_len > sizeof(r.quote))
		return reject_error(DROP_REJECT_TRUNCATED);
	if (bpf_skb_load_bytes(ctx, pkt->l3_off, r.quote, quote_len) < 0)
		return reject_error(DROP_REJECT_TRUNCATED);

	r.icmp.type = ICMP_DEST_UNREACH;
	r.icmp.code = ICMP_PORT_UNREACH;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp, sizeof(r.icmp) + quote_len, 0);
	if (sum < 0)
		return reject_error(DROP_WRITE_ERROR);
	r.icmp.checksum = csum_fold32((__u32)sum);
	len = sizeof(r.ip) + sizeof(r.icmp) + quote_len;
	ret = reject4_ip_hdr(&r.ip, pkt, IPPROTO_ICMP, len);
	if (ret < 0)
		return ret;

	/* The ICMP message starts at the refused L4 header's place (see the top). */
	ret = reject_resize(ctx, ip_hlen - IPV4_MIN_HLEN, pkt->l3_off + len);
	if (ret < 0)
		return ret;
	ret = reject_swap_macs(ctx);
	if (ret < 0)
		return ret;
	if (bpf_skb_store_bytes(ctx, pkt->l3_off, &r, len, 0) < 0)
		return reject_error(DROP_WRITE_ERROR);
	return 0;
}

/* Turns the IPv4 packet `pkt` (as parse_packet() left it) into its reject
 * answer, in place: a TCP RST for TCP, an ICMP port unreachable for anything
 * else, from the packet's destination (the frontend the client targeted, so
 * call this before any DNAT) back to its source, with swapped MACs.
 *
 * Returns 0 when the packet is now the answer, ready to go back out of the
 * interface it came in on (reject4() does that), or a negated drop reason when
 * there is nothing to answer (the packet's bytes are as they were) or the
 * answer could not be built (they may be half rewritten): the caller drops.
 * After any return, packet pointers are invalid, and after 0 `pkt` no longer
 * describes the packet. */
static __always_inline int reject4_reply(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	struct iphdr *ip4;
	__u32 ip_hlen, ip_len, avail;
	bool more_frags;

	if (pkt->family != L3_FAMILY_IPV4)
		return reject_error(DROP_UNKNOWN_L3);
	if (pkt->l4_proto == IPPROTO_ICMP)
		return reject_error(DROP_REJECT_ICMP);
	if (pkt->fragment)
		return reject_error(DROP_REJECT_FRAGMENT);
	if (!reject4_may_answer(ctx, pkt))
		return reject_error(DROP_REJECT_NOT_UNICAST);

	ip4 = pkt_header(ctx, pkt->l3_off, sizeof(*ip4));
	if (!ip4)
		return reject_error(DROP_TRUNCATED_IPV4);
	ip_hlen = ip4->ihl * 4;
	ip_len = fw_ntohs(ip4->tot_len);
	more_frags = ip4->frag_off & fw_htons(IPV4_FLAG_MF);
	avail = ctx->len - pkt->l3_off;
	/* 0 on a BIG TCP packet (see parse_ipv4()): the frame says how long. */
	if (ip_len == 0)
		ip_len = avail;
	if (ip_hlen < IPV4_MIN_HLEN || ip_len < ip_hlen || ip_len > avail)
		return reject_error(DROP_REJECT_TRUNCATED);

	if (pkt->l4_proto == IPPROTO_TCP) {
		if (more_frags)
			return reject_error(DROP_REJECT_FRAGMENT);
		return reject4_rst(ctx, pkt, ip_hlen, ip_len);
	}
	return reject4_unreach(ctx, pkt, ip_hlen, ip_len);
}

/* reject4_reply(), then the answer goes back out of the interface the packet
 * came in on: from tc ingress of a pod's host-side veth, out of that veth,
 * i.e. into the pod. Returns TC_ACT_REDIRECT or a negated drop reason (the
 * caller drops). */
static __always_inline int reject4(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	int ret = reject4_reply(ctx, pkt);

	if (ret < 0)
		return ret;
	if (bpf_redirect(ctx->ifindex, 0) != TC_ACT_REDIRECT)
		return reject_error(DROP_REDIRECT);
	return TC_ACT_REDIRECT;
}
