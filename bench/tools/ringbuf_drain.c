// The ceiling for bench/ringbuf.ts: a plain libbpf consumer in C that drains a
// pinned ring buffer of bench_event records and checks the per-CPU sequence.
// Usage: ringbuf_drain <pinned ringbuf path>
// Prints "ready" when polling, and on SIGTERM/SIGINT one JSON line:
// {"received":N,"gaps":N}
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct bench_event {
  uint8_t hdr[16];
  uint64_t seq;
  uint32_t cpu;
  uint32_t index;
};

#define MAX_CPUS 256
static uint64_t next_seq[MAX_CPUS];
static int seen_cpu[MAX_CPUS];
static uint64_t received, gaps;
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static int on_sample(void *ctx, void *data, size_t len) {
  (void)ctx;
  if (len < sizeof(struct bench_event)) return 0;
  const struct bench_event *e = data;
  uint32_t cpu = e->cpu % MAX_CPUS;
  if (seen_cpu[cpu] && e->seq != next_seq[cpu]) gaps++;
  seen_cpu[cpu] = 1;
  next_seq[cpu] = e->seq + 1;
  received++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <pinned ringbuf>\n", argv[0]);
    return 2;
  }
  int fd = bpf_obj_get(argv[1]);
  if (fd < 0) {
    fprintf(stderr, "bpf_obj_get %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct ring_buffer *rb = ring_buffer__new(fd, on_sample, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "ring_buffer__new: %s\n", strerror(errno));
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("ready\n");
  fflush(stdout);
  while (!stop) ring_buffer__poll(rb, 100);
  ring_buffer__consume(rb);
  printf("{\"received\":%llu,\"gaps\":%llu}\n", (unsigned long long)received, (unsigned long long)gaps);
  ring_buffer__free(rb);
  return 0;
}
