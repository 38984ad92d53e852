/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: compiler macros shared by every BPF program.
 *
 * Only macros live here; no types, no kernel headers. libbpf's bpf_helpers.h
 * already defines SEC(), __always_inline, __noinline and barrier(); we add what
 * it lacks and guard everything so the include order does not matter.
 */
#pragma once

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#ifndef __maybe_unused
#define __maybe_unused __attribute__((unused))
#endif

#ifndef __packed
#define __packed __attribute__((packed))
#endif

#ifndef __aligned
#define __aligned(x) __attribute__((aligned(x)))
#endif

/* Branch hints. The verifier does not care, but clang lays out the hot path
 * straight, which keeps the common case free of taken jumps. */
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Fails the build when a layout shared with user space changes by accident.
 * Every struct that crosses the kernel/user boundary (map keys and values,
 * ring-buffer events) pins its size with this. */
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON: " #cond)

/* Force a single load/store of a shared value (a map value another CPU writes),
 * so clang neither tears nor re-reads it. */
#ifndef READ_ONCE
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Keeps a struct's BTF in the object even when the program only uses it
 * through a pointer into ring-buffer memory.
 *
 * Why: clang emits BTF only for types reachable from globals, maps and the
 * arguments of emitted functions; a struct used only by local variables of
 * always-inlined helpers (every ring-buffer event) vanishes from .BTF, and
 * scripts/gen-codecs.ts could not generate its codec. The macro emits a tiny
 * global function in .text that takes the struct as its argument. Nothing
 * calls it, so libbpf never loads it (unused .text subprograms are dropped at
 * load), but its BTF FUNC_PROTO keeps the struct. Unlike a dummy global
 * variable it adds no .bss map and no "unrecognized section" noise. Weak,
 * so objects linked together (bpftool gen object) may export the same struct. */
#define BTF_EXPORT_STRUCT(name)                                                 \
	void __btf_export_##name(struct name *arg __maybe_unused);              \
	__attribute__((weak)) void __btf_export_##name(struct name *arg __maybe_unused) {}
