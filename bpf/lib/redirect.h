/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: delivery to a pod on this node without the host stack.
 *
 * The endpoint map gives the pod's host-side veth. bpf_redirect_peer() on
 * that ifindex moves the packet to the veth's *peer* — the pod's eth0 — and
 * into the pod's namespace at ingress, in the same softirq: no backlog queue,
 * no host routing, no host netfilter. It only works from tc ingress and only
 * into another namespace (the kernel drops it otherwise), which is exactly
 * from_container (host veth ingress) and from_netdev (uplink ingress).
 *
 * The packet must look routed when it arrives: TTL decremented, source MAC
 * the pod's gateway (its host veth), destination MAC the pod's eth0 (anything
 * else and the pod's stack drops it as PACKET_OTHERHOST).
 */
#pragma once

#include "common.h"
#include "drop_reasons.h"
#include "endpoint.h"
#include "events.h"
#include "forward.h"
#include "l3.h"
#include "parse.h"

/* Redirects into the pod of `ep`. Returns TC_ACT_REDIRECT, TC_ACT_OK (TTL
 * expired: the stack answers) or a negated drop reason. */
static __always_inline int redirect_to_endpoint(struct __sk_buff *ctx, const struct pkt_info *pkt,
						const struct endpoint_info *ep,
						struct fwd_state *st)
{
	int ret;

	if (ep->flags & ENDPOINT_F_STACK)
		return to_stack(st, FORWARD_PATH_STACK_ENDPOINT);
	ret = l3_forward_hop(ctx, pkt);
	if (ret < 0)
		return ret;
	if (ret == L3_TTL_EXPIRED)
		return to_stack(st, FORWARD_PATH_STACK_TTL);
	ret = eth_set_macs(ctx, ep->host_mac, ep->pod_mac);
	if (ret < 0)
		return ret;
	st->path = FORWARD_PATH_PEER;
	st->dst_ep_id = ep->endpoint_id;
	if (bpf_redirect_peer(ep->ifindex, 0) != TC_ACT_REDIRECT)
		return fwd_drop(DROP_REDIRECT);
	return TC_ACT_REDIRECT;
}
