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
	DROP_WRITE_ERROR = 192, /* Rewriting packet bytes (MACs, TTL, checksum) failed. */
};

/* One past the largest reason: the size of per-reason counter arrays. */
#define DROP_REASON_MAX 256
