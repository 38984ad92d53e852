// fairway-cni: the CNI plugin's front end, exec'd by the runtime once per pod
// operation. It carries no CNI logic: it forwards the request (CNI_* env +
// stdin) to the agent's POST /v1/cni/exec, which runs the plugin in-process,
// and prints what the agent answers. A C binary starts in ~1 ms where Node
// needs 40-200 ms, and that start-up was most of an ADD's latency.
//
// When the agent cannot be reached, or answers something that is not an exec
// reply, it execs the JS plugin (<dir of this binary>/fairway-cni.mjs) with the
// same env and stdin: every agent-down behaviour (code 11 within 1 s, DEL
// queued on disk) lives in that one place.
//
// C11 + POSIX/Linux libc only. Build: gcc -O2 -Wall -Werror -std=c11.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_STDIN (4u << 20)
#define MAX_REPLY (16u << 20)
#define CONNECT_TIMEOUT_MS 500
/* Longer than the plugin's longest agent call (ADD/GC: 60 s), so the agent's own
 * timeout answers first. */
#define REPLY_TIMEOUT_MS 70000
#define DEFAULT_SOCKET "/run/fairway/agent.sock"
#define EXEC_PATH "/v1/cni/exec"
#define JS_PLUGIN "fairway-cni.mjs"

/* CNI codes this front end can raise itself (the table is src/base/cni/errors.ts). */
enum { CNI_IO_FAILURE = 5, CNI_TRY_AGAIN_LATER = 11 };

static const char *const CNI_VARS[] = {
    "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH",
};
static const char *const SUPPORTED_VERSIONS[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

/* --- a growable byte buffer; allocation failure is fatal (exit 1 with a CNI error) */

struct buf {
  char *data;
  size_t len, cap;
};

static void die_oom(void);

static void buf_reserve(struct buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *data = realloc(b->data, cap);
  if (!data) die_oom();
  b->data = data;
  b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  buf_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* Appends s as a JSON string literal. Bytes >= 0x80 pass through (the agent
 * decodes UTF-8, replacing invalid sequences exactly as the JS plugin does). */
static void buf_json_string(struct buf *b, const char *s, size_t n) {
  buf_add(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': buf_add(b, "\\\"", 2); break;
    case '\\': buf_add(b, "\\\\", 2); break;
    case '\n': buf_add(b, "\\n", 2); break;
    case '\r': buf_add(b, "\\r", 2); break;
    case '\t': buf_add(b, "\\t", 2); break;
    default:
      if (c < 0x20) buf_printf(b, "\\u%04x", c);
      else buf_add(b, (const char *)&s[i], 1);
    }
  }
  buf_add(b, "\"", 1);
}

/* --- output */

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static const char *g_cni_version = "1.1.0";

/* Prints {cniVersion, code, msg} the way the JS plugin does and exits 1. */
static void fail(int code, const char *msg) {
  struct buf b = {0};
  buf_printf(&b, "{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":", g_cni_version, code);
  buf_json_string(&b, msg, strlen(msg));
  buf_str(&b, "}\n");
  write_all(1, b.data, b.len);
  exit(1);
}

static void die_oom(void) {
  static const char msg[] =
      "{\"cniVersion\":\"1.1.0\",\"code\":5,\"msg\":\"fairway-cni: out of memory\"}\n";
  write_all(1, msg, sizeof msg - 1);
  exit(1);
}

/* --- stdin */

/* Reads fd 0 to EOF; -1 with errno on a read error, -2 when larger than MAX_STDIN. */
static int read_stdin(struct buf *in) {
  for (;;) {
    buf_reserve(in, 65536);
    ssize_t r = read(0, in->data + in->len, in->cap - in->len - 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { /* a non-blocking stdin: wait for it */
        struct pollfd p = {.fd = 0, .events = POLLIN};
        poll(&p, 1, -1);
        continue;
      }
      return -1;
    }
    if (r == 0) break;
    in->len += (size_t)r;
    in->data[in->len] = '\0';
    if (in->len > MAX_STDIN) {
      /* Drain the rest, so the runtime's write ends normally rather than with EPIPE. */
      char sink[65536];
      while (read(0, sink, sizeof sink) > 0 || errno == EINTR) errno = 0;
      return -2;
    }
  }
  return 0;
}

/* --- a minimal scan of the netconf's top level: only string members are read.
 * Anything unexpected stops the scan; the caller then uses defaults (a
 * malformed netconf is reported by the plugin itself, agent-side or JS). */

struct scan {
  const char *p, *end;
};

static void skip_ws(struct scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static void utf8_add(struct buf *out, unsigned cp) {
  char u[4];
  if (cp < 0x80) {
    u[0] = (char)cp;
    buf_add(out, u, 1);
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    buf_add(out, u, 2);
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    buf_add(out, u, 3);
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    buf_add(out, u, 4);
  }
}

static int hex4(const char *p, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    *v <<= 4;
    if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  return 0;
}

/* Parses a JSON string at s->p into out (decoded, NUL-terminated); 0 on success. */
static int scan_string(struct scan *s, struct buf *out) {
  out->len = 0;
  buf_reserve(out, 0);
  out->data[0] = '\0';
  if (s->p >= s->end || *s->p != '"') return -1;
  s->p++;
  while (s->p < s->end) {
    char c = *s->p++;
    if (c == '"') return 0;
    if ((unsigned char)c < 0x20) return -1;
    if (c != '\\') {
      buf_add(out, &c, 1);
      continue;
    }
    if (s->p >= s->end) return -1;
    char e = *s->p++;
    static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    const char *simple = e ? strchr(escapes, e) : NULL;
    if (simple) {
      buf_add(out, &decoded[simple - escapes], 1);
    } else if (e == 'u') {
      unsigned cp, lo;
      if (s->end - s->p < 4 || hex4(s->p, &cp)) return -1;
      s->p += 4;
      if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\' &&
          s->p[1] == 'u' && !hex4(s->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        s->p += 6;
      }
      if (cp == 0) return -1; /* a NUL cannot be in a path */
      utf8_add(out, cp);
    } else {
      return -1;
    }
  }
  return -1;
}

/* Skips any JSON value (not validated beyond bracket and string structure). */
static int skip_value(struct scan *s) {
  struct buf tmp = {0};
  int depth = 0;
  skip_ws(s);
  do {
    if (s->p >= s->end) goto bad;
    char c = *s->p;
    if (c == '"') {
      if (scan_string(s, &tmp)) goto bad;
    } else if (c == '{' || c == '[') {
      depth++;
      s->p++;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) goto bad;
      s->p++;
    } else if (depth == 0) { /* a scalar at top level: up to the next delimiter */
      while (s->p < s->end && !strchr(",}] \t\r\n", *s->p)) s->p++;
    } else {
      s->p++;
    }
    skip_ws(s);
  } while (depth > 0);
  free(tmp.data);
  return 0;
bad:
  free(tmp.data);
  return -1;
}

/* The last top-level "agentSocket" and "cniVersion" strings (JSON.parse keeps the last duplicate). */
static void scan_netconf(const char *text, size_t len, struct buf *socket, struct buf *version) {
  struct scan s = {text, text + len};
  struct buf key = {0}, val = {0};
  skip_ws(&s);
  if (s.p >= s.end || *s.p++ != '{') goto out;
  skip_ws(&s);
  if (s.p < s.end && *s.p == '}') goto out;
  for (;;) {
    skip_ws(&s);
    if (scan_string(&s, &key)) goto out;
    skip_ws(&s);
    if (s.p >= s.end || *s.p++ != ':') goto out;
    skip_ws(&s);
    int wanted = !strcmp(key.data, "agentSocket") || !strcmp(key.data, "cniVersion");
    if (wanted && s.p < s.end && *s.p == '"') {
      if (scan_string(&s, &val)) goto out;
      struct buf *dst = !strcmp(key.data, "agentSocket") ? socket : version;
      dst->len = 0;
      buf_add(dst, val.data, val.len);
    } else if (skip_value(&s)) {
      goto out;
    }
    skip_ws(&s);
    if (s.p >= s.end) goto out;
    if (*s.p == ',') {
      s.p++;
      continue;
    }
    break; /* '}' or garbage: done either way */
  }
out:
  free(key.data);
  free(val.data);
}

/* --- the agent */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
    if (r < 0 && errno == EINTR) continue;
    return r < 0 ? -1 : r;
  }
}

/* Non-blocking connect with CONNECT_TIMEOUT_MS; the fd (still non-blocking) or -1. */
static int connect_agent(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  if (errno == EINPROGRESS || errno == EAGAIN) {
    int err = 0;
    socklen_t len = sizeof err;
    if (wait_fd(fd, POLLOUT, now_ms() + CONNECT_TIMEOUT_MS) == 1 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
      return fd;
  }
  close(fd);
  return -1;
}

static int send_all(int fd, const char *p, size_t n, long long deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT, deadline) == 1)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads until the peer closes (Connection: close); 0 on success. */
static int recv_all(int fd, struct buf *reply, long long deadline) {
  for (;;) {
    buf_reserve(reply, 65536);
    ssize_t r = recv(fd, reply->data + reply->len, reply->cap - reply->len - 1, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLIN, deadline) == 1)
        continue;
      return -1;
    }
    if (r == 0) return 0;
    reply->len += (size_t)r;
    reply->data[reply->len] = '\0';
    if (reply->len > MAX_REPLY) return -1;
  }
}

/* Value of header `name` (case-insensitive) in the header block [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen) {
  size_t nlen = strlen(name);
  while (h < end) {
    const char *eol = memchr(h, '\n', (size_t)(end - h));
    if (!eol) eol = end;
    if ((size_t)(eol - h) > nlen && !strncasecmp(h, name, nlen) && h[nlen] == ':') {
      const char *v = h + nlen + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      *vlen = (size_t)(ve - v);
      return v;
    }
    h = eol + 1;
  }
  return NULL;
}

/* Checks an HTTP reply is an exec reply; sets body and exit code. 0 when valid. */
static int parse_reply(const struct buf *reply, const char **body, size_t *body_len, int *code) {
  const char *r = reply->data;
  if (!r || reply->len < 12 || strncmp(r, "HTTP/1.", 7) || strncmp(r + 8, " 200", 4)) return -1;
  const char *sep = strstr(r, "\r\n\r\n");
  if (!sep) return -1;
  const char *hend = sep + 2;
  size_t vlen;
  const char *v = header(r, hend, "x-cni-exit-code", &vlen);
  if (!v || vlen == 0 || vlen > 3) return -1;
  int n = 0;
  for (size_t i = 0; i < vlen; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    n = n * 10 + (v[i] - '0');
  }
  if (n > 255) return -1;
  *body = sep + 4;
  *body_len = reply->len - (size_t)(*body - r);
  v = header(r, hend, "content-length", &vlen);
  if (v) {
    char num[24];
    if (vlen == 0 || vlen >= sizeof num) return -1;
    memcpy(num, v, vlen);
    num[vlen] = '\0';
    char *e;
    unsigned long long cl = strtoull(num, &e, 10);
    if (*e || cl > *body_len) return -1; /* a truncated reply is not a reply */
    *body_len = (size_t)cl;
  }
  *code = n;
  return 0;
}

/* One exec round trip. 0 with the plugin's output and exit code; -1 when the
 * agent cannot be reached or did not give an exec reply. */
static int call_agent(const char *socket_path, const struct buf *request, struct buf *reply,
                      const char **body, size_t *body_len, int *code) {
  int fd = connect_agent(socket_path);
  if (fd < 0) return -1;
  long long deadline = now_ms() + REPLY_TIMEOUT_MS;
  struct buf head = {0};
  buf_printf(&head,
             "POST " EXEC_PATH " HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             request->len);
  int ok = send_all(fd, head.data, head.len, deadline) == 0 &&
           send_all(fd, request->data, request->len, deadline) == 0 &&
           recv_all(fd, reply, deadline) == 0;
  free(head.data);
  close(fd);
  if (!ok) return -1;
  return parse_reply(reply, body, body_len, code);
}

/* --- the JS plugin, for everything the agent cannot answer */

/* Feeds `in` to fd 0 through a pipe; a child writes what does not fit the pipe. */
static int stdin_from(const struct buf *in) {
  int p[2];
  if (pipe(p)) return -1;
  size_t cap = 65536;
#ifdef F_GETPIPE_SZ
  int sz = fcntl(p[1], F_GETPIPE_SZ);
  if (sz > 0) cap = (size_t)sz;
#endif
  if (in->len <= cap) {
    if (in->len && write_all(p[1], in->data, in->len)) return -1;
  } else {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      close(p[0]);
      _exit(write_all(p[1], in->data, in->len) ? 1 : 0);
    }
  }
  close(p[1]);
  if (dup2(p[0], 0) < 0) return -1;
  if (p[0] != 0) close(p[0]);
  return 0;
}

static void exec_js_plugin(const struct buf *in, const char *socket_path) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  char script[PATH_MAX + 32];
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(script, sizeof script, "%s/%s", self, JS_PLUGIN);
    if (stdin_from(in) == 0) {
      char *const argv[] = {"node", script, NULL};
      execvp("node", argv);
      execv("/usr/local/bin/node", argv);
      execv("/usr/bin/node", argv);
    }
  }
  struct buf msg = {0};
  buf_printf(&msg,
             "fairway-agent is not reachable at %s, and the fallback plugin %s could not be "
             "run with node: %s",
             socket_path, n > 0 ? script : JS_PLUGIN, strerror(errno));
  fail(CNI_TRY_AGAIN_LATER, msg.data);
}

int main(void) {
  const char *command = getenv("CNI_COMMAND");
  struct buf in = {0};
  buf_reserve(&in, 0);
  in.data[0] = '\0';
  /* VERSION ignores stdin (the JS plugin does not read it either). */
  if (!command || strcmp(command, "VERSION")) {
    int r = read_stdin(&in);
    if (r == -2) fail(CNI_IO_FAILURE, "network configuration on stdin is larger than 4 MiB");
    if (r == -1) {
      char msg[256];
      snprintf(msg, sizeof msg, "reading the network configuration from stdin: %s",
               strerror(errno));
      fail(CNI_IO_FAILURE, msg);
    }
  }

  struct buf socket_path = {0}, version = {0};
  scan_netconf(in.data, in.len, &socket_path, &version);
  if (socket_path.len == 0) buf_str(&socket_path, DEFAULT_SOCKET);
  for (size_t i = 0; version.len && i < sizeof SUPPORTED_VERSIONS / sizeof *SUPPORTED_VERSIONS; i++)
    if (!strcmp(version.data, SUPPORTED_VERSIONS[i])) g_cni_version = SUPPORTED_VERSIONS[i];

  struct buf request = {0};
  buf_str(&request, "{\"env\":{");
  int first = 1;
  for (size_t i = 0; i < sizeof CNI_VARS / sizeof *CNI_VARS; i++) {
    const char *v = getenv(CNI_VARS[i]);
    if (!v) continue;
    if (!first) buf_str(&request, ",");
    first = 0;
    buf_json_string(&request, CNI_VARS[i], strlen(CNI_VARS[i]));
    buf_str(&request, ":");
    buf_json_string(&request, v, strlen(v));
  }
  buf_str(&request, "},\"stdin\":");
  buf_json_string(&request, in.data, in.len);
  buf_str(&request, "}");

  struct buf reply = {0};
  const char *body;
  size_t body_len;
  int code;
  if (call_agent(socket_path.data, &request, &reply, &body, &body_len, &code) == 0) {
    if (write_all(1, body, body_len)) return 1;
    return code;
  }
  exec_js_plugin(&in, socket_path.data);
  return 1; /* not reached: exec_js_plugin execs or fails */
}
