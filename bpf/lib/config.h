/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fairway: load-time configuration.
 *
 * A program's knobs are `const volatile` globals in .rodata. The loader sets
 * them between open and load (NativeBpfObject.setGlobal); the verifier then
 * sees them as constants and prunes the branches they switch off, so a knob
 * that is off costs nothing at run time. This is the libbpf-bootstrap pattern:
 * one compiled object, configured per load, no recompiles per node.
 *
 * Rules:
 *  - declare every knob with DECLARE_CONFIG, in the program that reads it;
 *  - the default must be an integer literal (the codec generator copies it);
 *  - the description is one sentence saying what the values mean. It is not
 *    compiled in: scripts/gen-codecs.ts reads it from the source and puts it
 *    in src/datapath/generated/<object>.ts next to the knob's codec;
 *  - runtime facts that change while loaded (per endpoint, per service) go in
 *    maps, not here; #define only compiles a feature out.
 *
 * Example:
 *	DECLARE_CONFIG(__u8, cfg_emit_events, 0,
 *		       "1: write one packet_event per packet to diag_events; 0: count only.");
 */
#pragma once

/* `volatile` stops clang from folding the default into the code at compile
 * time: the value is only known when the loader has written .rodata. */
#define DECLARE_CONFIG(type, name, default_value, description) \
	const volatile type name = (default_value)

/* Reads a knob. A plain read of a const volatile global; the macro exists so
 * config reads are easy to find. */
#define CONFIG(name) (name)
