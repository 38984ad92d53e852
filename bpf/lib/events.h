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

/* A fixed-size record for ring-buffer benchmarks (bench.c). `seq` counts per
 * CPU from 0 without gaps, so a reader proves zero loss by checking that each
 * CPU's sequence is contiguous. */
struct bench_event {
	struct event_hdr hdr;
	__u64 seq;   /* per-CPU sequence number */
	__u32 cpu;   /* bpf_get_smp_processor_id() */
	__u32 index; /* position within one program run (0..cfg_events_per_run-1) */
};
BUILD_BUG_ON(sizeof(struct bench_event) != 32);

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

/* How a forwarding program (lxc.c, host.c) disposed of a packet: the key of
 * the fw_fwd_paths counters, and the observation point a trace event of
 * these programs will carry. FORWARD_PATH_STACK_* are the reasons a packet
 * was handed to the host stack (TC_ACT_OK) instead of being redirected.
 * Numbers are never reused; keep them below FORWARD_PATH_MAX (counters.h). */
enum forward_path {
	FORWARD_PATH_NONE = 0, /* not forwarded: dropped (the drop reason says why) */
	FORWARD_PATH_PEER = 1, /* into a local pod's namespace with bpf_redirect_peer */
	FORWARD_PATH_FIB = 2, /* off the node: the FIB gave interface and MACs, bpf_redirect */
	FORWARD_PATH_FIB_NEIGH = 3, /* off the node: bpf_redirect_neigh resolves the next hop's MAC */
	FORWARD_PATH_STACK_LEGACY = 4, /* host stack: veth-legacy mode, the host routing table forwards */
	FORWARD_PATH_STACK_ENDPOINT = 5, /* host stack: sender or receiver is marked ENDPOINT_F_STACK */
	FORWARD_PATH_STACK_NOT_IP = 6, /* host stack: not IPv4/IPv6 (ARP, LLDP, ...) */
	FORWARD_PATH_STACK_NOT_UNICAST = 7, /* host stack: not sent to this interface's MAC (broadcast, multicast, other host) */
	FORWARD_PATH_STACK_LINK_LOCAL = 8, /* host stack: link-local, multicast or unspecified IPv6, or IPv4 from 0.0.0.0 */
	FORWARD_PATH_STACK_TTL = 9, /* host stack: TTL or hop limit expires here; the stack answers with ICMP */
	FORWARD_PATH_STACK_FIB_LOCAL = 10, /* host stack: FIB says not forwarded (a node address, broadcast, no route at all) */
	FORWARD_PATH_STACK_NO_ROUTE = 11, /* host stack: blackhole, unreachable or prohibit route; the stack answers with ICMP */
	FORWARD_PATH_STACK_FRAG_NEEDED = 12, /* host stack: bigger than the route's MTU; the stack fragments or answers with ICMP */
	FORWARD_PATH_STACK_FWD_DISABLED = 13, /* host stack: forwarding is disabled on the ingress interface (sysctl) */
	FORWARD_PATH_STACK_FIB_OTHER = 14, /* host stack: any other FIB answer (route needs encapsulation, no source address) */
	FORWARD_PATH_STACK_NOT_ENDPOINT = 15, /* host stack: from_netdev, not addressed to a local endpoint */
	FORWARD_PATH_STACK_UNPARSED = 16, /* host stack: from_netdev, malformed; the stack judges it */
	FORWARD_PATH_REJECT = 17, /* answered in place: a service without endpoints (TCP RST / ICMP port unreachable back to the sender) */
};
