/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: answering a refused packet the way kube-proxy's REJECT does for a
 * Service without endpoints, so the client fails at once (ECONNREFUSED)
 * instead of timing out: a TCP segment gets a RST (RFC 9293 3.10.7.1, the
 * CLOSED state), anything else an ICMP port unreachable (RFC 792) or an
 * ICMPv6 destination unreachable, port unreachable (RFC 4443 3.1).
 *
 * The packet itself becomes the answer: addresses, ports and MACs swapped,
 * resized, headers written, checksums computed from scratch. The answer's IP
 * header has no IPv4 options and no IPv6 extension headers.
 *
 * Checksums, and why each answer's L4 header sits where the refused packet's
 * L4 header was. A packet from a socket in the pod crosses the veth
 * CHECKSUM_PARTIAL: its L4 checksum field holds only the pseudo-header sum,
 * and skb->csum_start / csum_offset tell whoever finishes it (the NIC, or
 * skb_checksum_help() on a device without checksum offload, e.g. a veth with
 * tx checksumming off) where to sum from and where to write; the receiving
 * stack trusts it unchecked as long as csum_start is not before its L4
 * header. A tc program can neither read nor clear that state, so the answer
 * keeps it true, whichever it is:
 *  - the RST's TCP header is where the refused TCP header was: csum_start and
 *    csum_offset (16) still name its checksum. bpf_l4_csum_replace() knows
 *    the skb's state and is left to choose: the pseudo-header sum (passed
 *    with BPF_F_PSEUDO_HDR) goes into the field in every state, the header's
 *    own sum only when the skb is not PARTIAL. So a NONE / UNNECESSARY skb
 *    ends with the full checksum, a PARTIAL one with the seed its finisher
 *    expects. IPv4 options and IPv6 extension headers in front of it are cut
 *    out, which leaves the bytes behind them in place (reject_resize()).
 *  - the ICMP message starts where the refused UDP header was and carries its
 *    full checksum. A finisher sums the message (valid, so the sum folds to
 *    0) and writes at csum_offset 6, the second half of the unused word:
 *    CSUM_MANGLED_0 (0xffff) where 0 was, which leaves the sum as it was.
 *  - the ICMPv6 message cannot play that trick (its checksum covers a
 *    pseudo-header, so the message alone does not sum to 0), nor does it
 *    need to: it quotes the refused packet in place, up to 1280 bytes, with
 *    the new headers added in front, so csum_start names the quoted UDP
 *    header and a finisher writes the quoted UDP checksum. Whatever it
 *    writes, the bytes from csum_start on then sum to minus what that field
 *    held before (w = ~sum, and sum - old + w = -old), a value known up
 *    front. bpf_l4_csum_replace(), as for the RST, writes the checksum that
 *    is right after a finisher if the skb is PARTIAL (reject_l4_csum()'s
 *    seed) and the plain one otherwise. A PARTIAL answer nobody finishes is
 *    trusted (csum_start is behind the ICMPv6 header); its quote then holds
 *    the UDP checksum seed as the client sent it.
 * (SCTP, finished with a CRC32c at offset 8, would write into the quote;
 * Fairway's services are TCP and UDP.) CHECKSUM_COMPLETE (skb->csum, the sum
 * of the packet) would go stale; only a length change of the tail drops it to
 * NONE (__skb_trim_rcsum / __skb_grow_rcsum), so that always happens.
 *
 * Never answered (RFC 1122 3.2.2, RFC 1812 4.3.2.7, RFC 4443 2.4 (e), RFC
 * 9293): a RST, any ICMP or ICMPv6 (errors must not be; a query has no port
 * to refuse), a packet to a broadcast or multicast address at L2 or L3 or
 * from an address that is not one host, a non-first fragment (and a
 * fragmented TCP segment, whose length the RST would need), an IPv6 packet
 * whose upper-layer header is out of reach, and a packet shorter than its
 * own length fields.
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
/* IPv6 fragment header frag_off (host order): more fragments. */
#define IPV6_FLAG_MF 0x0001

/* The answer's TTL / hop limit. */
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

/* The RST, from its IPv6 header on. */
struct reject6_rst {
	struct ipv6hdr ip;
	struct tcphdr tcp;
};

/* The ICMPv6 error's headers; the quote follows them in the packet. */
struct reject6_unreach {
	struct ipv6hdr ip;
	struct icmp6hdr icmp;
};

/* Most of the refused packet an ICMPv6 error quotes: the whole error within
 * the IPv6 minimum MTU (RFC 4443 2.4 (c)). */
#define REJECT6_QUOTE_MAX (IPV6_MIN_MTU - sizeof(struct reject6_unreach))

/* The IPv4 pseudo header TCP and UDP checksums cover (RFC 9293 3.1). */
struct ipv4_pseudo_hdr {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/* The IPv6 pseudo header upper-layer checksums cover (RFC 8200 8.1). */
struct ipv6_pseudo_hdr {
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be32 len;
	__u8 zero[3];
	__u8 nexthdr;
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

/* a + b for 32-bit one's complement sums (end-around carry); ~b is -b. */
static __always_inline __u32 csum_add32(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/* Whether the frame was sent to one station: the group bit of its
 * destination MAC is clear (RFC 1812 4.3.2.7, RFC 4443 2.4 (e.4), (e.5)). */
static __always_inline bool reject_l2_unicast(struct __sk_buff *ctx)
{
	struct ethhdr *eth = pkt_header(ctx, 0, sizeof(*eth));

	return eth && !(eth->h_dest[0] & 1);
}

/* Sets skb->len to len, with `front` bytes added (> 0) or removed (< 0) right
 * behind the Ethernet header: the tail first (to len - front), then the
 * front. bpf_skb_adjust_room() moves the Ethernet header and keeps the bytes
 * behind the change where they are in memory, which is what keeps csum_start
 * pointing at the same byte (see the top): with the IPv4 options or IPv6
 * extension headers removed, the L4 header behind a bare IP header is where
 * it was; with room added, the quoted packet is. The tail goes first because
 * adjust_room refuses UDP GSO packets and changing the tail ends GSO. The
 * tail's length always changes, if need be through one byte more, to drop
 * CHECKSUM_COMPLETE. Returns 0 or a negated drop reason. */
static __always_inline int reject_resize(struct __sk_buff *ctx, __s32 front, __u32 len)
{
	__u32 tail = len - front;

	if (ctx->len == tail && bpf_skb_change_tail(ctx, tail + 1, 0) < 0)
		return reject_error(DROP_REJECT_RESIZE);
	if (bpf_skb_change_tail(ctx, tail, 0) < 0)
		return reject_error(DROP_REJECT_RESIZE);
	if (front && bpf_skb_adjust_room(ctx, front, BPF_ADJ_ROOM_MAC, 0) < 0)
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

/* Fills the L4 checksum field at `off`, which holds 0: `seed` is what the
 * field must hold while the skb is CHECKSUM_PARTIAL (applied in every state),
 * `rest` what completes the sum otherwise (applied unless PARTIAL): the field
 * ends as fold(seed) in the one state, ~fold(seed + rest) in the other. Both
 * are 32-bit one's complement sums. Returns 0 or a negated drop reason. */
static __always_inline int reject_l4_csum(struct __sk_buff *ctx, __u32 off, __u32 seed, __u32 rest)
{
	if (bpf_l4_csum_replace(ctx, off, 0, seed, BPF_F_PSEUDO_HDR) < 0)
		return reject_error(DROP_WRITE_ERROR);
	if (bpf_l4_csum_replace(ctx, off, 0, rest, 0) < 0)
		return reject_error(DROP_WRITE_ERROR);
	return 0;
}

/* Reads the refused TCP header at `l4_off` and fills `rst` (zeroed) with the
 * answer's: <SEQ=SEG.ACK><CTL=RST> when the segment carries an ACK,
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> otherwise (RFC 9293 3.10.7.1),
 * SEG.LEN counting SYN and FIN. No options, no payload, window 0, checksum
 * left 0. `l4_len` is the segment's length (header and data), already checked
 * against the frame. Returns 0 or a negated drop reason. */
static __always_inline int reject_rst_tcp(struct __sk_buff *ctx, __u32 l4_off, __u32 l4_len,
					  struct tcphdr *rst)
{
	struct tcphdr *tcp = pkt_header(ctx, l4_off, sizeof(*tcp));
	__u32 tcp_hlen, seg_len;
	__u8 flags;

	if (!tcp)
		return reject_error(DROP_TRUNCATED_L4);
	flags = ((__u8 *)tcp)[13];
	if (flags & TCPHDR_RST)
		return reject_error(DROP_REJECT_RST);
	tcp_hlen = tcp->doff * 4;
	if (tcp_hlen < sizeof(*tcp) || tcp_hlen > l4_len)
		return reject_error(DROP_REJECT_TRUNCATED);

	rst->source = tcp->dest;
	rst->dest = tcp->source;
	((__u8 *)rst)[12] = (sizeof(*rst) / 4) << 4; /* data offset */
	if (flags & TCPHDR_ACK) {
		rst->seq = tcp->ack_seq;
		((__u8 *)rst)[13] = TCPHDR_RST;
	} else {
		seg_len = l4_len - tcp_hlen + !!(flags & TCPHDR_SYN) + !!(flags & TCPHDR_FIN);
		rst->ack_seq = fw_htonl(fw_ntohl(tcp->seq) + seg_len);
		((__u8 *)rst)[13] = TCPHDR_RST | TCPHDR_ACK;
	}
	return 0;
}

/* Makes the refused packet the RST `answer`: `len` bytes from a bare IP
 * header on, the TCP header last. The packet loses the `cut` bytes of IPv4
 * options or IPv6 extension headers in front of its TCP header, which stays
 * where it was, and everything behind it. `pseudo` is the sum of the TCP
 * pseudo header. Returns 0 or a negated drop reason. */
static __always_inline int reject_rst_write(struct __sk_buff *ctx, __u32 l3_off, __u32 cut,
					    const void *answer, __u32 len, __u32 pseudo)
{
	__u32 tcp_off = l3_off + len - sizeof(struct tcphdr);
	const __u8 *tcp = (const __u8 *)answer + len - sizeof(struct tcphdr);
	__s64 rest;
	int ret;

	rest = bpf_csum_diff(NULL, 0, (__be32 *)tcp, sizeof(struct tcphdr), 0);
	if (rest < 0)
		return reject_error(DROP_WRITE_ERROR);
	ret = reject_resize(ctx, -(__s32)cut, l3_off + len);
	if (ret < 0)
		return ret;
	ret = reject_swap_macs(ctx);
	if (ret < 0)
		return ret;
	if (bpf_skb_store_bytes(ctx, l3_off, answer, len, 0) < 0)
		return reject_error(DROP_WRITE_ERROR);
	return reject_l4_csum(ctx, tcp_off + offsetof(struct tcphdr, check), pseudo, (__u32)rest);
}

/* ---- IPv4 ------------------------------------------------------------- */

/* An address that names one host: not 0/8 ("this network"), 127/8, multicast
 * (224/4) or 240/4 (reserved, and 255.255.255.255, the limited broadcast). A
 * subnet's directed broadcast cannot be told from here. */
static __always_inline bool ipv4_is_one_host(__be32 addr)
{
	__u8 first = fw_ntohl(addr) >> 24;

	return first != 0 && first != 127 && first < 224;
}

/* Whether an error may be sent about this packet (RFC 1812 4.3.2.7): the
 * frame was sent to one station and both addresses name one host. */
static __always_inline bool reject4_may_answer(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	return reject_l2_unicast(ctx) && ipv4_is_one_host(pkt->saddr.v4) &&
	       ipv4_is_one_host(pkt->daddr.v4);
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

/* The RST answering the refused TCP segment. `ip_hlen` / `ip_len` are the
 * refused packet's header and total lengths, already checked against the
 * frame. Returns 0 or a negated drop reason. */
static __always_inline int reject4_rst(struct __sk_buff *ctx, const struct pkt_info *pkt,
				       __u32 ip_hlen, __u32 ip_len)
{
	struct ipv4_pseudo_hdr ph = {};
	struct reject4_rst r = {};
	__s64 pseudo;
	int ret;

	ret = reject_rst_tcp(ctx, pkt->l3_off + ip_hlen, ip_len - ip_hlen, &r.tcp);
	if (ret < 0)
		return ret;
	ret = reject4_ip_hdr(&r.ip, pkt, IPPROTO_TCP, sizeof(r));
	if (ret < 0)
		return ret;
	ph.saddr = r.ip.saddr;
	ph.daddr = r.ip.daddr;
	ph.proto = IPPROTO_TCP;
	ph.len = fw_htons(sizeof(r.tcp));
	pseudo = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	if (pseudo < 0)
		return reject_error(DROP_WRITE_ERROR);
	return reject_rst_write(ctx, pkt->l3_off, ip_hlen - IPV4_MIN_HLEN, &r, sizeof(r),
				(__u32)pseudo);
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
	ret = reject_resize(ctx, -(__s32)(ip_hlen - IPV4_MIN_HLEN), pkt->l3_off + len);
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

/* ---- IPv6 ------------------------------------------------------------- */

/* An address that names one host: not the unspecified address (::), the
 * loopback (::1) or multicast (ff00::/8) (RFC 4443 2.4 (e.3), (e.6)). An
 * anycast address cannot be told from here. */
static __always_inline bool ipv6_is_one_host(const union ip_addr *addr)
{
	if ((fw_ntohl(addr->v6[0]) >> 24) == 0xff)
		return false;
	return addr->v6[0] || addr->v6[1] || addr->v6[2] || fw_ntohl(addr->v6[3]) > 1;
}

/* Whether an error may be sent about this packet: the frame was sent to one
 * station and both addresses name one host. */
static __always_inline bool reject6_may_answer(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	return reject_l2_unicast(ctx) && ipv6_is_one_host(&pkt->saddr) &&
	       ipv6_is_one_host(&pkt->daddr);
}

/* Whether parse_packet() stopped at an upper-layer header: not at No Next
 * Header, nor at an extension header it did not walk past. */
static __always_inline bool reject6_found_l4(const struct pkt_info *pkt)
{
	switch (pkt->l4_proto) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_AH:
	case IPPROTO_DSTOPTS:
	case IPPROTO_NONE:
		return false;
	default:
		return true;
	}
}

/* Whether the extension headers between the IPv6 header (next header
 * `nexthdr`) and the L4 header at pkt->l4_off hold a fragment header with
 * more fragments to come (the first fragment; later ones have no L4 header). */
static __always_inline bool reject6_more_frags(struct __sk_buff *ctx, const struct pkt_info *pkt,
					       __u8 nexthdr)
{
	__u32 off = pkt->l3_off + sizeof(struct ipv6hdr);
	int i;

	for (i = 0; i < IPV6_MAX_EXT_HDRS; i++) {
		struct ipv6_opt_hdr *ext;

		if (off >= pkt->l4_off)
			return false;
		ext = pkt_header(ctx, off, IPV6_EXT_HDR_MIN_LEN);
		if (!ext)
			return false;
		if (nexthdr == IPPROTO_FRAGMENT)
			return ((struct ipv6_frag_hdr *)ext)->frag_off & fw_htons(IPV6_FLAG_MF);
		/* As skip_ipv6_ext_hdrs(): AH counts 4-byte units minus 2, the others
		 * 8-byte units past the first 8. */
		off += nexthdr == IPPROTO_AH ? (ext->hdrlen + 2) << 2 : (ext->hdrlen + 1) << 3;
		nexthdr = ext->nexthdr;
	}
	return false;
}

/* The reply's IPv6 header, from the refused packet's destination back to its
 * source: traffic class and flow label 0, no extension headers. */
static __always_inline void reject6_ip_hdr(struct ipv6hdr *ip, const struct pkt_info *pkt,
					   __u8 nexthdr, __u16 payload_len)
{
	ip->version = 6;
	ip->payload_len = fw_htons(payload_len);
	ip->nexthdr = nexthdr;
	ip->hop_limit = REJECT_TTL;
	__builtin_memcpy(&ip->saddr, &pkt->daddr, sizeof(ip->saddr));
	__builtin_memcpy(&ip->daddr, &pkt->saddr, sizeof(ip->daddr));
}

/* The sum of the pseudo header of the upper-layer packet behind `ip`, which
 * has no extension headers. Returns it, or < 0 on error. */
static __always_inline __s64 reject6_pseudo_sum(const struct ipv6hdr *ip)
{
	struct ipv6_pseudo_hdr ph = {};

	__builtin_memcpy(&ph.saddr, &ip->saddr, sizeof(ph.saddr));
	__builtin_memcpy(&ph.daddr, &ip->daddr, sizeof(ph.daddr));
	ph.len = fw_htonl(fw_ntohs(ip->payload_len));
	ph.nexthdr = ip->nexthdr;
	return bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
}

/* The RST answering the refused TCP segment. `ip_len` is the refused packet's
 * length from its IPv6 header on, already checked against the frame. Returns
 * 0 or a negated drop reason. */
static __always_inline int reject6_rst(struct __sk_buff *ctx, const struct pkt_info *pkt,
				       __u32 ip_len)
{
	__u32 l3_hlen = pkt->l4_off - pkt->l3_off;
	struct reject6_rst r = {};
	__s64 pseudo;
	int ret;

	ret = reject_rst_tcp(ctx, pkt->l4_off, ip_len - l3_hlen, &r.tcp);
	if (ret < 0)
		return ret;
	reject6_ip_hdr(&r.ip, pkt, IPPROTO_TCP, sizeof(r.tcp));
	pseudo = reject6_pseudo_sum(&r.ip);
	if (pseudo < 0)
		return reject_error(DROP_WRITE_ERROR);
	return reject_rst_write(ctx, pkt->l3_off, l3_hlen - sizeof(r.ip), &r, sizeof(r),
				(__u32)pseudo);
}

/* Bytes reject_csum_pkt() copies at a time: a multiple of 4 (bpf_csum_diff()
 * sums whole words), and small, as its stack frame adds to its caller's. */
#define REJECT_CSUM_CHUNK 16

/* The 32-bit one's complement sum of the `len` bytes of the packet at `off`
 * (at most IPV6_MIN_MTU), added to `sum`. The bytes go through a stack buffer
 * whose zeroed tail pads the last word (zeros add nothing). Returns the sum,
 * or < 0 on error.
 *
 * A global function, not inlined: the verifier checks it once, on its own,
 * with any arguments. Inlined, its loop would be walked again for every
 * state its callers reach it in (one per way parse_packet() can walk an
 * IPv6 packet), past the verifier's 1M instructions. */
__noinline __s64 reject_csum_pkt(struct __sk_buff *ctx, __u32 off, __u32 len, __u32 sum)
{
	__u8 buf[REJECT_CSUM_CHUNK];
	__s64 ret = sum;
	int i;

	if (len > IPV6_MIN_MTU)
		return -1;
	for (i = 0; i < IPV6_MIN_MTU / sizeof(buf); i++) {
		if (len <= sizeof(buf))
			break;
		if (bpf_skb_load_bytes(ctx, off, buf, sizeof(buf)) < 0)
			return -1;
		ret = bpf_csum_diff(NULL, 0, (__be32 *)buf, sizeof(buf), (__u32)ret);
		if (ret < 0)
			return ret;
		off += sizeof(buf);
		len -= sizeof(buf);
	}
	if (len == 0)
		return ret;
	if (len > sizeof(buf))
		return -1;
	__builtin_memset(buf, 0, sizeof(buf));
	if (bpf_skb_load_bytes(ctx, off, buf, len) < 0)
		return -1;
	return bpf_csum_diff(NULL, 0, (__be32 *)buf, sizeof(buf), (__u32)ret);
}

/* The refused packet becomes an ICMPv6 destination unreachable, code port
 * unreachable, quoting as much of it as fits in 1280 bytes (RFC 4443 3.1), its
 * extension headers included: the quote stays in place and the new IPv6 and
 * ICMPv6 headers go in front of it. Same arguments and returns as
 * reject6_rst(). */
static __always_inline int reject6_unreach(struct __sk_buff *ctx, const struct pkt_info *pkt,
					   __u32 ip_len)
{
	__u32 l3_hlen = pkt->l4_off - pkt->l3_off;
	__u32 quote_len = ip_len < REJECT6_QUOTE_MAX ? ip_len : REJECT6_QUOTE_MAX;
	struct reject6_unreach r = {};
	__s64 fixed, tail;
	__u32 seed, rest;
	__u16 old;
	int ret;

	if (l3_hlen + REJECT_ICMP_QUOTE_L4 > ip_len)
		return reject_error(DROP_REJECT_TRUNCATED);
	/* The quote must hold the L4 header's first 8 bytes: the client finds
	 * the socket by its ports, and a finisher writes at csum_offset 6. */
	if (l3_hlen + REJECT_ICMP_QUOTE_L4 > quote_len)
		return reject_error(DROP_REJECT_NO_L4);

	r.icmp.icmp6_type = ICMPV6_DEST_UNREACH;
	r.icmp.icmp6_code = ICMPV6_PORT_UNREACH;
	reject6_ip_hdr(&r.ip, pkt, IPPROTO_ICMPV6, sizeof(r.icmp) + quote_len);

	/* The message sums to pseudo header + ICMPv6 header + quote up to the L4
	 * header ("fixed") + the quote from the L4 header on ("tail"), which a
	 * finisher turns into -old (see the top). */
	fixed = reject6_pseudo_sum(&r.ip);
	if (fixed >= 0)
		fixed = bpf_csum_diff(NULL, 0, (__be32 *)&r.icmp, sizeof(r.icmp), (__u32)fixed);
	if (fixed >= 0)
		fixed = reject_csum_pkt(ctx, pkt->l3_off, l3_hlen, (__u32)fixed);
	tail = reject_csum_pkt(ctx, pkt->l4_off, quote_len - l3_hlen, 0);
	if (fixed < 0 || tail < 0)
		return reject_error(DROP_WRITE_ERROR);
	if (bpf_skb_load_bytes(ctx, pkt->l4_off + 6, &old, sizeof(old)) < 0)
		return reject_error(DROP_REJECT_TRUNCATED);
	/* PARTIAL: the field makes fixed - old sum to 0. Otherwise: fixed + tail. */
	seed = csum_add32(old, ~(__u32)fixed);
	rest = csum_add32(csum_add32((__u32)fixed, (__u32)tail), ~seed);

	ret = reject_resize(ctx, sizeof(r), pkt->l3_off + sizeof(r) + quote_len);
	if (ret < 0)
		return ret;
	ret = reject_swap_macs(ctx);
	if (ret < 0)
		return ret;
	if (bpf_skb_store_bytes(ctx, pkt->l3_off, &r, sizeof(r), 0) < 0)
		return reject_error(DROP_WRITE_ERROR);
	return reject_l4_csum(ctx, pkt->l3_off + offsetof(struct reject6_unreach, icmp.icmp6_cksum),
			      seed, rest);
}

/* Turns the IPv6 packet `pkt` (as parse_packet() left it) into its reject
 * answer, in place: a TCP RST for TCP, an ICMPv6 port unreachable for
 * anything else, as reject4_reply(), with the same returns. */
static __always_inline int reject6_reply(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	struct ipv6hdr *ip6;
	__u32 ip_len, avail;
	__u8 nexthdr;

	if (pkt->family != L3_FAMILY_IPV6)
		return reject_error(DROP_UNKNOWN_L3);
	if (pkt->l4_proto == IPPROTO_ICMPV6)
		return reject_error(DROP_REJECT_ICMP);
	if (pkt->fragment)
		return reject_error(DROP_REJECT_FRAGMENT);
	if (!reject6_may_answer(ctx, pkt))
		return reject_error(DROP_REJECT_NOT_UNICAST);
	if (!reject6_found_l4(pkt))
		return reject_error(DROP_REJECT_NO_L4);

	ip6 = pkt_header(ctx, pkt->l3_off, sizeof(*ip6));
	if (!ip6)
		return reject_error(DROP_TRUNCATED_IPV6);
	ip_len = sizeof(*ip6) + fw_ntohs(ip6->payload_len);
	nexthdr = ip6->nexthdr;
	avail = ctx->len - pkt->l3_off;
	/* Payload length 0: a jumbogram, or BIG TCP (the kernel strips its
	 * hop-by-hop jumbo option): the frame says how long. */
	if (ip_len == sizeof(*ip6))
		ip_len = avail;
	if (ip_len > avail || pkt->l4_off < pkt->l3_off + sizeof(*ip6) ||
	    pkt->l4_off - pkt->l3_off > ip_len)
		return reject_error(DROP_REJECT_TRUNCATED);

	if (pkt->l4_proto == IPPROTO_TCP) {
		if (reject6_more_frags(ctx, pkt, nexthdr))
			return reject_error(DROP_REJECT_FRAGMENT);
		return reject6_rst(ctx, pkt, ip_len);
	}
	return reject6_unreach(ctx, pkt, ip_len);
}

/* ---- both families ----------------------------------------------------- */

/* reject4_reply() or reject6_reply(), by the packet's family. */
static __always_inline int reject_reply(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	switch (pkt->family) {
	case L3_FAMILY_IPV4:
		return reject4_reply(ctx, pkt);
	case L3_FAMILY_IPV6:
		return reject6_reply(ctx, pkt);
	default:
		return reject_error(DROP_UNKNOWN_L3);
	}
}

/* Sends the answer a *_reply() built (ret 0) back out of the interface the
 * packet came in on: from tc ingress of a pod's host-side veth, out of that
 * veth, i.e. into the pod. Returns TC_ACT_REDIRECT, or a negated drop reason
 * (ret's, if it is one): the caller drops. */
static __always_inline int reject_send(struct __sk_buff *ctx, int ret)
{
	if (ret < 0)
		return ret;
	if (bpf_redirect(ctx->ifindex, 0) != TC_ACT_REDIRECT)
		return reject_error(DROP_REDIRECT);
	return TC_ACT_REDIRECT;
}

/* reject4_reply(), then the answer goes back out of the interface the packet
 * came in on. Returns TC_ACT_REDIRECT or a negated drop reason. */
static __always_inline int reject4(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	return reject_send(ctx, reject4_reply(ctx, pkt));
}

/* reject6_reply(), then the answer goes back out of the interface the packet
 * came in on. Returns TC_ACT_REDIRECT or a negated drop reason. */
static __always_inline int reject6(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	return reject_send(ctx, reject6_reply(ctx, pkt));
}

/* reject_reply(), then the answer goes back out of the interface the packet
 * came in on: what a caller with either family uses. Returns TC_ACT_REDIRECT
 * or a negated drop reason. */
static __always_inline int reject(struct __sk_buff *ctx, const struct pkt_info *pkt)
{
	return reject_send(ctx, reject_reply(ctx, pkt));
}
