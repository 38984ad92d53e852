// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fairway lxc: the pod side of the veth datapath.
 *
 * from_container runs at tc ingress of every pod's host-side veth, i.e. on
 * every packet a pod sends. One program for all pods: which pod sent a packet
 * comes from the endpoint map (its source address, which must belong to the
 * veth it arrived on), never from a per-pod recompile.
 *
 * veth mode (cfg_host_routing=1):
 *   to a local pod      -> MACs + TTL, bpf_redirect_peer into its namespace
 *   anywhere else       -> FIB lookup, bpf_redirect / bpf_redirect_neigh out
 *                          of the egress interface (the node's uplink)
 *   the stack's business (ARP, NDP, the node's own addresses, no route,
 *   MTU exceeded, TTL expiring) -> TC_ACT_OK, counted by reason
 *   malformed, spoofed  -> dropped, counted by drop reason
 * veth-legacy mode (cfg_host_routing=0): counted, then TC_ACT_OK for all: the
 * host routing table (and its netfilter) forwards, as without Fairway.
 *
 * Services (veth mode, cfg_tc_lb=1, lb_tc.h): before routing, a packet to a
 * service frontend is DNATed to a backend, and a backend pod's reply gets the
 * frontend's address back; a frontend without endpoints is answered with a
 * TCP RST / ICMP port unreachable, as kube-proxy's REJECT.
 *
 * Maps (all pinned by name, shared with host.o): fw_endpoints (endpoint.h),
 * fw_ep_stats, fw_fwd_paths, fw_fwd_drops (counters.h), the service maps
 * (lb.h) and fw_ct (lb_tc.h).
 */
#include "common.h"
#include "config.h"
#include "counters.h"
#include "drop_reasons.h"
#include "endpoint.h"
#include "events.h"
#include "fib.h"
#include "forward.h"
#include "l3.h"
#include "lb_tc.h"
#include "parse.h"
#include "redirect.h"

/* The endpoint that sent `pkt` on this veth, or NULL. An address that
 * belongs to another veth's pod is not this sender's. */
static __always_inline const struct endpoint_info *lxc_sender(const struct __sk_buff *ctx,
							      const struct pkt_info *pkt)
{
	const struct endpoint_info *ep = endpoint_lookup(pkt->family, &pkt->saddr);

	if (ep && ep->ifindex == ctx->ifindex)
		return ep;
	return NULL;
}

/* Decides the fate of a well-formed IP packet from a pod in veth mode.
 * Returns a tc verdict or a negated drop reason (forward.h). */
static __always_inline int lxc_forward_ip(struct __sk_buff *ctx, struct pkt_info *pkt,
					  const struct endpoint_info *src, struct fwd_state *st)
{
	const struct endpoint_info *dst;
	int ret;

	/* Not for the gateway's MAC: the stack drops or floods it, as it should. */
	if (ctx->pkt_type != PKT_TYPE_HOST)
		return to_stack(st, FORWARD_PATH_STACK_NOT_UNICAST);
	if (pkt_is_link_scoped(pkt))
		return to_stack(st, FORWARD_PATH_STACK_LINK_LOCAL);
	if (!src)
		return fwd_drop(DROP_INVALID_SOURCE);
	if (src->flags & ENDPOINT_F_STACK)
		return to_stack(st, FORWARD_PATH_STACK_ENDPOINT);

	ret = lb_handle(ctx, pkt, false);
	if (ret == LB_REJECT)
		return lb_reject(ctx, pkt, st);
	if (ret < 0)
		return ret;

	dst = endpoint_lookup(pkt->family, &pkt->daddr);
	if (dst)
		return redirect_to_endpoint(ctx, pkt, dst, st);
	return fib_forward(ctx, pkt, st);
}

static __always_inline int lxc_handle(struct __sk_buff *ctx, struct fwd_state *st)
{
	struct pkt_info pkt = {};
	const struct endpoint_info *src = NULL;
	int ret = parse_packet(ctx, &pkt);

	/* parse_packet() records the addresses before judging the header, so
	 * a malformed packet's drop is still counted for its pod. */
	if (pkt.family != L3_FAMILY_OTHER) {
		src = lxc_sender(ctx, &pkt);
		if (src)
			st->src_ep_id = src->endpoint_id;
	}
	/* veth-legacy observes only: even malformed packets are the stack's
	 * to judge, as they would be without Fairway. */
	if (!CONFIG(cfg_host_routing))
		return to_stack(st, FORWARD_PATH_STACK_LEGACY);
	if (parse_failed(ret))
		return ret;
	if (ret == PARSE_L2)
		return to_stack(st, FORWARD_PATH_STACK_NOT_IP);
	return lxc_forward_ip(ctx, &pkt, src, st);
}

SEC("tc")
int from_container(struct __sk_buff *ctx)
{
	struct fwd_state st = { .len = ctx->len };

	return fwd_finish(&st, lxc_handle(ctx, &st));
}

char _license[] SEC("license") = "Dual BSD/GPL";
