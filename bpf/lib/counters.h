/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: counters of the forwarding programs (lxc.c, host.c).
 *
 * Three per-CPU maps, pinned by name like the endpoint map, so counts
 * survive an agent restart:
 *  - fw_ep_stats:   per endpoint id, what the pod sent and received through
 *                   the programs (the observability issue reads it);
 *  - fw_fwd_paths:  per enum forward_path, how packets left the programs;
 *  - fw_fwd_drops:  per enum drop_reason, what they dropped.
 * Per-CPU: no atomics on the hot path; readers sum the CPUs.
 */
#pragma once

#include "common.h"
#include "drop_reasons.h"
#include "events.h"

/* One past the largest enum forward_path (events.h), with room to grow. */
#define FORWARD_PATH_MAX 32

/* Sized like the endpoint map: one entry per endpoint, not per address. */
#define EP_STATS_MAP_SIZE 16384

struct fwd_counter {
	__u64 packets;
	__u64 bytes; /* skb->len at entry: L2 header included */
};
BUILD_BUG_ON(sizeof(struct fwd_counter) != 16);

/* Seen from the pod: egress is what it sent, ingress what it was given.
 * egress + stack + drop accounts for every packet from_container saw from
 * this endpoint; ingress counts only deliveries by the programs (traffic the
 * host stack routes to the pod, in veth-legacy mode, is not seen). */
struct ep_stats {
	struct fwd_counter egress;  /* sent by the pod, forwarded by BPF (peer or FIB redirect) */
	struct fwd_counter stack;   /* sent by the pod, handed to the host stack */
	struct fwd_counter drop;    /* sent by the pod, dropped */
	struct fwd_counter ingress; /* delivered into the pod with bpf_redirect_peer */
};
BUILD_BUG_ON(sizeof(struct ep_stats) != 64);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32); /* endpoint_info.endpoint_id */
	__type(value, struct ep_stats);
	__uint(max_entries, EP_STATS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_ep_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32); /* enum forward_path */
	__type(value, struct fwd_counter);
	__uint(max_entries, FORWARD_PATH_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_fwd_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32); /* enum drop_reason */
	__type(value, struct fwd_counter);
	__uint(max_entries, DROP_REASON_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_fwd_drops SEC(".maps");

static __always_inline void fwd_counter_add(struct fwd_counter *c, __u32 bytes)
{
	/* Per-CPU value, and tc programs do not migrate: plain adds. */
	c->packets++;
	c->bytes += bytes;
}

static __always_inline void count_path(__u32 path, __u32 bytes)
{
	struct fwd_counter *c = bpf_map_lookup_elem(&fw_fwd_paths, &path);

	if (c)
		fwd_counter_add(c, bytes);
}

static __always_inline void count_drop(__u32 reason, __u32 bytes)
{
	struct fwd_counter *c = bpf_map_lookup_elem(&fw_fwd_drops, &reason);

	if (c)
		fwd_counter_add(c, bytes);
}

/* The endpoint's counters, created on first use. The agent creates them when
 * it attaches the endpoint; this covers a map that was cleared, or full
 * (then NULL: the packet goes uncounted, never dropped). */
static __always_inline struct ep_stats *ep_stats_get(__u32 endpoint_id)
{
	struct ep_stats *s = bpf_map_lookup_elem(&fw_ep_stats, &endpoint_id);
	struct ep_stats zero = {};

	if (likely(s))
		return s;
	/* NOEXIST: if another CPU won the race, use its entry. */
	bpf_map_update_elem(&fw_ep_stats, &endpoint_id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&fw_ep_stats, &endpoint_id);
}
