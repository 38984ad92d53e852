/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: the frame every forwarding program (lxc.c, host.c) works in.
 *
 * A worker decides what happens to one packet and returns
 *  - a tc verdict (>= 0): TC_ACT_REDIRECT after a redirect helper, or
 *    TC_ACT_OK to hand the packet to the host stack (through to_stack(),
 *    which records why), or
 *  - a negated drop reason (< 0), as parse.h does (fwd_drop()).
 * It notes in struct fwd_state who sent and who receives the packet and how
 * it left; fwd_finish() turns that into counters and the final verdict, in
 * one place, so every exit is counted exactly once.
 */
#pragma once

#include "common.h"
#include "config.h"
#include "counters.h"
#include "drop_reasons.h"
#include "events.h"

DECLARE_CONFIG(__u8, cfg_host_routing, 1,
	       "1 (veth): forward in BPF, bpf_redirect_peer to local pods and FIB lookup + redirect off the node; "
	       "0 (veth-legacy): count, then hand every packet to the host stack and its routing table.");

struct fwd_state {
	__u32 len;        /* skb->len at entry: what the counters add */
	__u32 path;       /* enum forward_path; FORWARD_PATH_NONE until decided */
	__u32 src_ep_id;  /* sending endpoint (from_container), 0 when unknown */
	__u32 dst_ep_id;  /* receiving local endpoint, 0 when none */
};

static __always_inline int fwd_drop(enum drop_reason reason)
{
	return -(int)reason;
}

/* Hands the packet to the host stack, recording why (a FORWARD_PATH_STACK_*). */
static __always_inline int to_stack(struct fwd_state *st, enum forward_path why)
{
	st->path = why;
	return TC_ACT_OK;
}

/* True for the paths where the host stack, not the program, forwards. */
static __always_inline bool path_is_stack(__u32 path)
{
	return path >= FORWARD_PATH_STACK_LEGACY && path != FORWARD_PATH_REJECT;
}

/* Counts the packet under its path or drop reason, and under its endpoints;
 * returns the tc verdict for a worker's result `ret` (see the top). */
static __always_inline int fwd_finish(const struct fwd_state *st, int ret)
{
	struct ep_stats *s;

	if (ret < 0) {
		count_drop((__u32)(-ret), st->len);
		if (st->src_ep_id) {
			s = ep_stats_get(st->src_ep_id);
			if (s)
				fwd_counter_add(&s->drop, st->len);
		}
		return TC_ACT_SHOT;
	}
	count_path(st->path, st->len);
	if (st->src_ep_id) {
		s = ep_stats_get(st->src_ep_id);
		if (s)
			fwd_counter_add(path_is_stack(st->path) ? &s->stack : &s->egress, st->len);
	}
	if (st->dst_ep_id && st->path == FORWARD_PATH_PEER) {
		s = ep_stats_get(st->dst_ep_id);
		if (s)
			fwd_counter_add(&s->ingress, st->len);
	}
	return ret;
}
