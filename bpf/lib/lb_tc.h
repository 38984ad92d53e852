/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: the per-packet service load balancer (IPv4), for what the socket
 * LB cannot see: pods or nodes whose sockets are not under the node's cgroup
 * root, the socket LB switched off, and traffic from other nodes and from
 * outside (NodePort, ExternalIP, LoadBalancer IPs).
 *
 * New flow to a frontend: pick a backend (lb.h), DNAT to it, and record two
 * connection-tracking entries in fw_ct4:
 *   forward  {client -> frontend}          -> backend (and SNAT, if any)
 *   reverse  {backend -> client or SNAT}   -> frontend (and the client)
 * Later packets of the flow reuse the forward entry; replies hit the reverse
 * entry wherever they show up (from_container for local backends, from_netdev
 * for remote ones) and get the frontend's address back as their source.
 *
 * SNAT, when a reply would otherwise not come back through us:
 *  - hairpin: a pod reaching a service that picked that same pod. The
 *    source becomes LB4_HAIRPIN_ADDR, or the pod would answer itself.
 *  - external traffic (NodePort...) to a backend on another node: the
 *    source becomes this node's address (fw_lb_node's snat_addr), keeping
 *    the client's port unless another flow has it.
 *
 * Connection tracking is an LRU: entries age out under pressure, not by
 * timers. A TCP SYN never reuses a forward entry (a reused 5-tuple is a new
 * connection and gets a fresh backend), and a UDP flow whose backend has
 * been removed picks again. Established TCP keeps its backend even after the
 * backend leaves the service, as with kube-proxy (conntrack keeps it).
 */
#pragma once

#include "common.h"
#include "config.h"
#include "drop_reasons.h"
#include "endpoint.h"
#include "forward.h"
#include "lb.h"
#include "parse.h"
#include "reject.h"

DECLARE_CONFIG(__u8, cfg_tc_lb, 1,
	       "1: translate service frontends per packet with DNAT, connection tracking and reverse NAT; 0: leave services to the socket LB.");

#define LB_CT4_MAP_SIZE 262144

/* 169.254.42.1: the source a hairpinned flow is given (Cilium's choice too). */
#define LB4_HAIRPIN_ADDR 0xa9fe2a01

enum ct_dir {
	CT_DIR_FWD = 0, /* as the client sent it */
	CT_DIR_REV = 1, /* as the backend answers */
};

/* ct4_entry.flags */
enum ct_flags {
	CT_F_SNAT = 1, /* the forward direction also rewrites the source */
};

struct ct4_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir; /* enum ct_dir */
	__u16 pad;
};
BUILD_BUG_ON(sizeof(struct ct4_key) != 16);

/* Forward: daddr/dport = the backend, saddr/sport = the SNAT source (CT_F_SNAT).
 * Reverse: saddr/sport = the frontend, daddr/dport = the client. */
struct ct4_entry {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 backend_id;
	__u16 rev_nat_id;
	__u8 flags; /* enum ct_flags */
	__u8 pad;
	__u32 pad2;
};
BUILD_BUG_ON(sizeof(struct ct4_entry) != 24);

/* Runtime facts about this node for the tc LB (index 0). */
struct lb_node {
	__be32 snat_addr; /* source for external traffic to remote backends; 0: never SNAT */
	__u32 pad;
};
BUILD_BUG_ON(sizeof(struct lb_node) != 8);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct4_key);
	__type(value, struct ct4_entry);
	__uint(max_entries, LB_CT4_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_ct4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_node);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_node SEC(".maps");

/* What lb4_handle() did (else it returns a negated drop reason). */
#define LB_NONE 0x100   /* not a service flow: the packet is untouched */
#define LB_XLATED 0x101 /* translated (a flow to a frontend, or a reply): route pkt as it now is */
#define LB_REJECT 0x102 /* a frontend without endpoints: the caller answers with RST / ICMP */

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

static __always_inline bool lb_l4_ok(const struct pkt_info *pkt)
{
	return pkt->family == L3_FAMILY_IPV4 && !pkt->fragment && pkt->l4_off &&
	       (pkt->l4_proto == IPPROTO_TCP || pkt->l4_proto == IPPROTO_UDP);
}

static __always_inline __u32 l4_csum_off(const struct pkt_info *pkt)
{
	return pkt->l4_off + (pkt->l4_proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							   : offsetof(struct udphdr, check));
}

/* Rewrites the source (dst=false) or destination (dst=true) address and
 * port, fixing the IP and L4 checksums incrementally, and updates pkt.
 * Returns 0 or a negated drop reason. */
static __always_inline int nat4_rewrite(struct __sk_buff *ctx, struct pkt_info *pkt, bool dst,
					__be32 addr, __be16 port)
{
	__u32 addr_off = pkt->l3_off + (dst ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
	__u32 port_off = pkt->l4_off + (dst ? 2 : 0);
	__u32 csum_off = l4_csum_off(pkt);
	__u64 mangled = pkt->l4_proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__be32 old_addr = dst ? pkt->daddr.v4 : pkt->saddr.v4;
	__be16 old_port = dst ? pkt->dport : pkt->sport;

	if (old_addr != addr) {
		if (bpf_l4_csum_replace(ctx, csum_off, old_addr, addr,
					BPF_F_PSEUDO_HDR | mangled | sizeof(addr)) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_l3_csum_replace(ctx, pkt->l3_off + offsetof(struct iphdr, check), old_addr, addr,
					sizeof(addr)) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, addr_off, &addr, sizeof(addr), 0) < 0)
			return -(int)DROP_WRITE_ERROR;
	}
	if (old_port != port) {
		if (bpf_l4_csum_replace(ctx, csum_off, old_port, port, mangled | sizeof(port)) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, port_off, &port, sizeof(port), 0) < 0)
			return -(int)DROP_WRITE_ERROR;
	}
	if (dst) {
		pkt->daddr.v4 = addr;
		pkt->dport = port;
	} else {
		pkt->saddr.v4 = addr;
		pkt->sport = port;
	}
	return 0;
}

/* A reply of a translated flow: give it the frontend's source back (and the
 * client's address, when the forward direction was SNATed). LB_NONE when
 * it was not one, LB_XLATED once rewritten. */
static __always_inline int lb4_rev_nat(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	struct ct4_key key = {
		.saddr = pkt->saddr.v4,
		.daddr = pkt->daddr.v4,
		.sport = pkt->sport,
		.dport = pkt->dport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_REV,
	};
	struct ct4_entry *e = bpf_map_lookup_elem(&fw_ct4, &key);
	int ret;

	if (!e)
		return LB_NONE;
	ret = nat4_rewrite(ctx, pkt, false, e->saddr, e->sport);
	if (ret < 0)
		return ret;
	if (e->daddr != pkt->daddr.v4 || e->dport != pkt->dport) {
		ret = nat4_rewrite(ctx, pkt, true, e->daddr, e->dport);
		if (ret < 0)
			return ret;
	}
	return LB_XLATED;
}

/* A source port for an SNATed flow to `be`: the client's own when no other
 * flow holds it, else one of a few hashed alternatives. 0 when all are taken. */
static __always_inline __be16 lb4_snat_port(__be32 snat_addr, const struct ct4_entry *fwd,
					    const struct pkt_info *pkt)
{
	struct ct4_key rkey = {
		.saddr = fwd->daddr,
		.daddr = snat_addr,
		.sport = fwd->dport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_REV,
	};
	__u32 h = lb_jhash_3words(pkt->saddr.v4, pkt->sport, pkt->daddr.v4, 0x5eed);
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		struct ct4_entry *other;
		__u16 port = i == 0 ? fw_ntohs(pkt->sport) : (__u16)(32768 + ((h >> (i * 4)) % 28232));

		rkey.dport = fw_htons(port);
		other = bpf_map_lookup_elem(&fw_ct4, &rkey);
		if (!other || (other->daddr == pkt->saddr.v4 && other->dport == pkt->sport))
			return rkey.dport;
	}
	return 0;
}

/* Records both directions of a new flow. */
static __always_inline int lb4_ct_create(const struct pkt_info *pkt, const struct ct4_entry *fwd)
{
	struct ct4_key fkey = {
		.saddr = pkt->saddr.v4,
		.daddr = pkt->daddr.v4,
		.sport = pkt->sport,
		.dport = pkt->dport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_FWD,
	};
	struct ct4_key rkey = {
		.saddr = fwd->daddr,
		.daddr = (fwd->flags & CT_F_SNAT) ? fwd->saddr : pkt->saddr.v4,
		.sport = fwd->dport,
		.dport = (fwd->flags & CT_F_SNAT) ? fwd->sport : pkt->sport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_REV,
	};
	struct ct4_entry rev = {
		.saddr = pkt->daddr.v4,
		.sport = pkt->dport,
		.daddr = pkt->saddr.v4,
		.dport = pkt->sport,
		.backend_id = fwd->backend_id,
		.rev_nat_id = fwd->rev_nat_id,
	};

	if (bpf_map_update_elem(&fw_ct4, &rkey, &rev, BPF_ANY) < 0)
		return -(int)DROP_CT_FULL;
	if (bpf_map_update_elem(&fw_ct4, &fkey, fwd, BPF_ANY) < 0)
		return -(int)DROP_CT_FULL;
	return 0;
}

static __always_inline bool lb4_backend_is_local(const struct lb4_backend *be)
{
	union ip_addr a = { .v4 = be->addr };

	return endpoint_lookup(L3_FAMILY_IPV4, &a) != NULL;
}

/* Chooses the backend of a new flow to `svc` and fills the forward entry.
 * `external`: the flow came from outside the node (from_netdev). */
static __always_inline int lb4_new_flow(const struct pkt_info *pkt, const struct lb4_service *svc,
					bool external, struct ct4_entry *fwd)
{
	struct lb_client client = {
		.affinity_id = pkt->saddr.v4,
		.hash = (svc->flags & LB_F_MAGLEV)
				? lb_jhash_3words(pkt->saddr.v4, pkt->daddr.v4,
						  ((__u32)pkt->sport << 16) | pkt->dport, pkt->l4_proto)
				: bpf_get_prandom_u32(),
	};
	const struct lb4_backend *be;
	__u32 backend_id = 0;

	be = lb4_select(svc, &client, &backend_id);
	if (!be)
		return -(int)DROP_NO_BACKEND;
	fwd->daddr = be->addr;
	fwd->dport = be->port;
	fwd->backend_id = backend_id;
	fwd->rev_nat_id = svc->rev_nat_id;
	if (be->addr == pkt->saddr.v4) {
		fwd->flags = CT_F_SNAT;
		fwd->saddr = fw_htonl(LB4_HAIRPIN_ADDR);
		fwd->sport = pkt->sport;
	} else if (external && !lb4_backend_is_local(be)) {
		__u32 zero = 0;
		struct lb_node *node = bpf_map_lookup_elem(&fw_lb_node, &zero);

		if (node && node->snat_addr) {
			fwd->flags = CT_F_SNAT;
			fwd->saddr = node->snat_addr;
			fwd->sport = lb4_snat_port(node->snat_addr, fwd, pkt);
			if (!fwd->sport)
				return -(int)DROP_NAT_NO_PORT;
		}
	}
	return 0;
}

/* A packet to a service frontend: translate it (LB_XLATED, pkt now says
 * where it goes), LB_REJECT, or a negated drop reason. Not a frontend:
 * LB_NONE. */
static __always_inline int lb4_xlate(struct __sk_buff *ctx, struct pkt_info *pkt, bool external)
{
	struct ct4_key fkey = {
		.saddr = pkt->saddr.v4,
		.daddr = pkt->daddr.v4,
		.sport = pkt->sport,
		.dport = pkt->dport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_FWD,
	};
	const struct lb4_service *svc = lb4_lookup_service(pkt->daddr.v4, pkt->dport, pkt->l4_proto);
	struct ct4_entry *cached;
	struct ct4_entry fwd = {};
	bool syn = pkt->l4_proto == IPPROTO_TCP &&
		   (pkt->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	int ret;

	/* Not a frontend: one lookup and done. (So a flow outlives a change of
	 * its service's backends, but not the deletion of the service.) */
	if (!svc)
		return LB_NONE;
	cached = bpf_map_lookup_elem(&fw_ct4, &fkey);
	if (cached && !syn &&
	    (pkt->l4_proto == IPPROTO_TCP || bpf_map_lookup_elem(&fw_lb4_backends, &cached->backend_id))) {
		fwd = *cached;
	} else {
		if (svc->action == LB_ACTION_REJECT)
			return LB_REJECT;
		if (svc->action == LB_ACTION_DROP)
			return -(int)DROP_NO_SERVICE_LOCAL;
		ret = lb4_new_flow(pkt, svc, external, &fwd);
		if (ret < 0)
			return ret;
		ret = lb4_ct_create(pkt, &fwd);
		if (ret < 0)
			return ret;
	}
	if (fwd.flags & CT_F_SNAT) {
		ret = nat4_rewrite(ctx, pkt, false, fwd.saddr, fwd.sport);
		if (ret < 0)
			return ret;
	}
	ret = nat4_rewrite(ctx, pkt, true, fwd.daddr, fwd.dport);
	if (ret < 0)
		return ret;
	return LB_XLATED;
}

/* The tc LB's whole per-packet work: replies first (one CT lookup), then new
 * and ongoing flows to frontends. */
static __always_inline int lb4_handle(struct __sk_buff *ctx, struct pkt_info *pkt, bool external)
{
	int ret;

	if (!CONFIG(cfg_tc_lb) || !lb_l4_ok(pkt))
		return LB_NONE;
	ret = lb4_rev_nat(ctx, pkt);
	if (ret != LB_NONE)
		return ret;
	return lb4_xlate(ctx, pkt, external);
}

/* Answers a packet to a frontend without endpoints, as kube-proxy's REJECT:
 * the packet becomes a TCP RST or an ICMP port unreachable from the frontend
 * and goes back out of the interface it came in by. */
static __always_inline int lb_reject(struct __sk_buff *ctx, const struct pkt_info *pkt,
				     struct fwd_state *st)
{
	int ret = reject4(ctx, pkt);

	if (ret < 0)
		return ret;
	st->path = FORWARD_PATH_REJECT;
	return ret;
}
