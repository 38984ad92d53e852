/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: the per-packet service load balancer (IPv4 and IPv6), for what
 * the socket LB cannot see: pods or nodes whose sockets are not under the
 * node's cgroup root, the socket LB switched off, and traffic from other
 * nodes and from outside (NodePort, ExternalIP, LoadBalancer IPs).
 *
 * New flow to a frontend: pick a backend (lb.h), DNAT to it, and record two
 * connection-tracking entries in fw_ct:
 *   forward  {client -> frontend}          -> backend (and SNAT, if any)
 *   reverse  {backend -> client or SNAT}   -> frontend (and the client)
 * Later packets of the flow reuse the forward entry; replies hit the reverse
 * entry wherever they show up (from_container for local backends, from_netdev
 * for remote ones) and get the frontend's address back as their source.
 *
 * SNAT, when a reply would otherwise not come back through us:
 *  - hairpin: a pod reaching a service that picked that same pod. The
 *    source becomes LB4_HAIRPIN_ADDR / LB6_HAIRPIN_ADDR, or the pod would
 *    answer itself.
 *  - external traffic (NodePort...) to a backend on another node: the
 *    source becomes this node's address (fw_lb_node), keeping the client's
 *    port unless another flow has it.
 *
 * Connection tracking is an LRU: entries age out under pressure, not by
 * timers. A flow keeps its backend while the backend exists (retransmitted
 * SYNs included); a SYN or a UDP flow whose backend has been removed picks
 * again. Established TCP keeps its backend even after the backend leaves the
 * service, as with kube-proxy (conntrack keeps it).
 *
 * A frontend without endpoints is answered in place (reject.h: TCP RST, or
 * ICMP / ICMPv6 port unreachable), IPv4 and IPv6 alike.
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

#define LB_CT_MAP_SIZE 262144

/* 169.254.42.1: the source a hairpinned IPv4 flow is given (Cilium's choice too). */
#define LB4_HAIRPIN_ADDR 0xa9fe2a01
/* fd00::42:1, the same for IPv6 (first and last words; the middle is zero). */
#define LB6_HAIRPIN_ADDR_HI 0xfd000000
#define LB6_HAIRPIN_ADDR_LO 0x00420001

enum ct_dir {
	CT_DIR_FWD = 0, /* as the client sent it */
	CT_DIR_REV = 1, /* as the backend answers */
};

/* ct_entry.flags */
enum ct_flags {
	CT_F_SNAT = 1, /* the forward direction also rewrites the source */
};

struct ct_key {
	union ip_addr saddr;
	union ip_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;    /* enum ct_dir */
	__u8 family; /* enum l3_family */
	__u8 pad;
};
BUILD_BUG_ON(sizeof(struct ct_key) != 40);

/* Forward: daddr/dport = the backend, saddr/sport = the SNAT source (CT_F_SNAT).
 * Reverse: saddr/sport = the frontend, daddr/dport = the client. */
struct ct_entry {
	union ip_addr saddr;
	union ip_addr daddr;
	__be16 sport;
	__be16 dport;
	__u32 backend_id;
	__u16 rev_nat_id;
	__u8 flags; /* enum ct_flags */
	__u8 pad;
};
BUILD_BUG_ON(sizeof(struct ct_entry) != 44);

/* Runtime facts about this node for the tc LB (index 0). */
struct lb_node {
	union ip_addr snat4; /* IPv4 source for external traffic to remote backends; zero: never SNAT */
	union ip_addr snat6; /* the same for IPv6 */
};
BUILD_BUG_ON(sizeof(struct lb_node) != 32);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
	__uint(max_entries, LB_CT_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_node);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_node SEC(".maps");

/* What lb_handle() did (else it returns a negated drop reason). */
#define LB_NONE 0x100   /* not a service flow: the packet is untouched */
#define LB_XLATED 0x101 /* translated (a flow to a frontend, or a reply): route pkt as it now is */
#define LB_REJECT 0x102 /* a frontend without endpoints: the caller answers with RST / ICMP */

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

static __always_inline bool lb_l4_ok(const struct pkt_info *pkt)
{
	return (pkt->family == L3_FAMILY_IPV4 || pkt->family == L3_FAMILY_IPV6) && !pkt->fragment &&
	       pkt->l4_off && (pkt->l4_proto == IPPROTO_TCP || pkt->l4_proto == IPPROTO_UDP);
}

static __always_inline bool ip_addr_eq(const union ip_addr *a, const union ip_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

static __always_inline bool ip_addr_is_zero(const union ip_addr *a)
{
	return !(a->v6[0] | a->v6[1] | a->v6[2] | a->v6[3]);
}

static __always_inline __u32 l4_csum_off(const struct pkt_info *pkt)
{
	return pkt->l4_off + (pkt->l4_proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
							   : offsetof(struct udphdr, check));
}

/* Rewrites the address at addr_off, patching the checksums that cover it:
 * IPv4's header checksum and the L4 pseudo-header; IPv6 has only the latter. */
static __always_inline int nat_rewrite_addr(struct __sk_buff *ctx, const struct pkt_info *pkt,
					    __u32 addr_off, const union ip_addr *old_addr,
					    const union ip_addr *addr, __u64 mangled)
{
	__u32 csum_off = l4_csum_off(pkt);

	if (pkt->family == L3_FAMILY_IPV4) {
		if (bpf_l4_csum_replace(ctx, csum_off, old_addr->v4, addr->v4,
					BPF_F_PSEUDO_HDR | mangled | sizeof(addr->v4)) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_l3_csum_replace(ctx, pkt->l3_off + offsetof(struct iphdr, check), old_addr->v4,
					addr->v4, sizeof(addr->v4)) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, addr_off, &addr->v4, sizeof(addr->v4), 0) < 0)
			return -(int)DROP_WRITE_ERROR;
		return 0;
	}
	{
		union ip_addr from = *old_addr, to = *addr;
		__s64 diff = bpf_csum_diff(from.v6, sizeof(from), to.v6, sizeof(to), 0);

		if (diff < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_l4_csum_replace(ctx, csum_off, 0, diff, BPF_F_PSEUDO_HDR | mangled) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, addr_off, &to, sizeof(to), 0) < 0)
			return -(int)DROP_WRITE_ERROR;
	}
	return 0;
}

/* Rewrites the source (dst=false) or destination (dst=true) address and
 * port, fixing the checksums incrementally, and updates pkt. Returns 0 or a
 * negated drop reason. */
static __always_inline int nat_rewrite(struct __sk_buff *ctx, struct pkt_info *pkt, bool dst,
				       const union ip_addr *addr, __be16 port)
{
	__u32 addr_off;
	__u32 port_off = pkt->l4_off + (dst ? 2 : 0);
	__u64 mangled = pkt->l4_proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	union ip_addr *old_addr = dst ? &pkt->daddr : &pkt->saddr;
	__be16 old_port = dst ? pkt->dport : pkt->sport;
	int ret;

	if (pkt->family == L3_FAMILY_IPV4)
		addr_off = pkt->l3_off + (dst ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr));
	else
		addr_off = pkt->l3_off + (dst ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr));
	if (!ip_addr_eq(old_addr, addr)) {
		ret = nat_rewrite_addr(ctx, pkt, addr_off, old_addr, addr, mangled);
		if (ret < 0)
			return ret;
		*old_addr = *addr;
	}
	if (old_port != port) {
		if (bpf_l4_csum_replace(ctx, l4_csum_off(pkt), old_port, port, mangled | sizeof(port)) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (bpf_skb_store_bytes(ctx, port_off, &port, sizeof(port), 0) < 0)
			return -(int)DROP_WRITE_ERROR;
		if (dst)
			pkt->dport = port;
		else
			pkt->sport = port;
	}
	return 0;
}

static __always_inline void ct_key_of(struct ct_key *key, const struct pkt_info *pkt, __u8 dir)
{
	key->saddr = pkt->saddr;
	key->daddr = pkt->daddr;
	key->sport = pkt->sport;
	key->dport = pkt->dport;
	key->proto = pkt->l4_proto;
	key->dir = dir;
	key->family = pkt->family;
}

/* A reply of a translated flow: give it the frontend's source back (and the
 * client's address, when the forward direction was SNATed). LB_NONE when
 * it was not one, LB_XLATED once rewritten. */
static __always_inline int lb_rev_nat(struct __sk_buff *ctx, struct pkt_info *pkt)
{
	struct ct_key key = {};
	struct ct_entry *e;
	int ret;

	ct_key_of(&key, pkt, CT_DIR_REV);
	e = bpf_map_lookup_elem(&fw_ct, &key);
	if (!e)
		return LB_NONE;
	ret = nat_rewrite(ctx, pkt, false, &e->saddr, e->sport);
	if (ret < 0)
		return ret;
	ret = nat_rewrite(ctx, pkt, true, &e->daddr, e->dport);
	if (ret < 0)
		return ret;
	return LB_XLATED;
}

/* A source port for an SNATed flow: the client's own when no other flow
 * holds it, else one of a few hashed alternatives. 0 when all are taken. */
static __always_inline __be16 lb_snat_port(const struct ct_entry *fwd, const struct pkt_info *pkt)
{
	struct ct_key rkey = {
		.saddr = fwd->daddr,
		.daddr = fwd->saddr,
		.sport = fwd->dport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_REV,
		.family = pkt->family,
	};
	__u32 h = lb_jhash_3words(lb_addr_fold(&pkt->saddr), pkt->sport, lb_addr_fold(&pkt->daddr), 0x5eed);
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		struct ct_entry *other;
		__u16 port = i == 0 ? fw_ntohs(pkt->sport) : (__u16)(32768 + ((h >> (i * 4)) % 28232));

		rkey.dport = fw_htons(port);
		other = bpf_map_lookup_elem(&fw_ct, &rkey);
		if (!other || (ip_addr_eq(&other->daddr, &pkt->saddr) && other->dport == pkt->sport))
			return rkey.dport;
	}
	return 0;
}

/* Records both directions of a new flow. */
static __always_inline int lb_ct_create(const struct pkt_info *pkt, const struct ct_entry *fwd)
{
	struct ct_key fkey = {};
	struct ct_key rkey = {
		.saddr = fwd->daddr,
		.sport = fwd->dport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_REV,
		.family = pkt->family,
	};
	struct ct_entry rev = {
		.saddr = pkt->daddr,
		.sport = pkt->dport,
		.daddr = pkt->saddr,
		.dport = pkt->sport,
		.backend_id = fwd->backend_id,
		.rev_nat_id = fwd->rev_nat_id,
	};

	ct_key_of(&fkey, pkt, CT_DIR_FWD);
	if (fwd->flags & CT_F_SNAT) {
		rkey.daddr = fwd->saddr;
		rkey.dport = fwd->sport;
	} else {
		rkey.daddr = pkt->saddr;
		rkey.dport = pkt->sport;
	}
	if (bpf_map_update_elem(&fw_ct, &rkey, &rev, BPF_ANY) < 0)
		return -(int)DROP_CT_FULL;
	if (bpf_map_update_elem(&fw_ct, &fkey, fwd, BPF_ANY) < 0)
		return -(int)DROP_CT_FULL;
	return 0;
}

static __always_inline void lb_hairpin_addr(__u8 family, union ip_addr *a)
{
	if (family == L3_FAMILY_IPV4) {
		a->v4 = fw_htonl(LB4_HAIRPIN_ADDR);
		return;
	}
	a->v6[0] = fw_htonl(LB6_HAIRPIN_ADDR_HI);
	a->v6[3] = fw_htonl(LB6_HAIRPIN_ADDR_LO);
}

/* Chooses the backend of a new flow to `svc` and fills the forward entry.
 * `external`: the flow came from outside the node (from_netdev). */
static __always_inline int lb_new_flow(const struct pkt_info *pkt, const struct lb_service *svc,
				       bool external, struct ct_entry *fwd)
{
	const struct lb_backend *be;
	__u32 backend_id = 0, hash;

	if (svc->flags & LB_F_MAGLEV)
		hash = lb_jhash_3words(lb_addr_fold(&pkt->saddr), lb_addr_fold(&pkt->daddr),
				       ((__u32)pkt->sport << 16) | pkt->dport, pkt->l4_proto);
	else
		hash = bpf_get_prandom_u32();
	be = lb_select(svc, pkt->family, 0, &pkt->saddr, hash, &backend_id);
	if (!be)
		return -(int)DROP_NO_BACKEND;
	fwd->daddr = be->addr;
	fwd->dport = be->port;
	fwd->backend_id = backend_id;
	fwd->rev_nat_id = svc->rev_nat_id;
	if (!external && ip_addr_eq(&be->addr, &pkt->saddr)) {
		/* A local pod reaching itself through the service. */
		fwd->flags = CT_F_SNAT;
		lb_hairpin_addr(pkt->family, &fwd->saddr);
		fwd->sport = pkt->sport;
	} else if (external && !endpoint_lookup(pkt->family, &be->addr)) {
		__u32 zero = 0;
		struct lb_node *node = bpf_map_lookup_elem(&fw_lb_node, &zero);
		const union ip_addr *snat;

		if (!node)
			return 0;
		snat = pkt->family == L3_FAMILY_IPV4 ? &node->snat4 : &node->snat6;
		if (ip_addr_is_zero(snat))
			return 0;
		fwd->flags = CT_F_SNAT;
		fwd->saddr = *snat;
		fwd->sport = lb_snat_port(fwd, pkt);
		if (!fwd->sport)
			return -(int)DROP_NAT_NO_PORT;
	}
	return 0;
}

/* A new direct connection (a SYN to a non-frontend) whose reply tuple is
 * still in fw_ct as the reverse entry of an old translated flow (the client
 * reused its source port): the entry goes, or the replies would be rewritten
 * to come from that old flow's frontend and the connection would hang. */
static __always_inline void lb_forget_stale_reply(const struct pkt_info *pkt)
{
	struct ct_key rkey = {
		.saddr = pkt->daddr,
		.daddr = pkt->saddr,
		.sport = pkt->dport,
		.dport = pkt->sport,
		.proto = pkt->l4_proto,
		.dir = CT_DIR_REV,
		.family = pkt->family,
	};

	bpf_map_delete_elem(&fw_ct, &rkey);
}

/* A packet to a service frontend: translate it (LB_XLATED, pkt now says
 * where it goes), LB_REJECT, or a negated drop reason. Not a frontend:
 * LB_NONE. */
static __always_inline int lb_xlate(struct __sk_buff *ctx, struct pkt_info *pkt, bool external)
{
	const struct lb_service *svc =
		lb_lookup_service(pkt->family, &pkt->daddr, pkt->dport, pkt->l4_proto);
	struct ct_key fkey = {};
	struct ct_entry *cached;
	struct ct_entry fwd = {};
	bool syn = pkt->l4_proto == IPPROTO_TCP &&
		   (pkt->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	int ret;

	/* Not a frontend: one lookup and done. (So a flow outlives a change of
	 * its service's backends, but not the deletion of the service.) */
	if (!svc) {
		if (syn)
			lb_forget_stale_reply(pkt);
		return LB_NONE;
	}
	ct_key_of(&fkey, pkt, CT_DIR_FWD);
	cached = bpf_map_lookup_elem(&fw_ct, &fkey);
	/* A known flow keeps its backend while the backend exists (a
	 * retransmitted SYN must reach the backend that may have answered the
	 * first one), and an established TCP flow keeps it even after the
	 * backend left (as under kube-proxy). A SYN or a UDP packet whose backend
	 * is gone picks again. */
	if (cached && (bpf_map_lookup_elem(&fw_lb_backends, &cached->backend_id) ||
		       (pkt->l4_proto == IPPROTO_TCP && !syn))) {
		fwd = *cached;
	} else {
		if (svc->action == LB_ACTION_REJECT)
			return LB_REJECT;
		if (svc->action == LB_ACTION_DROP)
			return -(int)DROP_NO_SERVICE_LOCAL;
		ret = lb_new_flow(pkt, svc, external, &fwd);
		if (ret < 0)
			return ret;
		ret = lb_ct_create(pkt, &fwd);
		if (ret < 0)
			return ret;
	}
	if (fwd.flags & CT_F_SNAT) {
		ret = nat_rewrite(ctx, pkt, false, &fwd.saddr, fwd.sport);
		if (ret < 0)
			return ret;
	}
	ret = nat_rewrite(ctx, pkt, true, &fwd.daddr, fwd.dport);
	if (ret < 0)
		return ret;
	return LB_XLATED;
}

/* The tc LB's whole per-packet work: replies first (one CT lookup), then new
 * and ongoing flows to frontends. */
static __always_inline int lb_handle(struct __sk_buff *ctx, struct pkt_info *pkt, bool external)
{
	int ret;

	if (!CONFIG(cfg_tc_lb) || !lb_l4_ok(pkt))
		return LB_NONE;
	ret = lb_rev_nat(ctx, pkt);
	if (ret != LB_NONE)
		return ret;
	return lb_xlate(ctx, pkt, external);
}

/* Answers a packet to a frontend without endpoints, as kube-proxy's REJECT:
 * the packet becomes a TCP RST or an ICMP port unreachable from the frontend
 * and goes back out of the interface it came in by. */
static __always_inline int lb_reject(struct __sk_buff *ctx, const struct pkt_info *pkt,
				     struct fwd_state *st)
{
	int ret;

	ret = reject(ctx, pkt);
	if (ret < 0)
		return ret;
	st->path = FORWARD_PATH_REJECT;
	return ret;
}
