/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: THE drop-reason registry.
 *
 * Every reason a Fairway program drops (or, when it only observes, would drop)
 * a packet is listed here once, with an explicit number and a one-line
 * comment. The numbers travel in map keys, ring-buffer events and the flow
 * API, and scripts/gen-codecs.ts turns this enum (comments included) into
 * src/datapath/generated/drop_reasons.ts, so:
 *
 *  - never renumber, never reuse a number; retire a reason by leaving it here
 *    with a comment starting "retired:";
 *  - one reason per line, `NAME = number, /+ description +/` (the generator
 *    parses exactly that shape, with a C comment);
 *  - reasons fit in a __u8 (the event header carries one): 1..255;
 *  - ranges keep related reasons together and leave room:
 *      1..63     malformed packets, found while parsing
 *      64..127   policy (reserved)
 *      128..191  forwarding and lookups (reserved)
 *      192..254  resources and internal errors (reserved)
 */
#pragma once

enum drop_reason {
	DROP_NONE = 0, /* Not a drop: the packet was accepted. */
	DROP_INVALID = 1, /* Malformed in a way no finer reason describes. */
	DROP_TRUNCATED_ETH = 2, /* Shorter than an Ethernet header (14 bytes). */
	DROP_UNKNOWN_L3 = 3, /* EtherType the program does not accept. */
	DROP_TRUNCATED_IPV4 = 4, /* IPv4 header (options included) runs past the end of the packet. */
	DROP_INVALID_IPV4_VERSION = 5, /* EtherType says IPv4 but the version field is not 4. */
	DROP_INVALID_IPV4_HDR_LEN = 6, /* IPv4 IHL below 5 (a header shorter than 20 bytes). */
	DROP_INVALID_IPV4_TOT_LEN = 7, /* IPv4 total length smaller than its own header. */
	DROP_TRUNCATED_IPV6 = 8, /* Shorter than the 40-byte IPv6 header. */
	DROP_INVALID_IPV6_VERSION = 9, /* EtherType says IPv6 but the version field is not 6. */
	DROP_TRUNCATED_IPV6_EXT_HDR = 10, /* An IPv6 extension header runs past the end of the packet. */
	DROP_TRUNCATED_L4 = 11, /* TCP, UDP, ICMP or ICMPv6 header runs past the end of the packet. */
	DROP_INVALID_TCP_HDR_LEN = 12, /* TCP data offset below 5 (a header shorter than 20 bytes). */
	DROP_UNKNOWN_L4 = 13, /* L4 protocol the program does not accept. */
	DROP_INVALID_SOURCE = 128, /* Source address is not one of the sending pod's endpoint addresses (spoofed, or not registered). */
	DROP_FIB_LOOKUP = 129, /* bpf_fib_lookup() failed with an error instead of a route answer. */
	DROP_REDIRECT = 130, /* A redirect helper refused the packet (bad flags or target). */
	DROP_NO_BACKEND = 131, /* Service frontend whose backend set could not be read (raced an update, or empty). */
	DROP_NO_SERVICE_LOCAL = 132, /* Service with a Local traffic policy and no endpoint on this node (kube-proxy drops too). */
	DROP_CT_FULL = 133, /* Connection-tracking entry could not be written. */
	DROP_NAT_NO_PORT = 134, /* No free source port for SNAT to a remote backend. */
	DROP_SERVICE_REJECT = 135, /* retired: IPv6 packets to a service without endpoints were dropped before reject6 existed. */
	DROP_REJECT_RST = 150, /* A reject sent no answer: the packet is a TCP RST, which is never answered (RFC 9293 3.10.7). */
	DROP_REJECT_ICMP = 151, /* A reject sent no answer: ICMP is never answered with an ICMP error (errors must not be, RFC 1122 3.2.2; queries have no port). */
	DROP_REJECT_NOT_UNICAST = 152, /* A reject sent no answer: the packet went to a broadcast or multicast address (L2 or L3) or came from one that is not one host (RFC 1812 4.3.2.7). */
	DROP_REJECT_FRAGMENT = 153, /* A reject sent no answer: a non-first IP fragment (no ports), or a fragment of a TCP segment (its length is unknown). */
	DROP_REJECT_TRUNCATED = 154, /* A reject sent no answer: the IPv4 total length, the IPv6 payload length or the TCP data offset runs past the end of the packet. */
	DROP_REJECT_RESIZE = 155, /* Building a reject answer failed: the kernel refused to resize the packet (bpf_skb_change_tail / bpf_skb_adjust_room). */
	DROP_REJECT_NO_L4 = 156, /* A reject sent no answer: the IPv6 packet's upper-layer header is out of reach (No Next Header, more extension headers than are walked, or too many bytes of them to quote it in 1280). */
	DROP_WRITE_ERROR = 192, /* Rewriting packet bytes (MACs, TTL, checksum) failed. */
};

/* One past the largest reason: the size of per-reason counter arrays. */
#define DROP_REASON_MAX 256
