/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: the includes, byte-order helpers and small shared types every
 * program starts from. A program includes this first, then the concern
 * headers it needs (parse.h, events.h, config.h, drop_reasons.h).
 *
 * We build against Linux UAPI headers and libbpf's helper headers only (no
 * vmlinux.h): the datapath touches packets and maps, never kernel-internal
 * structs, so it needs no CO-RE and stays readable.
 */
#pragma once

#include <stdbool.h> /* clang's own header, not glibc's */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

/* linux/icmp.h includes linux/if.h, which includes glibc's <sys/socket.h>.
 * Under -target bpf, glibc's <gnu/stubs.h> sees no __x86_64__ and wants
 * <gnu/stubs-32.h>, which only the i386 libc headers provide. icmp.h needs
 * nothing from if.h but IFNAMSIZ, so we claim if.h's include guard and define
 * that one constant (its value is fixed ABI: 16). */
#ifndef _LINUX_IF_H
#define _LINUX_IF_H
#define IFNAMSIZ 16
#endif
#include <linux/icmp.h>
#include <linux/icmpv6.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "compiler.h"

/* Byte order. Fields that hold network-order values are typed __be16/__be32
 * (never __u16/__u32): the BTF keeps the typedef name, and the codec
 * generator turns it into Be16/Be32 on the TypeScript side, so byte order is
 * visible in both languages. Convert only at the edges, with these. */
#define fw_htons(x) bpf_htons(x)
#define fw_ntohs(x) bpf_ntohs(x)
#define fw_htonl(x) bpf_htonl(x)
#define fw_ntohl(x) bpf_ntohl(x)

/* L3 family as Fairway stores it in keys and events. Deliberately not
 * AF_INET/AF_INET6 (2/10): 4 and 6 read naturally in map dumps. */
enum l3_family {
	L3_FAMILY_OTHER = 0, /* not IP (ARP, LLDP, ...) */
	L3_FAMILY_IPV4 = 4, /* IPv4 */
	L3_FAMILY_IPV6 = 6, /* IPv6 */
};

/* An IPv4 or IPv6 address in network byte order. IPv4 uses v4 (the first 4
 * bytes); the other 12 bytes are zero, so the union compares and hashes
 * correctly as a map key. v6 comes first on purpose: `= {}` initializes a
 * union's first member only, so with v4 first the other 12 bytes would be
 * indeterminate, and clang treats reads of them as undefined (it dropped a
 * whole hash computation over such an address once). */
union ip_addr {
	__be32 v6[4];
	__be32 v4;
};
BUILD_BUG_ON(sizeof(union ip_addr) != 16);
