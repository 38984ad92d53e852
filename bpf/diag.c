// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fairway diag: a tc classifier that observes packets without changing them.
 *
 * Attached to any interface (ingress or egress), diag_count parses every
 * packet and
 *  - counts packets and bytes per (EtherType, family, L4 protocol) in
 *    diag_proto_stats;
 *  - counts malformed packets per drop reason in diag_drops (a malformed
 *    packet is counted there instead of in diag_proto_stats, so the two maps
 *    together account for every packet);
 *  - when cfg_emit_events is set, writes one packet_event per packet to the
 *    diag_events ring buffer (reserve failures are counted in
 *    diag_events_lost, so a reader knows when it fell behind).
 * It returns TC_ACT_OK for everything, malformed packets included, unless
 * cfg_drop_malformed is set: then malformed packets get TC_ACT_SHOT.
 *
 * Users: the datapath tests (BPF_PROG_TEST_RUN with crafted frames), the
 * connectivity demo (what is crossing this veth?) and `fairway debug`.
 * The counter maps are pinned by name so a restarted agent keeps counting.
 */
#include "common.h"
#include "config.h"
#include "drop_reasons.h"
#include "events.h"
#include "parse.h"

DECLARE_CONFIG(__u8, cfg_emit_events, 0,
	       "1: write one packet_event per packet to diag_events; 0: only count.");
DECLARE_CONFIG(__u8, cfg_drop_malformed, 0,
	       "1: return TC_ACT_SHOT for malformed packets; 0: record the reason and let them pass.");

/* Counter key. eth_proto tells ARP from LLDP when family is L3_FAMILY_OTHER;
 * for IP it is redundant with family but keeps one key shape for all. */
struct diag_proto_key {
	__be16 eth_proto; /* EtherType */
	__u8 family;      /* enum l3_family */
	__u8 l4_proto;    /* IPPROTO_* (after IPv6 extension headers); 0 when not IP */
};
BUILD_BUG_ON(sizeof(struct diag_proto_key) != 4);

struct diag_counters {
	__u64 packets;
	__u64 bytes; /* skb->len: L2 header included */
};
BUILD_BUG_ON(sizeof(struct diag_counters) != 16);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct diag_proto_key);
	__type(value, struct diag_counters);
	/* (EtherType, family, proto) triples seen on real links number in the
	 * tens; a full map only loses new kinds, never counts of known ones. */
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} diag_proto_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32); /* enum drop_reason */
	__type(value, struct diag_counters);
	__uint(max_entries, DROP_REASON_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} diag_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* Bytes; a power of two and a multiple of the page size. The loader
	 * sets it per node (setMaxEntries). 4 MiB holds ~50k packet events. */
	__uint(max_entries, 4 << 20);
} diag_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32); /* always 0 */
	__type(value, __u64); /* events not written because diag_events was full */
	__uint(max_entries, 1);
} diag_events_lost SEC(".maps");

BTF_EXPORT_STRUCT(packet_event);

static __always_inline void counters_add(struct diag_counters *c, __u32 bytes)
{
	/* Several CPUs update the same entry: atomic adds, not read-modify-write. */
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, bytes);
}

/* Adds one packet of `bytes` to the (family, proto) counters. */
static __always_inline void diag_count_proto(const struct pkt_info *pkt, __u32 bytes)
{
	struct diag_proto_key key = {
		.eth_proto = pkt->eth_proto,
		.family = pkt->family,
		.l4_proto = pkt->l4_proto,
	};
	struct diag_counters *c, init = { .packets = 1, .bytes = bytes };

	c = bpf_map_lookup_elem(&diag_proto_stats, &key);
	if (likely(c)) {
		counters_add(c, bytes);
		return;
	}
	/* First packet of this kind. Another CPU may insert the same key at the
	 * same time: BPF_NOEXIST makes exactly one insert win, the loser adds to
	 * the winner's entry. If the map is full the packet is not counted. */
	if (bpf_map_update_elem(&diag_proto_stats, &key, &init, BPF_NOEXIST) == 0)
		return;
	c = bpf_map_lookup_elem(&diag_proto_stats, &key);
	if (c)
		counters_add(c, bytes);
}

static __always_inline void diag_count_drop(enum drop_reason reason, __u32 bytes)
{
	__u32 key = reason;
	struct diag_counters *c = bpf_map_lookup_elem(&diag_drops, &key);

	if (c)
		counters_add(c, bytes);
}

static __always_inline void diag_count_lost_event(void)
{
	__u32 key = 0;
	__u64 *lost = bpf_map_lookup_elem(&diag_events_lost, &key);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* Writes one packet_event. Returns nothing: a full ring costs an event, never
 * the packet. */
static __always_inline void diag_emit_event(const struct __sk_buff *ctx,
					    const struct pkt_info *pkt,
					    enum drop_reason reason, int verdict)
{
	struct packet_event *ev;

	ev = bpf_ringbuf_reserve(&diag_events, sizeof(*ev), 0);
	if (!ev) {
		diag_count_lost_event();
		return;
	}
	event_hdr_init(&ev->hdr, EVENT_PACKET,
		       reason == DROP_NONE ? PACKET_EVENT_TRACE : PACKET_EVENT_DROP,
		       sizeof(*ev), ctx->ifindex);
	/* Ring-buffer memory is not zeroed: write every byte, padding included,
	 * or stale bytes of an earlier record leak to the reader. */
	ev->saddr = pkt->saddr;
	ev->daddr = pkt->daddr;
	ev->pkt_len = ctx->len;
	ev->eth_proto = pkt->eth_proto;
	ev->sport = pkt->sport;
	ev->dport = pkt->dport;
	ev->family = pkt->family;
	ev->l4_proto = pkt->l4_proto;
	ev->verdict = verdict == TC_ACT_SHOT ? VERDICT_DROPPED : VERDICT_FORWARDED;
	ev->drop_reason = reason;
	ev->tcp_flags = pkt->tcp_flags;
	ev->icmp_type = pkt->icmp_type;
	ev->icmp_code = pkt->icmp_code;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	bpf_ringbuf_submit(ev, 0);
}

/* Counts the packet, emits its event, and returns the tc verdict. */
static __always_inline int diag_handle(struct __sk_buff *ctx, const struct pkt_info *pkt,
				       int parse_ret)
{
	enum drop_reason reason = parse_drop_reason(parse_ret);
	__u32 bytes = ctx->len;
	int verdict = TC_ACT_OK;

	if (parse_failed(parse_ret)) {
		diag_count_drop(reason, bytes);
		if (CONFIG(cfg_drop_malformed))
			verdict = TC_ACT_SHOT;
	} else {
		diag_count_proto(pkt, bytes);
	}
	if (CONFIG(cfg_emit_events))
		diag_emit_event(ctx, pkt, reason, verdict);
	return verdict;
}

SEC("tc")
int diag_count(struct __sk_buff *ctx)
{
	struct pkt_info pkt = {};
	int ret = parse_packet(ctx, &pkt);

	return diag_handle(ctx, &pkt, ret);
}

char _license[] SEC("license") = "Dual BSD/GPL";
