/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: ring-buffer event layouts.
 *
 * Every record a Fairway program writes to a BPF ring buffer starts with
 * struct event_hdr, so one reader can demultiplex records of any type by
 * hdr.type and check hdr.len before decoding the body. The layouts are
 * shared with user space through the object's BTF: scripts/gen-codecs.ts
 * generates a codec for every struct whose name ends in `_event`, and maps it
 * to its `enum event_type` entry by the `struct <name>` in that entry's
 * comment. A program that emits an event type must keep its BTF with
 * BTF_EXPORT_STRUCT(<name>) (see compiler.h for why).
 *
 * Layout rules: explicit padding (no holes the compiler fills with garbage),
 * natural alignment, sizes pinned with BUILD_BUG_ON, multiples of 8 (ring
 * buffer records are 8-byte aligned anyway). Never reorder fields of a
 * released event; add new fields at the end and bump nothing: readers check
 * hdr.len.
 */
#pragma once

#include "common.h"

/* What follows the header. Numbers are never reused. */
enum event_type {
	EVENT_UNSPEC = 0, /* never emitted: a zeroed record is a bug */
	EVENT_PACKET = 1, /* struct packet_event: one packet seen by a tc program */
	EVENT_BENCH = 2, /* struct bench_event: synthetic record from bench.c */
};

/* hdr.subtype of EVENT_PACKET. */
enum packet_event_subtype {
	PACKET_EVENT_TRACE = 1, /* a well-formed packet went past the observation point */
	PACKET_EVENT_DROP = 2, /* a packet was dropped, or would have been (see verdict) */
};

/* packet_event.verdict: what the program did with the packet. */
enum event_verdict {
	VERDICT_FORWARDED = 1, /* passed on (TC_ACT_OK and friends) */
	VERDICT_DROPPED = 2, /* dropped (TC_ACT_SHOT) */
};

struct event_hdr {
	__u8 type;     /* enum event_type */
	__u8 subtype;  /* per type; for EVENT_PACKET an enum packet_event_subtype */
	__u16 len;     /* whole record in bytes, this header included */
	__u32 ifindex; /* interface the program runs on (skb->ifindex) */
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, not wall time */
};
BUILD_BUG_ON(sizeof(struct event_hdr) != 16);

struct packet_event {
	struct event_hdr hdr;
	union ip_addr saddr; /* zero when not IP */
	union ip_addr daddr;
	__u32 pkt_len;       /* skb->len: the whole frame, headers included */
	__be16 eth_proto;    /* EtherType */
	__be16 sport;        /* TCP/UDP ports; 0 for other protocols */
	__be16 dport;
	__u8 family;         /* enum l3_family */
	__u8 l4_proto;       /* IPPROTO_*; 0 when not IP */
	__u8 verdict;        /* enum event_verdict */
	__u8 drop_reason;    /* enum drop_reason; DROP_NONE for well-formed packets */
	__u8 tcp_flags;      /* TCP flags byte; 0 otherwise */
	__u8 icmp_type;      /* ICMP/ICMPv6 type; 0 otherwise */
	__u8 icmp_code;      /* ICMP/ICMPv6 code; 0 otherwise */
	__u8 pad[7];
};
BUILD_BUG_ON(sizeof(struct packet_event) != 72);

/* Fills the common header. `type`/`subtype` are enum event_type and its
 * per-type subtype; `len` is sizeof the whole record. */
static __always_inline void event_hdr_init(struct event_hdr *hdr, __u8 type, __u8 subtype,
					   __u16 len, __u32 ifindex)
{
	hdr->type = type;
	hdr->subtype = subtype;
	hdr->len = len;
	hdr->ifindex = ifindex;
	hdr->ts_ns = bpf_ktime_get_ns();
}
