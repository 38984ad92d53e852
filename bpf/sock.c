// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fairway sock: the socket-level service load balancer (IPv4 and IPv6).
 *
 * cgroup sock_addr programs, attached at the node's cgroup root, so every
 * process below it — pods and the host alike — is covered:
 *
 *   connect4/6     connect() to a service frontend -> connect() to a backend.
 *                  TCP then never carries the service address at all: no
 *                  per-packet NAT, no connection tracking.
 *   sendmsg4/6     the same for unconnected UDP sendto()/sendmsg().
 *   recvmsg4/6     UDP replies from that backend are reported as coming from
 *                  the service address (recvfrom()'s source).
 *   getpeername4/6 getpeername() answers with the service address.
 *
 * An IPv4-mapped address on an IPv6 socket (::ffff:10.96.0.10, a dual-stack
 * socket talking IPv4) is looked up as the IPv4 frontend and rewritten to the
 * mapped form of the IPv4 backend.
 *
 * recvmsg and getpeername learn the service address from fw_lb_sock, an LRU
 * written at translation time, keyed by {socket cookie, backend}.
 *
 * A frontend with no usable endpoint fails connect()/sendmsg() with
 * ECONNREFUSED (kube-proxy REJECTs: the client sees the same errno); a
 * frontend that drops (Local policy, no local endpoint) fails it with
 * EHOSTUNREACH rather than leaving the caller to time out.
 */
#include "common.h"
#include "config.h"
#include "lb.h"

#define LB_SOCK_MAP_SIZE 262144

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif
#ifndef EHOSTUNREACH
#define EHOSTUNREACH 113
#endif

/* sock_addr program verdicts */
#define SYS_REJECT 0
#define SYS_PROCEED 1

struct lb_sock_key {
	__u64 cookie;       /* bpf_get_socket_cookie() */
	union ip_addr addr; /* the backend */
	__be16 port;
	__u8 family;
	__u8 pad[5];
};
BUILD_BUG_ON(sizeof(struct lb_sock_key) != 32);

struct lb_sock_revnat {
	union ip_addr addr; /* the frontend */
	__be16 port;
	__u16 rev_nat_id;   /* checked against fw_lb_revnat: a deleted service stops rewriting */
};
BUILD_BUG_ON(sizeof(struct lb_sock_revnat) != 20);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_sock_key);
	__type(value, struct lb_sock_revnat);
	__uint(max_entries, LB_SOCK_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_sock SEC(".maps");

/* ctx->protocol as the service maps spell it, or 0 for what we leave alone. */
static __always_inline __u8 sock_proto(const struct bpf_sock_addr *ctx)
{
	switch (ctx->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		return (__u8)ctx->protocol;
	default:
		return 0;
	}
}

static __always_inline int sock_fail(int errno_value)
{
	bpf_set_retval(-errno_value);
	return SYS_REJECT;
}

/* The destination of ctx as an address of `family`. An IPv4-mapped IPv6
 * address reads as IPv4 (*mapped = true). */
static __always_inline __u8 sock_addr_get(const struct bpf_sock_addr *ctx, __u8 family,
					  union ip_addr *a, bool *mapped)
{
	if (family == L3_FAMILY_IPV4) {
		a->v4 = ctx->user_ip4;
		return L3_FAMILY_IPV4;
	}
	a->v6[0] = ctx->user_ip6[0];
	a->v6[1] = ctx->user_ip6[1];
	a->v6[2] = ctx->user_ip6[2];
	a->v6[3] = ctx->user_ip6[3];
	if (a->v6[0] == 0 && a->v6[1] == 0 && a->v6[2] == fw_htonl(0xffff)) {
		a->v4 = a->v6[3];
		a->v6[1] = a->v6[2] = a->v6[3] = 0;
		*mapped = true;
		return L3_FAMILY_IPV4;
	}
	return L3_FAMILY_IPV6;
}

/* Writes `a` as ctx's address: sock_family is the hook's (a constant, so the
 * other family's context fields are never touched: the verifier refuses
 * user_ip6 in connect4 even on a path that cannot run). */
static __always_inline void sock_addr_set(struct bpf_sock_addr *ctx, __u8 sock_family, bool mapped,
					  const union ip_addr *a)
{
	if (sock_family == L3_FAMILY_IPV4) {
		ctx->user_ip4 = a->v4;
		return;
	}
	if (mapped) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = fw_htonl(0xffff);
		ctx->user_ip6[3] = a->v4;
		return;
	}
	ctx->user_ip6[0] = a->v6[0];
	ctx->user_ip6[1] = a->v6[1];
	ctx->user_ip6[2] = a->v6[2];
	ctx->user_ip6[3] = a->v6[3];
}

/* Rewrites ctx's destination from a frontend to one of its backends.
 * sock_family: the hook's family (connect4 or connect6...). */
static __always_inline int sock_xlate_fwd(struct bpf_sock_addr *ctx, __u8 sock_family)
{
	__u8 proto = sock_proto(ctx);
	__be16 vport = (__be16)ctx->user_port;
	const struct lb_service *svc;
	const struct lb_backend *be;
	struct lb_sock_key key = {};
	struct lb_sock_revnat rev = {};
	union ip_addr vip = {}, no_addr = {};
	bool mapped = false;
	__u32 backend_id = 0, hash;
	__u64 cookie;
	__u8 family;

	if (!proto)
		return SYS_PROCEED;
	family = sock_addr_get(ctx, sock_family, &vip, &mapped);
	svc = lb_lookup_service(family, &vip, vport, proto);
	if (!svc)
		return SYS_PROCEED;
	if (svc->action == LB_ACTION_REJECT)
		return sock_fail(ECONNREFUSED);
	if (svc->action == LB_ACTION_DROP)
		return sock_fail(EHOSTUNREACH);

	cookie = bpf_get_socket_cookie(ctx);
	/* Maglev needs a hash the socket keeps; the source port is not known
	 * yet at connect(). Per socket, that is as good as random. */
	if (svc->flags & LB_F_MAGLEV)
		hash = lb_jhash_3words((__u32)cookie, (__u32)(cookie >> 32), lb_addr_fold(&vip), vport);
	else
		hash = bpf_get_prandom_u32();
	be = lb_select(svc, family, bpf_get_netns_cookie(ctx), &no_addr, hash, &backend_id);
	if (!be)
		return sock_fail(EHOSTUNREACH);

	key.cookie = cookie;
	key.addr = be->addr;
	key.port = be->port;
	key.family = family;
	rev.addr = vip;
	rev.port = vport;
	rev.rev_nat_id = svc->rev_nat_id;
	bpf_map_update_elem(&fw_lb_sock, &key, &rev, BPF_ANY);

	sock_addr_set(ctx, sock_family, mapped, &be->addr);
	ctx->user_port = be->port;
	return SYS_PROCEED;
}

/* Rewrites ctx's peer from a backend back to the frontend it was reached by. */
static __always_inline int sock_xlate_rev(struct bpf_sock_addr *ctx, __u8 sock_family)
{
	struct lb_sock_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.port = (__be16)ctx->user_port,
	};
	const struct lb_sock_revnat *rev;
	const struct lb_revnat *fe;
	bool mapped = false;

	key.family = sock_addr_get(ctx, sock_family, &key.addr, &mapped);
	rev = bpf_map_lookup_elem(&fw_lb_sock, &key);
	if (!rev)
		return SYS_PROCEED;
	fe = lb_revnat_get(rev->rev_nat_id);
	if (!fe || fe->port != rev->port || fe->addr.v6[0] != rev->addr.v6[0] ||
	    fe->addr.v6[1] != rev->addr.v6[1] || fe->addr.v6[2] != rev->addr.v6[2] ||
	    fe->addr.v6[3] != rev->addr.v6[3]) {
		bpf_map_delete_elem(&fw_lb_sock, &key);
		return SYS_PROCEED;
	}
	sock_addr_set(ctx, sock_family, mapped, &rev->addr);
	ctx->user_port = rev->port;
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, L3_FAMILY_IPV4);
}

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, L3_FAMILY_IPV4);
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, L3_FAMILY_IPV4);
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, L3_FAMILY_IPV4);
}

SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, L3_FAMILY_IPV6);
}

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_fwd(ctx, L3_FAMILY_IPV6);
}

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, L3_FAMILY_IPV6);
}

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr *ctx)
{
	return sock_xlate_rev(ctx, L3_FAMILY_IPV6);
}

char _license[] SEC("license") = "Dual BSD/GPL";
