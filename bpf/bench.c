// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fairway bench: programs and maps for the benchmarks under bench/. Not part
 * of the datapath; nothing attaches it to an interface.
 *
 * bench_ringbuf_produce: run through BPF_PROG_TEST_RUN with repeat=N, each
 *   run writes cfg_events_per_run bench_events to bench_events. A reserve
 *   that fails (ring full) is counted in bench_lost, so a benchmark proves
 *   zero loss by reading 0 there and a contiguous per-CPU seq in the events.
 *   Needs a frame of at least 14 bytes as test-run data (tc programs do).
 * bench_hash: a plain preallocated hash map for the map-update benchmark,
 *   driven from user space only.
 */
#include "common.h"
#include "config.h"
#include "events.h"

/* Upper bound of cfg_events_per_run: a constant bound keeps the loop
 * verifiable (and unrollable); 64 amortises the test-run overhead well. */
#define BENCH_MAX_EVENTS_PER_RUN 64

DECLARE_CONFIG(__u32, cfg_events_per_run, 1,
	       "Events each program run writes to bench_events (1..64; larger values are capped at 64).");
DECLARE_CONFIG(__u64, cfg_submit_flags, 0,
	       "Flags for bpf_ringbuf_submit: 0 adaptive wakeup, 1 BPF_RB_NO_WAKEUP, 2 BPF_RB_FORCE_WAKEUP.");

/* Value of bench_hash: 16 bytes, the size of a typical small datapath value
 * (a counter pair, a backend address). */
struct bench_hash_value {
	__u64 counter;
	__u64 stamp_ns;
};
BUILD_BUG_ON(sizeof(struct bench_hash_value) != 16);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* Bytes; the benchmark sets it per run (setMaxEntries). 64 MiB holds
	 * 1M 32-byte events (40 bytes each with the ring's record header). */
	__uint(max_entries, 64 << 20);
} bench_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);   /* always 0 */
	__type(value, __u64); /* reservations that failed */
	__uint(max_entries, 1);
} bench_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);   /* always 0 */
	__type(value, __u64); /* next sequence number of this CPU */
	__uint(max_entries, 1);
} bench_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct bench_hash_value);
	/* ~88 MiB preallocated at this size (memlock); the benchmark may shrink it. */
	__uint(max_entries, 1 << 20);
} bench_hash SEC(".maps");

BTF_EXPORT_STRUCT(bench_event);

static __always_inline void bench_count_lost(void)
{
	__u32 key = 0;
	__u64 *lost = bpf_map_lookup_elem(&bench_lost, &key);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* Writes one bench_event with the next sequence number of this CPU. Returns
 * true when the event was written, false when the ring was full. */
static __always_inline bool bench_emit(__u64 *seq, __u32 cpu, __u32 index, __u32 ifindex)
{
	struct bench_event *ev;

	ev = bpf_ringbuf_reserve(&bench_events, sizeof(*ev), 0);
	if (!ev)
		return false;
	event_hdr_init(&ev->hdr, EVENT_BENCH, 0, sizeof(*ev), ifindex);
	/* The sequence only advances for written events, so a gap in the
	 * reader's sequence can only mean a lost record, not a failed reserve. */
	ev->seq = (*seq)++;
	ev->cpu = cpu;
	ev->index = index;
	/* Only the two wakeup bits are meaningful; anything else would make the
	 * kernel ignore the submit and leak the reservation. */
	bpf_ringbuf_submit(ev, CONFIG(cfg_submit_flags) & (BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP));
	return true;
}

SEC("tc")
int bench_ringbuf_produce(struct __sk_buff *ctx)
{
	__u32 n = CONFIG(cfg_events_per_run);
	__u32 key = 0, cpu = bpf_get_smp_processor_id();
	__u64 *seq = bpf_map_lookup_elem(&bench_seq, &key);
	__u32 i;

	if (!seq)
		return TC_ACT_OK;
	if (n > BENCH_MAX_EVENTS_PER_RUN)
		n = BENCH_MAX_EVENTS_PER_RUN;
	for (i = 0; i < BENCH_MAX_EVENTS_PER_RUN; i++) {
		if (i >= n)
			break;
		if (!bench_emit(seq, cpu, i, ctx->ifindex))
			bench_count_lost();
	}
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
