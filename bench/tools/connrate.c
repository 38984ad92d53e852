// SPDX-License-Identifier: Apache-2.0
/* connrate: new TCP connections per second through a service, for
 * bench/services.ts.
 *
 *   connrate server --port P [--port P2 ...] [--id NAME] [--threads T]
 *       listens on every port (all addresses; SO_REUSEPORT, one listener
 *       per thread and port), and per connection: reads the request, writes
 *       one line (NAME, or by default the local address the connection
 *       reached) and waits for the client to close. Non-blocking, one epoll
 *       loop per thread; runs until killed.
 *   connrate client --addr A --port P --seconds S --concurrency C
 *                   [--warmup W] [--timeout-ms T]
 *       C threads, each in a loop: socket, connect, send the request, read
 *       the reply line, close with SO_LINGER {1, 0} (an RST: no TIME_WAIT,
 *       so ephemeral ports never run out). Latency is connect() to the
 *       reply line, per connection. The first W seconds are not counted.
 *       Prints one JSON line:
 *         {"connections":n,"errors":e,"errors_by":{...},"attempts":a,"seconds":s,
 *          "rate":n/s,"mean_us":..,"p50_us":..,"p90_us":..,"p99_us":..,
 *          "max_us":..,"backends":{"<reply>":count,...}}
 *       Errors (refused, timed out, reset, unreachable...) are counted by
 *       kind and do not stop the run; rate counts successful connections;
 *       attempts counts every connection tried, warm-up included.
 *
 * The server closing only after the client does means neither side ever
 * sends a FIN first: no TIME_WAIT anywhere, at any rate.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 16
#define MAX_THREADS 256
#define MAX_BACKENDS 16
#define ID_LEN 64
#define REQUEST "connrate\n"

enum err_kind { E_REFUSED, E_TIMEOUT, E_RESET, E_UNREACH, E_EOF, E_OTHER, E_KINDS };
static const char *const err_names[E_KINDS] = { "refused", "timeout",	"reset",
						"unreachable", "eof", "other" };

static void die(const char *what)
{
	fprintf(stderr, "connrate: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: connrate server --port P [--port P ...] [--id NAME] [--threads T]\n"
		"       connrate client --addr A --port P --seconds S --concurrency C\n"
		"                       [--warmup W] [--timeout-ms T]\n");
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- server */

struct server_cfg {
	int ports[MAX_PORTS];
	int nports;
	const char *id;
};

/* epoll data: the fd in the low 32 bits; bit 32 set once replied, bit 33 for listeners. */
#define REPLIED (1ull << 32)
#define LISTENER (1ull << 33)

static int listen_on(int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		die("setsockopt SO_REUSEPORT");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

/* The reply: the configured id, or the local address the client reached. */
static int reply_for(int fd, const struct server_cfg *cfg, char *out)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);

	if (cfg->id)
		return snprintf(out, ID_LEN, "%s\n", cfg->id);
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0 ||
	    !inet_ntop(AF_INET, &local.sin_addr, out, ID_LEN - 1))
		return snprintf(out, ID_LEN, "unknown\n");
	return (int)strlen(strcat(out, "\n"));
}

static void accept_all(int ep, int lfd)
{
	for (;;) {
		int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "connrate: accept: %s\n", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.u64 = (uint64_t)fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl add");
	}
}

/* A connection is readable: the request (reply once), more data, or the client's close. */
static void serve_conn(int ep, struct epoll_event *e, const struct server_cfg *cfg)
{
	int fd = (int)(e->data.u64 & 0xffffffffu);
	char buf[512], reply[ID_LEN];
	ssize_t r = read(fd, buf, sizeof(buf));

	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		close(fd); /* the client closed or reset: we never send a FIN first */
		return;
	}
	if (r > 0 && !(e->data.u64 & REPLIED)) {
		int n = reply_for(fd, cfg, reply);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
					  .data.u64 = (uint64_t)fd | REPLIED };

		/* A fresh socket's send buffer takes a line whole. */
		if (write(fd, reply, (size_t)n) != n) {
			close(fd);
			return;
		}
		epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	}
}

static void *server_thread(void *arg)
{
	const struct server_cfg *cfg = arg;
	struct epoll_event events[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < cfg->nports; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		int lfd = listen_on(cfg->ports[i]);

		ev.data.u64 = (uint64_t)lfd | LISTENER;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
			die("epoll_ctl listener");
	}
	for (;;) {
		int n = epoll_wait(ep, events, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			if (events[i].data.u64 & LISTENER)
				accept_all(ep, (int)(events[i].data.u64 & 0xffffffffu));
			else
				serve_conn(ep, &events[i], cfg);
		}
	}
	return NULL;
}

static int server_main(int argc, char **argv)
{
	static struct server_cfg cfg;
	pthread_t tids[MAX_THREADS];
	int threads = 1;

	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--port") && cfg.nports < MAX_PORTS)
			cfg.ports[cfg.nports++] = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--id"))
			cfg.id = argv[++i];
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[++i]);
		else
			usage();
	}
	if (cfg.nports == 0 || threads < 1 || threads > MAX_THREADS)
		usage();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, server_thread, &cfg))
			die("pthread_create");
	pthread_join(tids[0], NULL);
	return 0;
}

/* --- client */

struct client_cfg {
	struct sockaddr_in addr;
	uint64_t warmup_end, end, timeout_ms;
};

struct backend {
	char id[ID_LEN];
	uint64_t count;
};

struct worker {
	pthread_t tid;
	const struct client_cfg *cfg;
	uint64_t *lat, n, cap, errors[E_KINDS], last_done, attempts;
	struct backend backends[MAX_BACKENDS];
	int nbackends;
};

static enum err_kind classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return E_REFUSED;
	case EINPROGRESS:
	case EAGAIN:
	case ETIMEDOUT:
		return E_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
		return E_RESET;
	case ENETUNREACH:
	case EHOSTUNREACH:
		return E_UNREACH;
	default:
		return E_OTHER;
	}
}

static void count_backend(struct worker *w, const char *id, uint64_t count)
{
	for (int i = 0; i < w->nbackends; i++) {
		if (!strcmp(w->backends[i].id, id)) {
			w->backends[i].count += count;
			return;
		}
	}
	if (w->nbackends == MAX_BACKENDS) {
		w->errors[E_OTHER] += count; /* more distinct replies than we keep: say so */
		return;
	}
	snprintf(w->backends[w->nbackends].id, ID_LEN, "%s", id);
	w->backends[w->nbackends++].count = count;
}

/* One connection; returns -1 and the error kind, or 0 with the reply in id. */
static int one_connection(const struct client_cfg *cfg, char *id, enum err_kind *kind)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	struct timeval tv = { .tv_sec = (time_t)(cfg->timeout_ms / 1000),
			      .tv_usec = (suseconds_t)(cfg->timeout_ms % 1000) * 1000 };
	int one = 1, rc = -1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Blocking connect() and read() honour these as their timeouts. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&cfg->addr, sizeof(cfg->addr)) < 0 ||
	    write(fd, REQUEST, sizeof(REQUEST) - 1) != sizeof(REQUEST) - 1) {
		*kind = classify(errno);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, id + got, ID_LEN - 1 - got);
		char *nl;

		if (r <= 0) {
			*kind = r == 0 ? E_EOF : classify(errno);
			goto out;
		}
		got += (size_t)r;
		id[got] = 0;
		nl = strchr(id, '\n');
		if (nl) {
			*nl = 0;
			rc = 0;
			goto out;
		}
		if (got == ID_LEN - 1) {
			*kind = E_OTHER;
			goto out;
		}
	}
out:
	close(fd); /* SO_LINGER {1, 0}: RST, no TIME_WAIT */
	return rc;
}

static void *client_thread(void *arg)
{
	struct worker *w = arg;
	const struct client_cfg *cfg = w->cfg;
	char id[ID_LEN];

	for (uint64_t t0 = now_ns(); t0 < cfg->end; t0 = now_ns()) {
		enum err_kind kind = E_OTHER;
		int rc = one_connection(cfg, id, &kind);
		uint64_t t1 = now_ns();

		w->attempts++;
		if (t0 < cfg->warmup_end)
			continue;
		w->last_done = t1;
		if (rc < 0) {
			w->errors[kind]++;
			continue;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
			if (!w->lat)
				die("realloc");
		}
		w->lat[w->n++] = t1 - t0;
		count_backend(w, id, 1);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)n);

	if (n == 0)
		return 0;
	return (double)v[i >= n ? n - 1 : i] / 1000.0;
}

/* Sums the workers' replies into the first worker's table (ids merged by name). */
static void merge_backends(struct worker *ws, int c)
{
	for (int t = 1; t < c; t++)
		for (int i = 0; i < ws[t].nbackends; i++)
			count_backend(&ws[0], ws[t].backends[i].id, ws[t].backends[i].count);
}

static void report(struct worker *ws, int c, uint64_t start)
{
	uint64_t n = 0, errors[E_KINDS] = { 0 }, last = start, sum = 0, total_err = 0, attempts = 0;
	uint64_t *all;

	merge_backends(ws, c);
	for (int t = 0; t < c; t++) {
		n += ws[t].n;
		attempts += ws[t].attempts;
		for (int k = 0; k < E_KINDS; k++)
			errors[k] += ws[t].errors[k];
		if (ws[t].last_done > last)
			last = ws[t].last_done;
	}
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		die("malloc");
	n = 0;
	for (int t = 0; t < c; t++) {
		memcpy(all + n, ws[t].lat, ws[t].n * sizeof(*all));
		n += ws[t].n;
	}
	for (uint64_t i = 0; i < n; i++)
		sum += all[i];
	qsort(all, n, sizeof(*all), cmp_u64);
	double secs = (double)(last - start) / 1e9;

	for (int k = 0; k < E_KINDS; k++)
		total_err += errors[k];
	printf("{\"connections\":%lu,\"errors\":%lu,\"errors_by\":{", (unsigned long)n,
	       (unsigned long)total_err);
	for (int k = 0; k < E_KINDS; k++)
		printf("%s\"%s\":%lu", k ? "," : "", err_names[k], (unsigned long)errors[k]);
	printf("},\"attempts\":%lu,\"seconds\":%.3f,\"rate\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,"
	       "\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"backends\":{",
	       (unsigned long)attempts, secs, secs > 0 ? (double)n / secs : 0, n ? (double)sum / (double)n / 1000.0 : 0,
	       pct_us(all, n, 0.50), pct_us(all, n, 0.90), pct_us(all, n, 0.99),
	       n ? (double)all[n - 1] / 1000.0 : 0);
	for (int i = 0; i < ws[0].nbackends; i++)
		printf("%s\"%s\":%lu", i ? "," : "", ws[0].backends[i].id,
		       (unsigned long)ws[0].backends[i].count);
	printf("}}\n");
	free(all);
}

static int client_main(int argc, char **argv)
{
	static struct worker ws[MAX_THREADS];
	struct client_cfg cfg = { .addr = { .sin_family = AF_INET }, .timeout_ms = 1000 };
	const char *addr = NULL;
	double seconds = 0, warmup = 0;
	int port = 0, c = 0;

	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--addr"))
			addr = argv[++i];
		else if (!strcmp(argv[i], "--port"))
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--concurrency"))
			c = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--warmup"))
			warmup = atof(argv[++i]);
		else if (!strcmp(argv[i], "--timeout-ms"))
			cfg.timeout_ms = (uint64_t)atoi(argv[++i]);
		else
			usage();
	}
	if (!addr || port <= 0 || port > 65535 || seconds <= 0 || c < 1 || c > MAX_THREADS ||
	    warmup < 0 || cfg.timeout_ms == 0)
		usage();
	if (inet_pton(AF_INET, addr, &cfg.addr.sin_addr) != 1) {
		fprintf(stderr, "connrate: bad IPv4 address %s\n", addr);
		return 2;
	}
	cfg.addr.sin_port = htons(port);
	cfg.warmup_end = now_ns() + (uint64_t)(warmup * 1e9);
	cfg.end = cfg.warmup_end + (uint64_t)(seconds * 1e9);
	for (int t = 0; t < c; t++) {
		ws[t].cfg = &cfg;
		if (pthread_create(&ws[t].tid, NULL, client_thread, &ws[t]))
			die("pthread_create");
	}
	for (int t = 0; t < c; t++)
		pthread_join(ws[t].tid, NULL);
	report(ws, c, cfg.warmup_end);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return server_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "client"))
		return client_main(argc, argv);
	usage();
}
