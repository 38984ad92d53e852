// SPDX-License-Identifier: Apache-2.0
/* tcp_rr: TCP request/response, like netperf TCP_RR, for bench/datapath.ts.
 *
 *   tcp_rr server <port>
 *       accepts connections one after the other and echoes every message
 *       back, until killed;
 *   tcp_rr client <ip> <port> <seconds> [bytes]
 *       one connection, TCP_NODELAY, one `bytes`-sized message in flight:
 *       send, wait for the whole echo, repeat for `seconds`. Prints one JSON
 *       line: transactions, seconds, rate (transactions/s) and the latency
 *       of one transaction in microseconds (mean, p50, p90, p99).
 *
 * One transaction in flight makes the rate the inverse of the round-trip
 * time through the datapath and both stacks, which is what pod networking
 * adds to every RPC. Deliberately tiny: no threads, no options parsing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG 65536

static void die(const char *what)
{
	fprintf(stderr, "tcp_rr: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads exactly n bytes; 0 on EOF, -1 on error. */
static int read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r == 0)
			return 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 1;
}

static int write_full(int fd, const char *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = write(fd, buf + put, n - put);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		put += (size_t)w;
	}
	return 1;
}

static void nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("setsockopt TCP_NODELAY");
}

static void __attribute__((noreturn)) serve(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[MAX_MSG];
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	if (listen(lfd, 16) < 0)
		die("listen");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		nodelay(fd);
		/* Echo whatever arrives, in the sizes it arrives: the client
		 * waits for its whole message before sending the next. */
		for (;;) {
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r <= 0 || write_full(fd, buf, (size_t)r) < 0)
				break;
		}
		close(fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	if (i >= n)
		i = n - 1;
	return (double)v[i] / 1000.0;
}

static int client(const char *ip, int port, double seconds, size_t bytes)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[MAX_MSG];
	size_t cap = 1 << 20, n = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat)), start, end, sum = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (!lat || fd < 0)
		die("setup");
	if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
		fprintf(stderr, "tcp_rr: bad address %s\n", ip);
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("connect");
	nodelay(fd);
	memset(buf, 'x', bytes);
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	for (uint64_t t0 = start; t0 < end;) {
		uint64_t t1;

		if (write_full(fd, buf, bytes) < 0 || read_full(fd, buf, bytes) <= 0)
			die("transaction");
		t1 = now_ns();
		if (n == cap) {
			cap *= 2;
			lat = realloc(lat, cap * sizeof(*lat));
			if (!lat)
				die("realloc");
		}
		lat[n++] = t1 - t0;
		sum += t1 - t0;
		t0 = t1;
	}
	close(fd);
	double elapsed = (double)(now_ns() - start) / 1e9;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("{\"transactions\":%zu,\"seconds\":%.3f,\"rate\":%.1f,\"mean_us\":%.2f,"
	       "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f}\n",
	       n, elapsed, (double)n / elapsed, (double)sum / (double)n / 1000.0,
	       pct(lat, n, 0.50), pct(lat, n, 0.90), pct(lat, n, 0.99));
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		serve(atoi(argv[2]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "client")) {
		size_t bytes = argc == 6 ? (size_t)atoi(argv[5]) : 1;

		if (bytes < 1 || bytes > MAX_MSG) {
			fprintf(stderr, "tcp_rr: bytes must be 1..%d\n", MAX_MSG);
			return 2;
		}
		return client(argv[2], atoi(argv[3]), atof(argv[4]), bytes);
	}
	fprintf(stderr, "usage: tcp_rr server <port> | tcp_rr client <ip> <port> <seconds> [bytes]\n");
	return 2;
}
