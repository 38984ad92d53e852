/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: the service load balancer's maps and backend selection, shared by
 * the socket LB (sock.c, at connect/sendmsg time) and the tc LB (lb_tc.h, per
 * packet in lxc.c and host.c). IPv4 and IPv6 alike: addresses are union
 * ip_addr plus enum l3_family, as in the endpoint map, so one code path and
 * one set of maps serve both families.
 *
 * A frontend (service address, port, protocol) maps to a *backend set*:
 *
 *   fw_lb_services  {addr, port, proto, family} -> {set_id, count, rev_nat_id, action, flags, affinity}
 *   fw_lb_slots     {set_id, slot}       -> backend_id        (random: slot = rand % count)
 *   fw_lb_maglev    set_id               -> u32[cfg_maglev_size] backend_ids (Maglev)
 *   fw_lb_backends  backend_id           -> {addr, port, proto, family, flags}
 *   fw_lb_revnat    rev_nat_id           -> {addr, port, proto, kind} (the frontend, for replies)
 *   fw_lb_affinity  {client, rev_nat_id} -> {backend_id, last_used}   (LRU)
 *
 * Sets are immutable once the service points at them: the agent writes a new
 * set under a fresh set_id, then switches the service entry with ONE map
 * update, then deletes the old set. A lookup therefore sees the old set or
 * the new one, never a mix and never an empty one. A reader that raced the
 * delete of the old set finds no slot and retries nothing: the packet is
 * dropped (DROP_NO_BACKEND) and the client's retransmit sees the new set.
 *
 * Every lookup is a hash lookup: the number of services and backends changes
 * what the maps hold, never how many lookups a packet costs.
 */
#pragma once

#include "common.h"
#include "config.h"

/* Map sizes. The agent can raise them at load (max_entries). */
#define LB_SERVICES_MAP_SIZE 65536
#define LB_BACKENDS_MAP_SIZE 65536
#define LB_SLOTS_MAP_SIZE 262144
#define LB_MAGLEV_MAP_SIZE 4096
#define LB_REVNAT_MAP_SIZE 65536
#define LB_AFFINITY_MAP_SIZE 65536

/* Maglev table size the object is compiled with (the paper's 65537 is the
 * usual large choice; Cilium's default is 16381). The agent may load the
 * object with another prime: it sets fw_lb_maglev's value size and
 * cfg_maglev_size together. */
#define LB_MAGLEV_DEFAULT_SIZE 16381

DECLARE_CONFIG(__u32, cfg_maglev_size, 16381,
	       "Entries in each Maglev table, a prime: the value size of fw_lb_maglev is 4 times this.");

enum lb_action {
	LB_ACTION_FORWARD = 0, /* pick a backend */
	LB_ACTION_REJECT = 1,  /* no usable endpoint: TCP RST / ICMP port unreachable (connect: ECONNREFUSED) */
	LB_ACTION_DROP = 2,    /* Local traffic policy, no endpoint on this node: drop */
};

/* lb_service.flags */
enum lb_service_flags {
	LB_F_MAGLEV = 1,   /* select with the set's Maglev table, not at random */
	LB_F_AFFINITY = 2, /* sessionAffinity: ClientIP */
	LB_F_EXTERNAL = 4, /* NodePort, ExternalIP or LoadBalancer frontend */
};

/* lb_backend.flags */
enum lb_backend_flags {
	LB_BACKEND_TERMINATING = 1, /* serving + terminating (used only because nothing is ready) */
};

struct lb_key {
	union ip_addr addr;
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP / IPPROTO_UDP / IPPROTO_SCTP */
	__u8 family; /* enum l3_family */
};
BUILD_BUG_ON(sizeof(struct lb_key) != 20);

struct lb_service {
	__u32 set_id;           /* the backend set in use; 0 with action != FORWARD */
	__u32 count;            /* backends in the set (slots 0..count-1) */
	__u16 rev_nat_id;       /* the frontend's ID: key of fw_lb_revnat and of affinity */
	__u8 action;            /* enum lb_action */
	__u8 flags;             /* enum lb_service_flags */
	__u32 affinity_timeout; /* seconds; with LB_F_AFFINITY */
};
BUILD_BUG_ON(sizeof(struct lb_service) != 16);

struct lb_slot_key {
	__u32 set_id;
	__u32 slot;
};
BUILD_BUG_ON(sizeof(struct lb_slot_key) != 8);

struct lb_backend {
	union ip_addr addr;
	__be16 port;
	__u8 proto;
	__u8 flags;  /* enum lb_backend_flags */
	__u8 family; /* enum l3_family */
	__u8 pad[3];
};
BUILD_BUG_ON(sizeof(struct lb_backend) != 24);

/* What a frontend is, so that the agent can rebuild its IDs after a restart. */
enum lb_frontend_kind {
	LB_KIND_CLUSTER_IP = 0,
	LB_KIND_NODE_PORT = 1,
	LB_KIND_EXTERNAL_IP = 2,
	LB_KIND_LOAD_BALANCER = 3,
};

struct lb_revnat {
	union ip_addr addr;
	__be16 port;
	__u8 proto;
	__u8 kind;   /* enum lb_frontend_kind */
	__u8 family; /* enum l3_family */
	__u8 pad[3];
};
BUILD_BUG_ON(sizeof(struct lb_revnat) != 24);

/* Who is sticky: the client's netns (socket LB) or its address (tc LB). */
struct lb_affinity_key {
	__u64 netns_cookie; /* socket LB; 0 for the tc LB */
	union ip_addr client; /* tc LB; zero for the socket LB */
	__u16 rev_nat_id;
	__u8 family;
	__u8 pad[5];
};
BUILD_BUG_ON(sizeof(struct lb_affinity_key) != 32);

struct lb_affinity {
	__u64 last_used_ns; /* bpf_ktime_get_ns() */
	__u32 backend_id;
	__u32 pad;
};
BUILD_BUG_ON(sizeof(struct lb_affinity) != 16);

struct lb_maglev_table {
	__u32 backend_ids[LB_MAGLEV_DEFAULT_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_key);
	__type(value, struct lb_service);
	__uint(max_entries, LB_SERVICES_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_slot_key);
	__type(value, __u32);
	__uint(max_entries, LB_SLOTS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_slots SEC(".maps");

/* Not preallocated: only Maglev services' sets take memory (4 * size bytes each). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb_maglev_table);
	__uint(max_entries, LB_MAGLEV_MAP_SIZE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb_backend);
	__uint(max_entries, LB_BACKENDS_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb_revnat);
	__uint(max_entries, LB_REVNAT_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_affinity_key);
	__type(value, struct lb_affinity);
	__uint(max_entries, LB_AFFINITY_MAP_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fw_lb_affinity SEC(".maps");

/* addr's unused bytes must be zero (pkt_info's are). */
static __always_inline const struct lb_service *lb_lookup_service(__u8 family, const union ip_addr *addr,
								  __be16 port, __u8 proto)
{
	struct lb_key key = { .port = port, .proto = proto, .family = family };

	key.addr = *addr;
	return bpf_map_lookup_elem(&fw_lb_services, &key);
}


/* The backend ID a still-valid affinity entry names, or 0. */
static __always_inline __u32 lb_affinity_get(const struct lb_service *svc,
					     const struct lb_affinity_key *key, __u64 now)
{
	struct lb_affinity *a = bpf_map_lookup_elem(&fw_lb_affinity, key);

	if (!a)
		return 0;
	if (now - a->last_used_ns > (__u64)svc->affinity_timeout * 1000000000ULL)
		return 0;
	a->last_used_ns = now;
	return a->backend_id;
}

/* Picks a backend of svc's current set; writes its ID to *id. NULL when the
 * set has gone (raced an update) or is empty. Who it is for: netns_cookie
 * (socket LB) or client (tc LB) for sticky sessions, `hash` for Maglev (a
 * flow hash) or the random pick. */
static __always_inline const struct lb_backend *lb_select(const struct lb_service *svc,
							  __u8 family, __u64 netns_cookie,
							  const union ip_addr *client, __u32 hash,
							  __u32 *id)
{
	struct lb_affinity_key akey = {};
	const struct lb_backend *be;
	__u64 now = 0;
	__u32 backend_id = 0;

	if (svc->count == 0)
		return NULL;
	if (svc->flags & LB_F_AFFINITY) {
		akey.netns_cookie = netns_cookie;
		akey.client = *client;
		akey.rev_nat_id = svc->rev_nat_id;
		akey.family = family;
		now = bpf_ktime_get_ns();
		backend_id = lb_affinity_get(svc, &akey, now);
		if (backend_id) {
			be = bpf_map_lookup_elem(&fw_lb_backends, &backend_id);
			if (be) {
				*id = backend_id;
				return be;
			}
		}
	}
	if (svc->flags & LB_F_MAGLEV) {
		__u32 set_id = svc->set_id;
		struct lb_maglev_table *t = bpf_map_lookup_elem(&fw_lb_maglev, &set_id);
		__u32 idx = hash % CONFIG(cfg_maglev_size);

		if (!t || idx >= CONFIG(cfg_maglev_size))
			return NULL;
		backend_id = t->backend_ids[idx];
	} else {
		struct lb_slot_key skey = { .set_id = svc->set_id, .slot = hash % svc->count };
		__u32 *slot = bpf_map_lookup_elem(&fw_lb_slots, &skey);

		if (!slot)
			return NULL;
		backend_id = *slot;
	}
	be = bpf_map_lookup_elem(&fw_lb_backends, &backend_id);
	if (!be || be->family != family)
		return NULL;
	if (svc->flags & LB_F_AFFINITY) {
		struct lb_affinity a = { .last_used_ns = now, .backend_id = backend_id };

		bpf_map_update_elem(&fw_lb_affinity, &akey, &a, BPF_ANY);
	}
	*id = backend_id;
	return be;
}

/* The frontend address replies must come from, or NULL when the frontend is gone. */
static __always_inline const struct lb_revnat *lb_revnat_get(__u32 rev_nat_id)
{
	return bpf_map_lookup_elem(&fw_lb_revnat, &rev_nat_id);
}

/* Folds an address into one word for hashing. */
static __always_inline __u32 lb_addr_fold(const union ip_addr *a)
{
	return a->v6[0] ^ a->v6[1] ^ a->v6[2] ^ a->v6[3];
}

/* Bob Jenkins' lookup3 final mix (as linux/jhash.h's jhash_3words). */
#define LB_ROL32(w, s) (((w) << (s)) | ((w) >> (32 - (s))))
static __always_inline __u32 lb_jhash_3words(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	a += 0xdeadbeef + (3 << 2) + initval;
	b += 0xdeadbeef + (3 << 2) + initval;
	c += 0xdeadbeef + (3 << 2) + initval;
	c ^= b; c -= LB_ROL32(b, 14);
	a ^= c; a -= LB_ROL32(c, 11);
	b ^= a; b -= LB_ROL32(a, 25);
	c ^= b; c -= LB_ROL32(b, 16);
	a ^= c; a -= LB_ROL32(c, 4);
	b ^= a; b -= LB_ROL32(a, 14);
	c ^= b; c -= LB_ROL32(b, 24);
	return c;
}
