// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fairway sock: the socket-level service load balancer (IPv4).
 *
 * cgroup sock_addr programs, attached at the node's cgroup root, so every
 * process below it — pods and the host alike — is covered:
 *
 *   connect4     connect() to a service frontend -> connect() to a backend.
 *                TCP then never carries the service address at all: no
 *                per-packet NAT, no connection tracking.
 *   sendmsg4     the same for unconnected UDP sendto()/sendmsg().
 *   recvmsg4     UDP replies from that backend are reported as coming from
 *                the service address (recvfrom()'s source).
 *   getpeername4 getpeername() answers with the service address.
 *
 * recvmsg4 and getpeername4 learn the service address from fw_lb4_sock,
 * an LRU written at translation time, keyed by {socket cookie, backend}.
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

struct lb4_sock_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	__be32 addr;  /* the backend */
	__be16 port;
	__u16 pad;
};
BUILD_BUG_ON(sizeof(struct lb4_sock_key) != 16);

struct lb4_sock_revnat {
	__be32 addr;      /* the frontend */
	__be16 port;
	__u16 rev_nat_id; /* checked against fw_lb4_revnat: a deleted service stops rewriting */
};
BUILD_BUG_ON(sizeof(struct lb4_sock_revnat) != 8);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_sock_key);
	__type(value, struct lb4_sock_revnat);
	__uint(max_entries, LB_SOCK_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb4_sock SEC(".maps");

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

/* Rewrites ctx's destination from a frontend to one of its backends. */
static __always_inline int sock4_xlate_fwd(struct bpf_sock_addr *ctx)
{
	__u8 proto = sock_proto(ctx);
	__be32 vip = ctx->user_ip4;
	__be16 vport = (__be16)ctx->user_port;
	const struct lb4_service *svc;
	const struct lb4_backend *be;
	struct lb_client client = {};
	struct lb4_sock_key key = {};
	struct lb4_sock_revnat rev = {};
	__u32 backend_id = 0;
	__u64 cookie;

	if (!proto)
		return SYS_PROCEED;
	svc = lb4_lookup_service(vip, vport, proto);
	if (!svc)
		return SYS_PROCEED;
	if (svc->action == LB_ACTION_REJECT)
		return sock_fail(ECONNREFUSED);
	if (svc->action == LB_ACTION_DROP)
		return sock_fail(EHOSTUNREACH);

	cookie = bpf_get_socket_cookie(ctx);
	client.netns = 1;
	client.affinity_id = bpf_get_netns_cookie(ctx);
	/* Maglev needs a hash the socket keeps; the source port is not known
	 * yet at connect(). Per socket, that is as good as random. */
	client.hash = (svc->flags & LB_F_MAGLEV) ? lb_jhash_3words((__u32)cookie, (__u32)(cookie >> 32),
								   vip, vport)
						 : bpf_get_prandom_u32();
	be = lb4_select(svc, &client, &backend_id);
	if (!be)
		return sock_fail(EHOSTUNREACH);

	key.cookie = cookie;
	key.addr = be->addr;
	key.port = be->port;
	rev.addr = vip;
	rev.port = vport;
	rev.rev_nat_id = svc->rev_nat_id;
	bpf_map_update_elem(&fw_lb4_sock, &key, &rev, BPF_ANY);

	ctx->user_ip4 = be->addr;
	ctx->user_port = be->port;
	return SYS_PROCEED;
}

/* Rewrites ctx's peer from a backend back to the frontend it was reached by. */
static __always_inline int sock4_xlate_rev(struct bpf_sock_addr *ctx)
{
	struct lb4_sock_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
	};
	const struct lb4_sock_revnat *rev = bpf_map_lookup_elem(&fw_lb4_sock, &key);
	const struct lb4_revnat *fe;

	if (!rev)
		return SYS_PROCEED;
	fe = lb4_revnat_get(rev->rev_nat_id);
	if (!fe || fe->addr != rev->addr || fe->port != rev->port) {
		bpf_map_delete_elem(&fw_lb4_sock, &key);
		return SYS_PROCEED;
	}
	ctx->user_ip4 = rev->addr;
	ctx->user_port = rev->port;
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx)
{
	return sock4_xlate_fwd(ctx);
}

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock4_xlate_fwd(ctx);
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock4_xlate_rev(ctx);
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	return sock4_xlate_rev(ctx);
}

char _license[] SEC("license") = "Dual BSD/GPL";
