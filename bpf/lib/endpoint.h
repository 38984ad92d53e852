/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: the endpoint map, the one place a forwarding program learns about
 * the pods of this node.
 *
 * One entry per pod address (a dual-stack pod has two entries with the same
 * value). The agent writes an entry before it attaches from_container to the
 * pod's host-side veth, and deletes it when the pod goes. The map is pinned
 * by name, so the entries outlive the agent: pods keep their traffic while
 * the agent restarts, and the new agent finds its endpoints here.
 *
 * Shared by every program that delivers to pods (lxc.c, host.c); user space
 * reads the layouts from their BTF (src/datapath/generated/lxc.ts).
 */
#pragma once

#include "common.h"

/* Sized for a node's pods times their addresses, with room for churn: a
 * preallocated hash of this size costs about 2 MiB. */
#define ENDPOINTS_MAP_SIZE 16384

/* endpoint_info.flags */
enum endpoint_flags {
	ENDPOINT_F_STACK = 1, /* route this endpoint through the host stack, as in veth-legacy (per-pod opt-out) */
};

struct endpoint_key {
	union ip_addr addr; /* IPv4 in the first 4 bytes, the rest zero */
	__u8 family;        /* enum l3_family */
	__u8 pad[3];
};
BUILD_BUG_ON(sizeof(struct endpoint_key) != 20);

struct endpoint_info {
	__u32 ifindex;      /* host-side veth, in the node's namespace */
	__u8 pod_mac[6];    /* the pod's eth0 */
	__u8 host_mac[6];   /* the host-side veth: the pod's gateway neighbour points at it */
	__u32 endpoint_id;  /* the agent's endpoint id; key of fw_ep_stats; never 0 */
	__u32 flags;        /* enum endpoint_flags */
};
BUILD_BUG_ON(sizeof(struct endpoint_info) != 24);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, ENDPOINTS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_endpoints SEC(".maps");

/* The local endpoint that owns `addr` (family: enum l3_family), or NULL.
 * pkt_info addresses can be passed as they are: their unused bytes are zero. */
static __always_inline const struct endpoint_info *endpoint_lookup(__u8 family,
								   const union ip_addr *addr)
{
	struct endpoint_key key = { .family = family };

	key.addr = *addr;
	return bpf_map_lookup_elem(&fw_endpoints, &key);
}
