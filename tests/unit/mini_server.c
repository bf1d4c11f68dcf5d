/**
 * mini_server.c: see mini_server.h.  Test code only.
 *
 * One accept thread polls the listening sockets; each accepted connection
 * gets its own thread (at most MS_MAX_CONNS at once), which reads requests
 * and answers them one after the other (keep-alive).  Every blocking step is
 * a poll() of at most MS_SLICE_MS followed by a look at the stop flag, and
 * every loop also has a time bound.
 */
#include "mini_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MS_SLICE_MS     50
#define MS_MAX_CONNS    64
#define MS_IDLE_MS      15000 /* a keep-alive connection with no request */
#define MS_WRITE_MAX_MS 10000 /* one (finite) response */
#define MS_HEAD_MAX     16384
#define MS_BODY_MAX     65536
#define MS_BUF_SIZE     (MS_HEAD_MAX + MS_BODY_MAX)
#define MS_FILL_PIECE   16384

typedef struct {
  pthread_t tid;
  bool used;     /* a thread was started in this slot */
  bool finished; /* ... and has ended (join it) */
} ms_slot_t;

struct mini_server_s {
  int tcp_fd;
  int unix_fd;
  char *unix_path;
  int port;
  char url[64];
  pthread_t accept_tid;
  atomic_bool stop;

  pthread_mutex_t lock; /* everything below */
  ms_route_t *routes;
  size_t n_routes;
  ms_request_t **records; /* MS_MAX_RECORDS slots */
  size_t n_records;
  unsigned connections;
  unsigned in_progress;
  unsigned max_concurrent;
  ms_slot_t slots[MS_MAX_CONNS];
};

typedef struct {
  mini_server_t *ms;
  int slot;
  int fd;
  char buf[MS_BUF_SIZE];
  size_t len; /* bytes in buf */
} ms_conn_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(mini_server_t *ms) {
  return atomic_load(&ms->stop);
}

/* Sleeps ms milliseconds in slices; false if the server is stopping. */
static bool nap(mini_server_t *ms, int ms_total) {
  int64_t end = now_ms() + ms_total;
  while (!stopping(ms)) {
    int64_t left = end - now_ms();
    if (left <= 0)
      return true;
    if (left > MS_SLICE_MS)
      left = MS_SLICE_MS;
    struct timespec ts = {0, (long)left * 1000000L};
    nanosleep(&ts, NULL);
  }
  return false;
}

/* ------------------------------------------------------------------------ */
/* Routes                                                                   */

static char *dup_or_null(const char *s) {
  return s != NULL ? strdup(s) : NULL;
}

static void route_clear(ms_route_t *r) {
  free((char *)r->method);
  free((char *)r->path);
  free((char *)r->headers);
  free((char *)r->body);
  free((char *)r->filler);
  memset(r, 0, sizeof(*r));
}

/* Deep copy; body_len is resolved.  0 or -1 (dst cleared). */
static int route_copy(ms_route_t *dst, const ms_route_t *src) {
  *dst = *src;
  dst->method = dup_or_null(src->method);
  dst->path = dup_or_null(src->path);
  dst->headers = dup_or_null(src->headers);
  dst->filler = dup_or_null(src->filler);
  dst->body = NULL;
  dst->body_len = 0;
  if (src->body != NULL) {
    size_t n = src->body_len > 0 ? src->body_len : strlen(src->body);
    char *b = malloc(n + 1);
    if (b != NULL) {
      memcpy(b, src->body, n);
      b[n] = '\0';
      dst->body = b;
      dst->body_len = n;
    }
  }
  if ((src->method && !dst->method) || (src->path && !dst->path) ||
      (src->headers && !dst->headers) || (src->filler && !dst->filler) ||
      (src->body && !dst->body)) {
    route_clear(dst);
    return -1;
  }
  return 0;
}

int ms_set_routes(mini_server_t *ms, const ms_route_t *routes, size_t n) {
  ms_route_t *copy = n > 0 ? calloc(n, sizeof(*copy)) : NULL;
  if (n > 0 && copy == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (route_copy(&copy[i], &routes[i]) != 0) {
      for (size_t k = 0; k < i; k++)
        route_clear(&copy[k]);
      free(copy);
      return -1;
    }
  }
  pthread_mutex_lock(&ms->lock);
  ms_route_t *old = ms->routes;
  size_t n_old = ms->n_routes;
  ms->routes = copy;
  ms->n_routes = n;
  pthread_mutex_unlock(&ms->lock);
  for (size_t i = 0; i < n_old; i++)
    route_clear(&old[i]);
  free(old);
  return 0;
}

int ms_add_route(mini_server_t *ms, const ms_route_t *route) {
  ms_route_t r;
  if (route_copy(&r, route) != 0)
    return -1;
  pthread_mutex_lock(&ms->lock);
  ms_route_t *grown =
      realloc(ms->routes, (ms->n_routes + 1) * sizeof(*ms->routes));
  if (grown != NULL) {
    grown[ms->n_routes++] = r;
    ms->routes = grown;
  }
  pthread_mutex_unlock(&ms->lock);
  if (grown == NULL) {
    route_clear(&r);
    return -1;
  }
  return 0;
}

/* Copies the first route matching into out; false when none does. */
static bool route_find(mini_server_t *ms, const char *method, const char *path,
                       ms_route_t *out) {
  bool found = false;
  pthread_mutex_lock(&ms->lock);
  for (size_t i = 0; i < ms->n_routes && !found; i++) {
    const ms_route_t *r = &ms->routes[i];
    if (r->method != NULL && strcmp(r->method, method) != 0)
      continue;
    if (r->path == NULL)
      continue;
    bool match = r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
                           : strcmp(path, r->path) == 0;
    if (match && route_copy(out, r) == 0)
      found = true;
  }
  pthread_mutex_unlock(&ms->lock);
  return found;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

size_t ms_request_count(mini_server_t *ms) {
  pthread_mutex_lock(&ms->lock);
  size_t n = ms->n_records;
  pthread_mutex_unlock(&ms->lock);
  return n;
}

const ms_request_t *ms_request(mini_server_t *ms, size_t i) {
  pthread_mutex_lock(&ms->lock);
  const ms_request_t *r = i < ms->n_records ? ms->records[i] : NULL;
  pthread_mutex_unlock(&ms->lock);
  return r;
}

size_t ms_count_path(mini_server_t *ms, const char *method, const char *path) {
  size_t n = 0;
  pthread_mutex_lock(&ms->lock);
  for (size_t i = 0; i < ms->n_records; i++) {
    const ms_request_t *r = ms->records[i];
    if ((method == NULL || strcmp(r->method, method) == 0) &&
        strcmp(r->path, path) == 0)
      n++;
  }
  pthread_mutex_unlock(&ms->lock);
  return n;
}

void ms_clear_requests(mini_server_t *ms) {
  pthread_mutex_lock(&ms->lock);
  for (size_t i = 0; i < ms->n_records; i++)
    free(ms->records[i]);
  ms->n_records = 0;
  pthread_mutex_unlock(&ms->lock);
}

bool ms_header(const ms_request_t *req, const char *name, char *out,
               size_t outsz) {
  size_t nlen = strlen(name);
  const char *p = req->headers;
  while (*p != '\0') {
    const char *eol = strstr(p, "\r\n");
    const char *end = eol != NULL ? eol : p + strlen(p);
    if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 &&
        p[nlen] == ':') {
      const char *v = p + nlen + 1;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      const char *ve = end;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      if (outsz > 0) {
        size_t n = (size_t)(ve - v) < outsz - 1 ? (size_t)(ve - v) : outsz - 1;
        memcpy(out, v, n);
        out[n] = '\0';
      }
      return true;
    }
    p = eol != NULL ? eol + 2 : end;
  }
  return false;
}

unsigned ms_connections(mini_server_t *ms) {
  pthread_mutex_lock(&ms->lock);
  unsigned n = ms->connections;
  pthread_mutex_unlock(&ms->lock);
  return n;
}

unsigned ms_max_concurrent(mini_server_t *ms) {
  pthread_mutex_lock(&ms->lock);
  unsigned n = ms->max_concurrent;
  pthread_mutex_unlock(&ms->lock);
  return n;
}

bool ms_wait_idle(mini_server_t *ms, int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  for (;;) {
    pthread_mutex_lock(&ms->lock);
    unsigned n = ms->in_progress;
    pthread_mutex_unlock(&ms->lock);
    if (n == 0)
      return true;
    if (now_ms() >= end || !nap(ms, 5))
      return false;
  }
}

void ms_reset_stats(mini_server_t *ms) {
  pthread_mutex_lock(&ms->lock);
  ms->connections = 0;
  ms->max_concurrent = ms->in_progress;
  pthread_mutex_unlock(&ms->lock);
}

/* ------------------------------------------------------------------------ */
/* One connection                                                           */

/* Waits for events on fd for at most MS_SLICE_MS; 1 ready, 0 not yet,
 * -1 error or stopping. */
static int wait_fd(mini_server_t *ms, int fd, short events) {
  if (stopping(ms))
    return -1;
  struct pollfd p = {.fd = fd, .events = events};
  int rc = poll(&p, 1, MS_SLICE_MS);
  if (rc < 0)
    return errno == EINTR ? 0 : -1;
  if (rc == 0)
    return 0;
  if ((p.revents & events) == 0)
    return -1; /* POLLERR / POLLHUP / POLLNVAL only */
  return 1;
}

static bool send_all(ms_conn_t *c, const char *data, size_t len,
                     int64_t deadline) {
  size_t off = 0;
  while (off < len) {
    if (now_ms() > deadline)
      return false;
    int w = wait_fd(c->ms, c->fd, POLLOUT);
    if (w < 0)
      return false;
    if (w == 0)
      continue;
    ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      return false;
    off += (size_t)n;
  }
  return true;
}

/* Reads more bytes into c->buf; false on close, error, stop or timeout. */
static bool recv_more(ms_conn_t *c, int64_t deadline) {
  if (c->len >= sizeof(c->buf))
    return false;
  for (;;) {
    if (now_ms() > deadline)
      return false;
    int w = wait_fd(c->ms, c->fd, POLLIN);
    if (w < 0)
      return false;
    if (w == 0)
      continue;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      return false;
    c->len += (size_t)n;
    return true;
  }
}

static const char *reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 413:
    return "Payload Too Large";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  default:
    return "Status";
  }
}

/* One piece of body, framed when chunked. */
static bool send_piece(ms_conn_t *c, const char *p, size_t n, bool chunked,
                       int64_t deadline) {
  if (n == 0)
    return true;
  if (chunked) {
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
    return send_all(c, hdr, (size_t)h, deadline) &&
           send_all(c, p, n, deadline) && send_all(c, "\r\n", 2, deadline);
  }
  return send_all(c, p, n, deadline);
}

/* Like nap(), but also ends (false) when the client hangs up. */
static bool nap_conn(ms_conn_t *c, int ms_total) {
  int64_t end = now_ms() + ms_total;
  while (!stopping(c->ms)) {
    int64_t left = end - now_ms();
    if (left <= 0)
      return true;
    struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
    int rc = poll(&p, 1, left < MS_SLICE_MS ? (int)left : MS_SLICE_MS);
    if (rc > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
      return false;
  }
  return false;
}

/* Sends the response of route r; false when the connection must close. */
static bool respond(ms_conn_t *c, const ms_route_t *r) {
  if (r->delay_ms > 0 && !nap_conn(c, r->delay_ms))
    return false;
  if (r->close_without_answer)
    return false;

  int64_t deadline =
      now_ms() + (r->endless ? MS_ENDLESS_MAX_MS : MS_WRITE_MAX_MS);
  bool chunked = r->chunked || r->endless;
  int status = r->status > 0 ? r->status : 200;
  char head[512];
  int h = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", status,
                   reason(status));
  if (!send_all(c, head, (size_t)h, deadline))
    return false;
  if (r->headers != NULL &&
      !send_all(c, r->headers, strlen(r->headers), deadline))
    return false;
  if (chunked)
    h = snprintf(head, sizeof(head), "Transfer-Encoding: chunked\r\n\r\n");
  else
    h = snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n",
                 r->body_len);
  if (!send_all(c, head, (size_t)h, deadline))
    return false;

  size_t total = r->body_len;
  if (r->send_only > 0 && r->send_only < total)
    total = r->send_only; /* truncated: closed below */
  size_t piece = r->drip_bytes > 0 ? r->drip_bytes : total;
  for (size_t off = 0; off < total; off += piece) {
    size_t n = total - off < piece ? total - off : piece;
    if (off > 0 && r->drip_pause_ms > 0 && !nap_conn(c, r->drip_pause_ms))
      return false;
    if (!send_piece(c, r->body + off, n, chunked, deadline))
      return false;
  }

  if (r->endless) {
    /* Until the client hangs up, the server stops or the time is over;
     * then close without the final chunk. */
    char spaces[MS_FILL_PIECE];
    const char *fill = r->filler;
    size_t flen = fill != NULL ? strlen(fill) : 0;
    if (flen == 0) {
      memset(spaces, ' ', sizeof(spaces));
      fill = spaces;
      flen = sizeof(spaces);
    }
    while (send_piece(c, fill, flen, true, deadline)) {
      if (r->drip_pause_ms > 0 && !nap_conn(c, r->drip_pause_ms))
        break;
    }
    return false;
  }
  if (total < r->body_len)
    return false;
  if (chunked && !send_all(c, "0\r\n\r\n", 5, deadline))
    return false;
  return true;
}

static void record(mini_server_t *ms, const char *method, const char *path,
                   const char *hdr, size_t hdr_len, const char *body,
                   size_t body_len) {
  ms_request_t *q = calloc(1, sizeof(*q));
  if (q == NULL)
    return;
  snprintf(q->method, sizeof(q->method), "%s", method);
  snprintf(q->path, sizeof(q->path), "%s", path);
  size_t n =
      hdr_len < sizeof(q->headers) - 1 ? hdr_len : sizeof(q->headers) - 1;
  memcpy(q->headers, hdr, n);
  n = body_len < sizeof(q->body) - 1 ? body_len : sizeof(q->body) - 1;
  memcpy(q->body, body, n);
  q->body_len = body_len;
  pthread_mutex_lock(&ms->lock);
  if (ms->n_records < MS_MAX_RECORDS) {
    ms->records[ms->n_records++] = q;
    q = NULL;
  }
  pthread_mutex_unlock(&ms->lock);
  free(q);
}

/* Finds header name in the head block [p, end); its value or NULL. */
static const char *head_value(const char *p, const char *end, const char *name,
                              size_t *vlen) {
  size_t nlen = strlen(name);
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (eol == NULL)
      eol = end;
    if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 &&
        p[nlen] == ':') {
      const char *v = p + nlen + 1;
      while (v < eol && (*v == ' ' || *v == '\t'))
        v++;
      *vlen = (size_t)(eol - v);
      return v;
    }
    p = eol + 2;
  }
  return NULL;
}

/* Reads and answers one request; false when the connection must close. */
static bool serve_one(ms_conn_t *c) {
  static const char bad[] =
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  mini_server_t *ms = c->ms;
  int64_t deadline = now_ms() + MS_IDLE_MS;
  char *end;

  while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
    if (c->len > 0 && (c->buf[0] < 'A' || c->buf[0] > 'Z'))
      break; /* not HTTP (a TLS hello, say): answer 400 below */
    if (c->len >= MS_HEAD_MAX || !recv_more(c, deadline))
      return false;
  }
  if (end == NULL) {
    send_all(c, bad, sizeof(bad) - 1, now_ms() + MS_SLICE_MS * 4);
    return false;
  }
  size_t head_len = (size_t)(end - c->buf) + 4;

  /* Request line: METHOD SP TARGET SP HTTP/1.x */
  char method[16], path[MS_PATH_MAX];
  const char *eol = memmem(c->buf, head_len, "\r\n", 2);
  const char *sp1 = memchr(c->buf, ' ', (size_t)(eol - c->buf));
  const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
  if (sp1 == NULL || sp2 == NULL || (size_t)(sp1 - c->buf) >= sizeof(method) ||
      (size_t)(sp2 - sp1 - 1) >= sizeof(path) || eol - sp2 - 1 < 8 ||
      memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
    send_all(c, bad, sizeof(bad) - 1, now_ms() + MS_SLICE_MS * 4);
    return false;
  }
  memcpy(method, c->buf, (size_t)(sp1 - c->buf));
  method[sp1 - c->buf] = '\0';
  memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
  path[sp2 - sp1 - 1] = '\0';
  bool http10 = sp2[8] == '0';

  const char *hdr = eol + 2;
  const char *hdr_end = c->buf + head_len - 2;
  size_t vlen = 0;
  size_t clen = 0;
  const char *v = head_value(hdr, hdr_end, "Content-Length", &vlen);
  if (v != NULL) {
    char num[24] = "";
    if (vlen == 0 || vlen >= sizeof(num))
      return false;
    memcpy(num, v, vlen);
    char *e;
    unsigned long long u = strtoull(num, &e, 10);
    if (*e != '\0' || u > MS_BODY_MAX)
      return false;
    clen = (size_t)u;
  }
  if (head_value(hdr, hdr_end, "Transfer-Encoding", &vlen) != NULL)
    return false; /* chunked request bodies are not supported */
  bool close_after =
      http10 || ((v = head_value(hdr, hdr_end, "Connection", &vlen)) != NULL &&
                 vlen >= 5 && strncasecmp(v, "close", 5) == 0);

  while (c->len < head_len + clen) {
    if (!recv_more(c, deadline))
      return false;
  }
  record(ms, method, path, hdr, (size_t)(hdr_end - hdr), c->buf + head_len,
         clen);

  /* Keep what follows (a pipelined request) for the next round. */
  size_t used = head_len + clen;
  memmove(c->buf, c->buf + used, c->len - used);
  c->len -= used;

  pthread_mutex_lock(&ms->lock);
  ms->in_progress++;
  if (ms->in_progress > ms->max_concurrent)
    ms->max_concurrent = ms->in_progress;
  pthread_mutex_unlock(&ms->lock);

  ms_route_t route;
  bool keep;
  if (route_find(ms, method, path, &route)) {
    keep = respond(c, &route);
    route_clear(&route);
  } else {
    ms_route_t nf = {.status = 404, .body = "{\"message\":\"not found\"}"};
    nf.body_len = strlen(nf.body);
    keep = respond(c, &nf);
  }

  pthread_mutex_lock(&ms->lock);
  ms->in_progress--;
  pthread_mutex_unlock(&ms->lock);
  return keep && !close_after;
}

static void *conn_main(void *arg) {
  ms_conn_t *c = arg;
  mini_server_t *ms = c->ms;
  while (serve_one(c))
    ;
  close(c->fd);
  pthread_mutex_lock(&ms->lock);
  ms->slots[c->slot].finished = true;
  pthread_mutex_unlock(&ms->lock);
  free(c);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                */

/* Joins finished connection threads; returns a free slot or -1. */
static int slot_reap(mini_server_t *ms) {
  int free_slot = -1;
  for (int i = 0; i < MS_MAX_CONNS; i++) {
    pthread_mutex_lock(&ms->lock);
    bool used = ms->slots[i].used, fin = ms->slots[i].finished;
    pthread_mutex_unlock(&ms->lock);
    if (used && fin) {
      pthread_join(ms->slots[i].tid, NULL);
      pthread_mutex_lock(&ms->lock);
      ms->slots[i].used = ms->slots[i].finished = false;
      pthread_mutex_unlock(&ms->lock);
      used = false;
    }
    if (!used && free_slot < 0)
      free_slot = i;
  }
  return free_slot;
}

static void accept_one(mini_server_t *ms, int lfd) {
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    return;
  /* Headers and body go out in separate writes: without this, each small
   * answer waits out the client's delayed ACK (40 ms). */
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int slot = slot_reap(ms);
  ms_conn_t *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
  if (c == NULL) {
    close(fd);
    return;
  }
  c->ms = ms;
  c->slot = slot;
  c->fd = fd;
  pthread_mutex_lock(&ms->lock);
  ms->connections++;
  ms->slots[slot].used = true;
  ms->slots[slot].finished = false;
  pthread_mutex_unlock(&ms->lock);
  if (pthread_create(&ms->slots[slot].tid, NULL, conn_main, c) != 0) {
    pthread_mutex_lock(&ms->lock);
    ms->slots[slot].used = false;
    pthread_mutex_unlock(&ms->lock);
    close(fd);
    free(c);
  }
}

static void *accept_main(void *arg) {
  mini_server_t *ms = arg;
  while (!stopping(ms)) {
    struct pollfd p[2] = {{.fd = ms->tcp_fd, .events = POLLIN},
                          {.fd = ms->unix_fd, .events = POLLIN}};
    int n = ms->unix_fd >= 0 ? 2 : 1;
    if (poll(p, (nfds_t)n, MS_SLICE_MS) <= 0)
      continue;
    for (int i = 0; i < n; i++) {
      if (p[i].revents & POLLIN)
        accept_one(ms, p[i].fd);
    }
  }
  /* Connection threads see the stop flag within a slice. */
  for (int i = 0; i < MS_MAX_CONNS; i++) {
    if (ms->slots[i].used)
      pthread_join(ms->slots[i].tid, NULL);
  }
  return NULL;
}

static int listen_tcp(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static int listen_unix(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(a.sun_path))
    return -1;
  memcpy(a.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  unlink(path);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

mini_server_t *ms_start(const char *unix_path) {
  mini_server_t *ms = calloc(1, sizeof(*ms));
  if (ms == NULL)
    return NULL;
  ms->tcp_fd = ms->unix_fd = -1;
  atomic_init(&ms->stop, false);
  if (pthread_mutex_init(&ms->lock, NULL) != 0) {
    free(ms);
    return NULL;
  }
  ms->records = calloc(MS_MAX_RECORDS, sizeof(*ms->records));
  ms->tcp_fd = listen_tcp(&ms->port);
  if (ms->records == NULL || ms->tcp_fd < 0)
    goto fail;
  snprintf(ms->url, sizeof(ms->url), "http://127.0.0.1:%d", ms->port);
  if (unix_path != NULL) {
    ms->unix_path = strdup(unix_path);
    if (ms->unix_path == NULL || (ms->unix_fd = listen_unix(unix_path)) < 0)
      goto fail;
  }
  if (pthread_create(&ms->accept_tid, NULL, accept_main, ms) != 0)
    goto fail;
  return ms;

fail:
  if (ms->tcp_fd >= 0)
    close(ms->tcp_fd);
  if (ms->unix_fd >= 0) {
    close(ms->unix_fd);
    unlink(ms->unix_path);
  }
  free(ms->unix_path);
  free(ms->records);
  pthread_mutex_destroy(&ms->lock);
  free(ms);
  return NULL;
}

void ms_stop(mini_server_t *ms) {
  if (ms == NULL)
    return;
  atomic_store(&ms->stop, true);
  pthread_join(ms->accept_tid, NULL);
  close(ms->tcp_fd);
  if (ms->unix_fd >= 0) {
    close(ms->unix_fd);
    unlink(ms->unix_path);
  }
  free(ms->unix_path);
  ms_set_routes(ms, NULL, 0);
  ms_clear_requests(ms);
  free(ms->records);
  pthread_mutex_destroy(&ms->lock);
  free(ms);
}

int ms_port(const mini_server_t *ms) {
  return ms->port;
}

const char *ms_url(const mini_server_t *ms) {
  return ms->url;
}
