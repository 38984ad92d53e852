// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fairway host: the uplink side of the veth datapath.
 *
 * from_netdev runs at tc ingress of the node's uplink(s). A packet addressed
 * to a pod of this node (other nodes' pods, the outside world answering a
 * pod) goes straight into the pod's namespace with bpf_redirect_peer, like
 * pod-to-pod traffic in from_container. Everything else — the node's own
 * traffic, ARP, anything malformed — is the host stack's: TC_ACT_OK. This
 * program never drops what it does not understand; it only declines to
 * short-cut it.
 *
 * Services (cfg_tc_lb=1, lb_tc.h): traffic from other nodes and from outside
 * to a NodePort, ExternalIP or LoadBalancer frontend (or a ClusterIP routed
 * here) is DNATed to a backend: a local one gets it by redirect_peer, a
 * remote one by the FIB (SNATed to this node, so the reply comes back here).
 * Replies of translated flows get their frontend address back.
 *
 * veth-legacy mode (cfg_host_routing=0): counted, then TC_ACT_OK for all.
 *
 * Maps: shared with lxc.o through their pins (fw_endpoints, fw_ep_stats,
 * fw_fwd_paths, fw_fwd_drops).
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

static __always_inline int netdev_handle(struct __sk_buff *ctx, struct fwd_state *st)
{
	struct pkt_info pkt = {};
	const struct endpoint_info *dst;
	int ret;

	if (!CONFIG(cfg_host_routing))
		return to_stack(st, FORWARD_PATH_STACK_LEGACY);
	ret = parse_packet(ctx, &pkt);
	if (parse_failed(ret))
		return to_stack(st, FORWARD_PATH_STACK_UNPARSED);
	if (ret == PARSE_L2)
		return to_stack(st, FORWARD_PATH_STACK_NOT_IP);
	if (ctx->pkt_type != PKT_TYPE_HOST)
		return to_stack(st, FORWARD_PATH_STACK_NOT_UNICAST);
	ret = lb_handle(ctx, &pkt, true);
	if (ret == LB_REJECT)
		return lb_reject(ctx, &pkt, st);
	if (ret < 0)
		return ret;
	dst = endpoint_lookup(pkt.family, &pkt.daddr);
	if (!dst && ret == LB_XLATED)
		return fib_forward(ctx, &pkt, st);
	if (!dst)
		return to_stack(st, FORWARD_PATH_STACK_NOT_ENDPOINT);
	if (pkt_is_link_scoped(&pkt))
		return to_stack(st, FORWARD_PATH_STACK_LINK_LOCAL);
	return redirect_to_endpoint(ctx, &pkt, dst, st);
}

SEC("tc")
int from_netdev(struct __sk_buff *ctx)
{
	struct fwd_state st = { .len = ctx->len };

	return fwd_finish(&st, netdev_handle(ctx, &st));
}

char _license[] SEC("license") = "Dual BSD/GPL";
