/**
 * test_http.c: http.c against mini_server on loopback (and a unix socket).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "mini_server.h"

static mini_server_t *srv;
static char sock_path[108];

/* What one request's callbacks saw. */
typedef struct {
  int done; /* on_done calls */
  http_error_t error;
  long status;
  int64_t total;
  char message[256];
  bool body_null;
  char body[HTTP_ERROR_BODY_MAX + 1];
  size_t body_len;
  char *data; /* streamed 2xx body */
  size_t data_len;
  int chunks;
  size_t abort_after; /* on_body refuses once data_len reaches it; 0: never */
  http_client_t *requeue; /* on_done tries to queue one more request here */
  int requeue_rc;
  bool slow; /* http_result_t.slow */
  int order; /* 1 for the first request to complete in a run, 2... */
} res_t;

static int done_count; /* completions so far: the next order - 1 */

static int on_body(void *ud, const char *buf, size_t len) {
  res_t *r = ud;
  char *d = realloc(r->data, r->data_len + len + 1);
  assert_non_null(d);
  memcpy(d + r->data_len, buf, len);
  r->data = d;
  r->data_len += len;
  r->data[r->data_len] = '\0';
  r->chunks++;
  return r->abort_after > 0 && r->data_len >= r->abort_after;
}

static void on_done(void *ud, const http_result_t *res) {
  res_t *r = ud;
  r->done++;
  r->order = ++done_count;
  r->slow = res->slow;
  r->error = res->error;
  r->status = res->status;
  r->total = res->total_count;
  snprintf(r->message, sizeof(r->message), "%s", res->message);
  r->body_null = res->body == NULL;
  if (res->body != NULL) {
    assert_true(res->body_len <= HTTP_ERROR_BODY_MAX);
    assert_int_equal(res->body[res->body_len], '\0');
    memcpy(r->body, res->body, res->body_len + 1);
    r->body_len = res->body_len;
  }
  if (r->requeue != NULL)
    r->requeue_rc = http_request(r->requeue, "GET", "http://127.0.0.1:1/", NULL,
                                 NULL, NULL, NULL, NULL);
}

static void res_clear(res_t *r) {
  free(r->data);
  memset(r, 0, sizeof(*r));
}

static http_options_t default_opts(void) {
  http_options_t o = {
      .verify_peer = true,
      .verify_host = true,
      .timeout_ms = 5000,
      .max_response_size = 1024 * 1024,
      .max_in_flight = 4,
  };
  return o;
}

static char *url(const char *path) {
  static char buf[256];
  snprintf(buf, sizeof(buf), "%s%s", ms_url(srv), path);
  return buf;
}

/* One request through a fresh client; fills r. */
static void fetch(const http_options_t *o, const char *method, const char *u,
                  const char *const *hdrs, const char *body, res_t *r) {
  http_client_t *hc = http_client_new(o);
  assert_non_null(hc);
  assert_int_equal(http_request(hc, method, u, hdrs, body, on_body, on_done, r),
                   0);
  assert_int_equal(http_client_run(hc, http_now_ms() + 10000), 0);
  assert_int_equal(r->done, 1);
  assert_true(http_client_requests_sent(hc) <= 1);
  http_client_free(hc);
}

static int setup(void **state) {
  (void)state;
  /* Never talk to a proxy from a unit test. */
  const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                           "all_proxy",  "ALL_PROXY",   NULL};
  for (int i = 0; proxies[i] != NULL; i++)
    unsetenv(proxies[i]);
  assert_int_equal(http_global_init(), 0);
  snprintf(sock_path, sizeof(sock_path), "/tmp/test_http_%d.sock",
           (int)getpid());
  srv = ms_start(sock_path);
  return srv != NULL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  ms_stop(srv);
  return 0;
}

/* Each test starts from no routes and no records. */
static int reset(void **state) {
  (void)state;
  ms_set_routes(srv, NULL, 0);
  ms_wait_idle(srv, 5000); /* answers to the last test's clients end */
  ms_clear_requests(srv);
  ms_reset_stats(srv);
  done_count = 0;
  return 0;
}

/* ------------------------------------------------------------------------ */

static void test_error_names(void **state) {
  (void)state;
  assert_string_equal(http_error_name(HTTP_OK), "ok");
  assert_string_equal(http_error_name(HTTP_ERR_CONNECT), "connect");
  assert_string_equal(http_error_name(HTTP_ERR_RESOLVE), "resolve");
  assert_string_equal(http_error_name(HTTP_ERR_TIMEOUT), "timeout");
  assert_string_equal(http_error_name(HTTP_ERR_TLS), "tls");
  assert_string_equal(http_error_name(HTTP_ERR_TOO_LARGE), "too_large");
  assert_string_equal(http_error_name(HTTP_ERR_ABORTED), "aborted");
  assert_string_equal(http_error_name(HTTP_ERR_OTHER), "other");
  assert_string_equal(http_error_name(HTTP_ERR_CANCELLED), "cancelled");
  assert_string_equal(http_error_name((http_error_t)99), "other");
}

static void test_get_200_streamed(void **state) {
  (void)state;
  size_t n = 200000;
  char *big = malloc(n + 1);
  assert_non_null(big);
  for (size_t i = 0; i < n; i++)
    big[i] = (char)('a' + i % 26);
  big[n] = '\0';
  ms_route_t rt = {
      .method = "GET", .path = "/api/endpoints?limit=2", .body = big};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);

  const char *hdrs[] = {"X-API-Key: secret-token",
                        "X-PortainerAgent-Target: node1", NULL};
  http_options_t o = default_opts();
  res_t r = {0};
  fetch(&o, "GET", url("/api/endpoints?limit=2"), hdrs, NULL, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.total, -1);
  assert_string_equal(r.message, "");
  assert_true(r.body_null);
  assert_int_equal(r.data_len, n);
  assert_memory_equal(r.data, big, n);

  assert_int_equal(ms_request_count(srv), 1);
  const ms_request_t *q = ms_request(srv, 0);
  char v[128];
  assert_string_equal(q->method, "GET");
  assert_string_equal(q->path, "/api/endpoints?limit=2");
  assert_true(ms_header(q, "x-api-key", v, sizeof(v)));
  assert_string_equal(v, "secret-token");
  assert_true(ms_header(q, "X-PortainerAgent-Target", v, sizeof(v)));
  assert_string_equal(v, "node1");
  assert_true(ms_header(q, "User-Agent", v, sizeof(v)));
  assert_string_equal(v, "collectd-portainer/0.1");
  assert_false(ms_header(q, "Expect", v, sizeof(v)));
  res_clear(&r);
  free(big);
}

static void test_error_bodies(void **state) {
  (void)state;
  char big[10001];
  memset(big, 'e', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  ms_route_t rt[] = {
      {.path = "/404", .status = 404, .body = "{\"message\":\"nope\"}"},
      {.path = "/500", .status = 500, .body = big},
      {.path = "/502", .status = 502},
      {.path = "/401c",
       .status = 401,
       .body = "{\"message\":\"who\"}",
       .chunked = true},
  };
  assert_int_equal(ms_set_routes(srv, rt, 4), 0);
  http_options_t o = default_opts();
  res_t r = {0};

  fetch(&o, "GET", url("/404"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_int_equal(r.status, 404);
  assert_false(r.body_null);
  assert_string_equal(r.body, "{\"message\":\"nope\"}");
  assert_int_equal(r.chunks, 0); /* never streamed to on_body */
  res_clear(&r);

  fetch(&o, "GET", url("/500"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_int_equal(r.status, 500);
  assert_int_equal(r.body_len, HTTP_ERROR_BODY_MAX);
  assert_int_equal(strlen(r.body), HTTP_ERROR_BODY_MAX);
  assert_int_equal(r.chunks, 0);
  res_clear(&r);

  fetch(&o, "GET", url("/502"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_int_equal(r.status, 502);
  assert_false(r.body_null);
  assert_int_equal(r.body_len, 0);
  assert_string_equal(r.body, "");
  res_clear(&r);

  fetch(&o, "GET", url("/401c"), NULL, NULL, &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(r.body, "{\"message\":\"who\"}");
  res_clear(&r);

  /* Unknown path: the server's own 404. */
  fetch(&o, "GET", url("/nowhere"), NULL, NULL, &r);
  assert_int_equal(r.status, 404);
  assert_string_equal(r.body, "{\"message\":\"not found\"}");
  res_clear(&r);
}

static void test_total_count(void **state) {
  (void)state;
  static const struct {
    const char *hdr;
    int64_t want;
  } cases[] = {
      {"X-Total-Count: 42\r\n", 42},
      {"x-total-count:   7  \r\n", 7},
      {"X-TOTAL-COUNT:0\r\n", 0},
      {"X-Total-Count: 4x\r\n", -1},
      {"X-Total-Count: -3\r\n", -1},
      {"X-Total-Count: +3\r\n", -1},
      {"X-Total-Count: \r\n", -1},
      {"X-Total-Count: 1 2\r\n", -1},
      {"X-Total-Count: 99999999999999999999\r\n", -1},
      {"X-Total-Counts: 5\r\n", -1},
      {"X-Total-Available: 5\r\n", -1},
      {NULL, -1},
  };
  http_options_t o = default_opts();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ms_route_t rt = {.path = "/e", .headers = cases[i].hdr, .body = "[]"};
    assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
    res_t r = {0};
    fetch(&o, "GET", url("/e"), NULL, NULL, &r);
    assert_int_equal(r.error, HTTP_OK);
    if (r.total != cases[i].want)
      fail_msg("case %zu: got %lld", i, (long long)r.total);
    assert_string_equal(r.data, "[]");
    res_clear(&r);
  }
}

static void test_connection_refused(void **state) {
  (void)state;
  /* A loopback port that was just free: bind, learn it, close. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  close(fd);
  char u[64];
  snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(a.sin_port));

  http_options_t o = default_opts();
  res_t r = {0};
  fetch(&o, "GET", u, NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_CONNECT);
  assert_int_equal(r.status, 0);
  assert_true(r.body_null);
  assert_true(strlen(r.message) > 0);
  res_clear(&r);
}

/* The name lookup runs in a child inside its own, empty network namespace,
 * so the query can never leave the machine: the machine's resolver is not
 * on loopback. */
static void test_resolve_invalid(void **state) {
  (void)state;
#ifdef __SANITIZE_THREAD__
  skip(); /* TSan does not support fork() with threads running */
#endif
  /* nscd would resolve outside the namespace, on the real network. */
  if (access("/var/run/nscd/socket", F_OK) == 0)
    skip();
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNET) != 0)
      _exit(77);
    http_options_t o = default_opts();
    res_t r = {0};
    http_client_t *hc = http_client_new(&o);
    if (hc == NULL ||
        http_request(hc, "GET", "http://portainer.invalid/", NULL, NULL,
                     on_body, on_done, &r) != 0 ||
        http_client_run(hc, http_now_ms() + 10000) != 0 || r.done != 1)
      _exit(70);
    http_client_free(hc);
    _exit((int)r.error);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  if (WEXITSTATUS(st) == 77)
    skip(); /* no network namespaces here */
  int err = WEXITSTATUS(st);
  if (err != HTTP_ERR_RESOLVE && err != HTTP_ERR_CONNECT)
    fail_msg("unexpected result %d", err);
}

static void test_request_timeout(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/slow", .delay_ms = 3000, .body = "[]"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.timeout_ms = 300;
  res_t r = {0};
  int64_t t0 = http_now_ms();
  fetch(&o, "GET", url("/slow"), NULL, NULL, &r);
  int64_t took = http_now_ms() - t0;
  assert_int_equal(r.error, HTTP_ERR_TIMEOUT);
  assert_int_equal(r.status, 0);
  assert_true(took >= 250 && took < 2500);
  res_clear(&r);
}

static void test_poll_deadline(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/slow", .delay_ms = 3000, .body = "[]"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 2;
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  res_t r[5] = {0};
  r[4].requeue = hc; /* refused: the drain must end */
  r[4].requeue_rc = 1;
  for (int i = 0; i < 5; i++)
    assert_int_equal(http_request(hc, "GET", url("/slow"), NULL, NULL, on_body,
                                  on_done, &r[i]),
                     0);
  int64_t t0 = http_now_ms();
  assert_int_equal(http_client_run(hc, t0 + 400), 0);
  int64_t took = http_now_ms() - t0;
  assert_true(took >= 390 && took < 1500);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].error, HTTP_ERR_TIMEOUT);
    assert_string_equal(r[i].message, "poll deadline reached");
  }
  assert_int_equal(r[4].requeue_rc, HTTP_REFUSED);
  assert_int_equal(http_client_requests_sent(hc), 2); /* 3 never started */

  /* A deadline already past: nothing starts, everything times out. */
  res_t late = {0};
  assert_int_equal(http_request(hc, "GET", url("/slow"), NULL, NULL, on_body,
                                on_done, &late),
                   0);
  assert_int_equal(http_client_run(hc, http_now_ms() - 1), 0);
  assert_int_equal(late.done, 1);
  assert_int_equal(late.error, HTTP_ERR_TIMEOUT);
  assert_int_equal(http_client_requests_sent(hc), 2);
  http_client_free(hc);
}

static void test_too_large(void **state) {
  (void)state;
  static char big[100001];
  memset(big, 'x', sizeof(big) - 1);
  ms_route_t rt[] = {
      {.path = "/endless", .body = "[", .endless = true},
      {.path = "/cl", .body = big}, /* Content-Length announces it */
      {.path = "/err", .status = 500, .body = "[", .endless = true},
  };
  assert_int_equal(ms_set_routes(srv, rt, 3), 0);
  http_options_t o = default_opts();
  o.max_response_size = 65536;
  res_t r = {0};

  int64_t t0 = http_now_ms();
  fetch(&o, "GET", url("/endless"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_TOO_LARGE);
  assert_int_equal(r.status, 200);
  assert_true(r.data_len <= 65536);
  assert_true(http_now_ms() - t0 < 5000);
  res_clear(&r);

  fetch(&o, "GET", url("/cl"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_TOO_LARGE);
  assert_int_equal(r.data_len, 0);
  res_clear(&r);

  fetch(&o, "GET", url("/err"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_TOO_LARGE);
  assert_int_equal(r.status, 500);
  assert_int_equal(r.body_len, HTTP_ERROR_BODY_MAX);
  res_clear(&r);
}

static void test_abort_from_body_cb(void **state) {
  (void)state;
  ms_route_t rt = {
      .path = "/e", .body = "[", .endless = true, .drip_bytes = 1000};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  res_t r = {.abort_after = 3000};
  fetch(&o, "GET", url("/e"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_ABORTED);
  assert_int_equal(r.status, 200);
  assert_true(r.data_len >= 3000);
  assert_true(strlen(r.message) > 0);
  res_clear(&r);
}

static void test_max_in_flight(void **state) {
  (void)state;
  ms_route_t rt = {
      .path = "/c/", .prefix = true, .delay_ms = 100, .body = "{}"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 4;
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  res_t r[20] = {0};
  for (int i = 0; i < 20; i++) {
    char p[32];
    snprintf(p, sizeof(p), "/c/%d", i);
    assert_int_equal(
        http_request(hc, "GET", url(p), NULL, NULL, on_body, on_done, &r[i]),
        0);
  }
  int64_t t0 = http_now_ms();
  assert_int_equal(http_client_run(hc, t0 + 20000), 0);
  int64_t took = http_now_ms() - t0;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].error, HTTP_OK);
    assert_string_equal(r[i].data, "{}");
    res_clear(&r[i]);
  }
  unsigned peak = ms_max_concurrent(srv);
  assert_true(peak <= 4);
  assert_true(peak >= 2);
  assert_true(ms_connections(srv) <= 4);
  assert_true(took >= 500); /* 5 rounds of 100 ms */
  assert_int_equal(http_client_requests_sent(hc), 20);
  assert_int_equal(ms_request_count(srv), 20);
  http_client_free(hc);
}

/* A list whose done callback queues one request per item. */
typedef struct {
  res_t list; /* first: on_body gets the same ud as on_list_done */
  http_client_t *hc;
  res_t items[3];
} chain_t;

static void on_list_done(void *ud, const http_result_t *res) {
  chain_t *c = ud;
  on_done(&c->list, res);
  for (int i = 0; i < 3; i++) {
    char p[32];
    snprintf(p, sizeof(p), "/item/%d", i);
    assert_int_equal(http_request(c->hc, "GET", url(p), NULL, NULL, on_body,
                                  on_done, &c->items[i]),
                     0);
  }
}

static void test_queue_from_done(void **state) {
  (void)state;
  ms_route_t rt[] = {{.path = "/list", .body = "[1,2,3]"},
                     {.path = "/item/", .prefix = true, .body = "{}"}};
  assert_int_equal(ms_set_routes(srv, rt, 2), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 2;
  chain_t c = {0};
  c.hc = http_client_new(&o);
  assert_non_null(c.hc);
  assert_int_equal(http_request(c.hc, "GET", url("/list"), NULL, NULL, on_body,
                                on_list_done, &c),
                   0);
  assert_int_equal(http_client_run(c.hc, http_now_ms() + 10000), 0);
  assert_int_equal(c.list.done, 1);
  assert_string_equal(c.list.data, "[1,2,3]");
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c.items[i].done, 1);
    assert_int_equal(c.items[i].error, HTTP_OK);
    assert_string_equal(c.items[i].data, "{}");
    res_clear(&c.items[i]);
  }
  res_clear(&c.list);
  assert_int_equal(http_client_requests_sent(c.hc), 4);
  assert_int_equal(ms_count_path(srv, "GET", "/item/2"), 1);
  http_client_free(c.hc);
}

static void test_unix_socket(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/v1.41/containers/json?all=1", .body = "[]"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.unix_socket = sock_path;
  res_t r = {0};
  fetch(&o, "GET", "http://localhost/v1.41/containers/json?all=1", NULL, NULL,
        &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.data, "[]");
  assert_int_equal(ms_count_path(srv, "GET", "/v1.41/containers/json?all=1"),
                   1);
  res_clear(&r);

  /* A socket that is not there. */
  o.unix_socket = "/tmp/test_http_no_such.sock";
  fetch(&o, "GET", "http://localhost/_ping", NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_CONNECT);
  res_clear(&r);
}

static void test_connection_reuse(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/r", .body = "{\"ok\":true}"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  /* 20 polls of one request each: the connection outlives the poll. */
  for (int i = 0; i < 20; i++) {
    res_t r = {0};
    assert_int_equal(
        http_request(hc, "GET", url("/r"), NULL, NULL, on_body, on_done, &r),
        0);
    assert_int_equal(http_client_run(hc, http_now_ms() + 5000), 0);
    assert_int_equal(r.error, HTTP_OK);
    res_clear(&r);
  }
  assert_int_equal(ms_request_count(srv), 20);
  assert_true(ms_connections(srv) <= 2);
  http_client_free(hc);

  /* One poll of 20 requests through a single slot: one connection. */
  ms_reset_stats(srv);
  o.max_in_flight = 1;
  hc = http_client_new(&o);
  assert_non_null(hc);
  res_t r[20] = {0};
  for (int i = 0; i < 20; i++)
    assert_int_equal(
        http_request(hc, "GET", url("/r"), NULL, NULL, on_body, on_done, &r[i]),
        0);
  assert_int_equal(http_client_run(hc, http_now_ms() + 10000), 0);
  for (int i = 0; i < 20; i++) {
    assert_int_equal(r[i].error, HTTP_OK);
    res_clear(&r[i]);
  }
  assert_int_equal(ms_connections(srv), 1);
  assert_int_equal(ms_max_concurrent(srv), 1);
  http_client_free(hc);
}

static void test_post_body(void **state) {
  (void)state;
  ms_route_t rt = {
      .method = "POST", .path = "/api/auth", .body = "{\"jwt\":\"abc\"}"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  res_t r = {0};
  const char *body = "{\"username\":\"admin\",\"password\":\"pw\"}";
  fetch(&o, "POST", url("/api/auth"), NULL, body, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_string_equal(r.data, "{\"jwt\":\"abc\"}");
  const ms_request_t *q = ms_request(srv, 0);
  assert_non_null(q);
  assert_string_equal(q->method, "POST");
  assert_string_equal(q->body, body);
  char v[64];
  assert_true(ms_header(q, "Content-Type", v, sizeof(v)));
  assert_string_equal(v, "application/json");
  res_clear(&r);

  /* A body large enough for libcurl to want "Expect: 100-continue". */
  ms_clear_requests(srv);
  char big[5000];
  memset(big, ' ', sizeof(big) - 1);
  big[0] = '{';
  big[sizeof(big) - 2] = '}';
  big[sizeof(big) - 1] = '\0';
  fetch(&o, "POST", url("/api/auth"), NULL, big, &r);
  assert_int_equal(r.error, HTTP_OK);
  q = ms_request(srv, 0);
  assert_non_null(q);
  assert_int_equal(q->body_len, strlen(big));
  assert_false(ms_header(q, "Expect", v, sizeof(v)));
  res_clear(&r);

  /* GET to a POST-only route: not found; a caller Content-Type stays. */
  fetch(&o, "GET", url("/api/auth"), NULL, NULL, &r);
  assert_int_equal(r.status, 404);
  res_clear(&r);
  ms_clear_requests(srv);
  const char *hdrs[] = {"Content-Type: text/plain", NULL};
  fetch(&o, "POST", url("/api/auth"), hdrs, "x", &r);
  q = ms_request(srv, 0);
  assert_non_null(q);
  assert_true(ms_header(q, "Content-Type", v, sizeof(v)));
  assert_string_equal(v, "text/plain");
  res_clear(&r);
}

static void test_drip(void **state) {
  (void)state;
  char body[3001];
  for (size_t i = 0; i < sizeof(body) - 1; i++)
    body[i] = (char)('0' + i % 10);
  body[sizeof(body) - 1] = '\0';
  ms_route_t rt[] = {
      {.path = "/drip", .body = body, .drip_bytes = 97, .drip_pause_ms = 3},
      {.path = "/dripc",
       .body = body,
       .drip_bytes = 250,
       .drip_pause_ms = 3,
       .chunked = true},
  };
  assert_int_equal(ms_set_routes(srv, rt, 2), 0);
  http_options_t o = default_opts();
  res_t r = {0};
  fetch(&o, "GET", url("/drip"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_string_equal(r.data, body);
  assert_true(r.chunks > 1);
  res_clear(&r);
  fetch(&o, "GET", url("/dripc"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_OK);
  assert_string_equal(r.data, body);
  assert_true(r.chunks > 1);
  res_clear(&r);
}

static void test_broken_responses(void **state) {
  (void)state;
  ms_route_t rt[] = {
      {.path = "/close", .close_without_answer = true},
      {.path = "/trunc",
       .body = "[{\"Id\":\"abc\"},{\"Id\":\"def\"}]",
       .send_only = 10},
  };
  assert_int_equal(ms_set_routes(srv, rt, 2), 0);
  http_options_t o = default_opts();
  res_t r = {0};
  fetch(&o, "GET", url("/close"), NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_OTHER);
  assert_int_equal(r.status, 0);
  assert_true(strlen(r.message) > 0);
  res_clear(&r);

  /* A status arrived, then the body was cut: an error, not OK. */
  fetch(&o, "GET", url("/trunc"), NULL, NULL, &r);
  assert_int_not_equal(r.error, HTTP_OK);
  assert_int_equal(r.status, 200);
  res_clear(&r);
}

static void test_tls_error(void **state) {
  (void)state;
  /* https to a plain HTTP server: the handshake fails. */
  char u[64];
  snprintf(u, sizeof(u), "https://127.0.0.1:%d/", ms_port(srv));
  http_options_t o = default_opts();
  o.verify_peer = o.verify_host = false;
  res_t r = {0};
  fetch(&o, "GET", u, NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_TLS);
  res_clear(&r);
}

static void test_refused_protocol_and_header(void **state) {
  (void)state;
  http_options_t o = default_opts();
  res_t r = {0};
  /* Only http and https. */
  fetch(&o, "GET", "file:///etc/hostname", NULL, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_OTHER);
  res_clear(&r);
  /* A header with a line break is never sent. */
  const char *hdrs[] = {"X-API-Key: a\r\nX-Injected: 1", NULL};
  fetch(&o, "GET", url("/x"), hdrs, NULL, &r);
  assert_int_equal(r.error, HTTP_ERR_OTHER);
  assert_null(strstr(r.message, "X-API-Key"));
  assert_int_equal(ms_request_count(srv), 0);
  res_clear(&r);
}

static void test_free_unrun(void **state) {
  (void)state;
  http_options_t o = default_opts();
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  res_t r[3] = {0};
  r[1].requeue = hc; /* refused while freeing */
  r[1].requeue_rc = 1;
  for (int i = 0; i < 3; i++)
    assert_int_equal(
        http_request(hc, "GET", url("/x"), NULL, NULL, on_body, on_done, &r[i]),
        0);
  http_client_free(hc);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].error, HTTP_ERR_OTHER);
  }
  assert_int_equal(r[1].requeue_rc, HTTP_REFUSED);
  assert_int_equal(ms_request_count(srv), 0);
  http_client_free(NULL);
  assert_null(http_client_new(NULL));
  assert_int_equal(http_client_requests_sent(NULL), 0);
  assert_int_equal(http_client_run(NULL, 0), -1);
}

/* Proxy: a URL sends every request through it; "" goes direct even when
 * http_proxy is set; NULL leaves it to libcurl's environment variables; a
 * unix socket never uses one.  The "proxy" is a second mini_server: it sees
 * the absolute URL a client sends a forward proxy. */
static void test_proxy(void **state) {
  (void)state;
  mini_server_t *px = ms_start(NULL);
  assert_non_null(px);
  ms_route_t prt = {.path = "http://", .prefix = true, .body = "proxied"};
  assert_int_equal(ms_set_routes(px, &prt, 1), 0);
  ms_route_t rt[] = {{.path = "/p", .body = "direct"},
                     {.path = "/_ping", .body = "OK"}};
  assert_int_equal(ms_set_routes(srv, rt, 2), 0);
  char target[256];
  snprintf(target, sizeof(target), "%s/p", ms_url(srv));

  http_options_t o = default_opts();
  o.proxy = ms_url(px);
  res_t r = {0};
  fetch(&o, "GET", target, NULL, NULL, &r);
  assert_string_equal(r.data, "proxied");
  assert_int_equal(ms_count_path(px, "GET", target), 1);
  res_clear(&r);

  setenv("http_proxy", ms_url(px), 1);
  o.proxy = NULL; /* libcurl follows http_proxy */
  fetch(&o, "GET", target, NULL, NULL, &r);
  assert_string_equal(r.data, "proxied");
  res_clear(&r);
  o.proxy = ""; /* none at all */
  fetch(&o, "GET", target, NULL, NULL, &r);
  assert_string_equal(r.data, "direct");
  res_clear(&r);
  o.unix_socket = sock_path; /* a socket: never a proxy */
  o.proxy = NULL;
  fetch(&o, "GET", "http://localhost/_ping", NULL, NULL, &r);
  assert_string_equal(r.data, "OK");
  res_clear(&r);
  o.proxy = ms_url(px);
  fetch(&o, "GET", "http://localhost/_ping", NULL, NULL, &r);
  assert_string_equal(r.data, "OK");
  res_clear(&r);
  unsetenv("http_proxy");
  assert_int_equal(ms_count_path(px, NULL, target), 2);
  assert_int_equal(ms_request_count(px), 2);
  assert_int_equal(ms_count_path(srv, "GET", "/p"), 1);
  assert_int_equal(ms_count_path(srv, "GET", "/_ping"), 2);
  ms_stop(px);
}

#define SLOW_MS 20000

static void *cancel_later(void *arg) {
  http_client_t *hc = arg;
  for (int i = 0; i < 1000 && ms_request_count(srv) < 1; i++)
    usleep(10 * 1000);
  usleep(100 * 1000);
  http_client_cancel(hc);
  return NULL;
}

/* http_client_cancel() from another thread ends a run at once: what runs
 * and what waits complete with HTTP_ERR_CANCELLED; the client stays
 * cancelled. */
static void test_cancel(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/slow", .delay_ms = SLOW_MS, .body = "late"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 1;
  o.timeout_ms = 60000;
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  assert_false(http_client_cancelled(hc));
  res_t a = {0}, b = {0};
  assert_int_equal(
      http_request(hc, "GET", url("/slow"), NULL, NULL, on_body, on_done, &a),
      0);
  assert_int_equal(
      http_request(hc, "GET", url("/slow"), NULL, NULL, on_body, on_done, &b),
      0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, cancel_later, hc), 0);
  int64_t t0 = http_now_ms();
  assert_int_equal(http_client_run(hc, t0 + 120000), 0);
  int64_t took = http_now_ms() - t0;
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(took < SLOW_MS / 2); /* not the server's answer */
  assert_int_equal(a.done, 1);
  assert_int_equal(a.error, HTTP_ERR_CANCELLED);
  assert_int_equal(b.done, 1);
  assert_int_equal(b.error, HTTP_ERR_CANCELLED);
  assert_null(a.data);
  assert_true(http_client_cancelled(hc));
  /* For good: nothing is queued, a run ends at once. */
  res_t c = {0};
  assert_int_equal(
      http_request(hc, "GET", url("/slow"), NULL, NULL, on_body, on_done, &c),
      HTTP_REFUSED);
  assert_int_equal(http_client_run(hc, http_now_ms() + 120000), 0);
  assert_int_equal(c.done, 0);
  assert_int_equal(ms_request_count(srv), 1); /* b never started */
  http_client_cancel(hc);                     /* twice is fine */
  http_client_free(hc);
  res_clear(&a);
  res_clear(&b);
}

/* ------------------------------------------------------------------------ */
/* Scheduling: classes, leases and the slow pool, the feed */

/* Hosts that accept and never answer, queued first, do not hold back the
 * requests queued after them: past their lease they leave the working
 * slots, and the fast requests all complete before any hang ends. */
static void test_slow_pool_keeps_slots(void **state) {
  (void)state;
  ms_route_t rt[] = {{.path = "/hang/", .prefix = true, .delay_ms = 4000},
                     {.path = "/fast/", .prefix = true, .body = "{}"}};
  assert_int_equal(ms_set_routes(srv, rt, 2), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 4;
  o.timeout_ms = 2500;
  o.lease_ms = 100;
  o.max_slow = 64;
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  res_t hang[20] = {0}, fast[5] = {0};
  char p[32];
  for (int i = 0; i < 20; i++) {
    snprintf(p, sizeof(p), "/hang/%d", i);
    assert_int_equal(
        http_request(hc, "GET", url(p), NULL, NULL, on_body, on_done, &hang[i]),
        0);
  }
  for (int i = 0; i < 5; i++) {
    snprintf(p, sizeof(p), "/fast/%d", i);
    assert_int_equal(
        http_request(hc, "GET", url(p), NULL, NULL, on_body, on_done, &fast[i]),
        0);
  }
  /* Four rounds of hangs through four slots would take 10 s. */
  assert_int_equal(http_client_run(hc, http_now_ms() + 6000), 0);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(fast[i].done, 1);
    assert_int_equal(fast[i].error, HTTP_OK);
    assert_true(fast[i].order <= 5); /* before every hang */
    res_clear(&fast[i]);
  }
  for (int i = 0; i < 20; i++) {
    assert_int_equal(hang[i].done, 1);
    assert_int_equal(hang[i].error, HTTP_ERR_TIMEOUT);
    assert_true(hang[i].slow);
    res_clear(&hang[i]);
  }
  /* Every hang had its own connection: libcurl's caps were raised. */
  assert_true(ms_max_concurrent(srv) >= 20);
  http_client_free(hc);
}

/* The slow pool is bounded: max_in_flight + max_slow transfers at most. */
static void test_slow_pool_bounded(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/hang/", .prefix = true, .delay_ms = 2500};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 2;
  o.timeout_ms = 1500;
  o.lease_ms = 100;
  o.max_slow = 3;
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  res_t r[8] = {0};
  char p[32];
  for (int i = 0; i < 8; i++) {
    snprintf(p, sizeof(p), "/hang/%d", i);
    assert_int_equal(
        http_request(hc, "GET", url(p), NULL, NULL, on_body, on_done, &r[i]),
        0);
  }
  assert_int_equal(http_client_run(hc, http_now_ms() + 1200), 0);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].error, HTTP_ERR_TIMEOUT);
    res_clear(&r[i]);
  }
  assert_int_equal(ms_max_concurrent(srv), 5);
  assert_int_equal(http_client_requests_sent(hc), 5);
  http_client_free(hc);
}

/* The most urgent class starts first; within a class, first come first
 * served. */
static void test_priorities(void **state) {
  (void)state;
  ms_route_t rt = {.path = "/p/", .prefix = true, .body = "{}"};
  assert_int_equal(ms_set_routes(srv, &rt, 1), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 1;
  http_client_t *hc = http_client_new(&o);
  assert_non_null(hc);
  static const struct {
    http_prio_t prio;
    const char *path;
    int order;
  } q[] = {
      {HTTP_PRIO_LOW, "/p/low1", 5},  {HTTP_PRIO_NORMAL, "/p/n1", 3},
      {HTTP_PRIO_LOW, "/p/low2", 6},  {HTTP_PRIO_URGENT, "/p/urgent", 1},
      {HTTP_PRIO_HIGH, "/p/high", 2}, {HTTP_PRIO_NORMAL, "/p/n2", 4},
  };
  res_t r[6] = {0};
  for (int i = 0; i < 6; i++)
    assert_int_equal(http_request_prio(hc, q[i].prio, "GET", url(q[i].path),
                                       NULL, NULL, on_body, on_done, &r[i]),
                     0);
  assert_int_equal(http_request_prio(hc, HTTP_PRIO_NUM, "GET", url("/p/x"),
                                     NULL, NULL, NULL, NULL, NULL),
                   -1);
  assert_int_equal(http_client_waiting(hc), 6);
  assert_int_equal(http_client_run(hc, http_now_ms() + 10000), 0);
  assert_int_equal(http_client_waiting(hc), 0);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(r[i].error, HTTP_OK);
    assert_int_equal(r[i].order, q[i].order);
    const ms_request_t *m = ms_request(srv, (size_t)q[i].order - 1);
    assert_non_null(m);
    assert_string_equal(m->path, q[i].path);
    res_clear(&r[i]);
  }
  http_client_free(hc);
}

/* The feed is asked for work whenever fewer than max_in_flight requests
 * wait, and never while a deadline drains the client. */
typedef struct {
  http_client_t *hc;
  int calls;
  int queued;
  int max;
  size_t most_waiting; /* the most requests waiting when it was called */
  res_t r[24];
} feeder_t;

static void on_feed(void *ud) {
  feeder_t *f = ud;
  f->calls++;
  size_t w = http_client_waiting(f->hc);
  if (w > f->most_waiting)
    f->most_waiting = w;
  if (f->queued < f->max) {
    char p[32];
    snprintf(p, sizeof(p), "/feed/%d", f->queued);
    if (http_request_prio(f->hc, HTTP_PRIO_LOW, "GET", url(p), NULL, NULL,
                          on_body, on_done, &f->r[f->queued]) == 0)
      f->queued++;
  }
}

static void test_feed(void **state) {
  (void)state;
  ms_route_t rt[] = {{.path = "/feed/", .prefix = true, .body = "{}"},
                     {.path = "/hang", .delay_ms = 3000}};
  assert_int_equal(ms_set_routes(srv, rt, 2), 0);
  http_options_t o = default_opts();
  o.max_in_flight = 3;
  feeder_t f = {.max = 24};
  f.hc = http_client_new(&o);
  assert_non_null(f.hc);
  http_client_set_feed(f.hc, on_feed, &f);
  assert_int_equal(http_client_run(f.hc, http_now_ms() + 10000), 0);
  assert_int_equal(f.queued, 24);
  assert_true(f.calls >= 24);
  assert_true(f.most_waiting < 3);
  for (int i = 0; i < 24; i++) {
    assert_int_equal(f.r[i].done, 1);
    assert_int_equal(f.r[i].error, HTTP_OK);
    res_clear(&f.r[i]);
  }
  /* A deadline: the feed is not asked while what is left is failed. */
  res_t h = {0};
  f.max = 0;
  assert_int_equal(
      http_request(f.hc, "GET", url("/hang"), NULL, NULL, on_body, on_done, &h),
      0);
  int calls = f.calls;
  assert_int_equal(http_client_run(f.hc, http_now_ms() + 300), 0);
  assert_int_equal(h.error, HTTP_ERR_TIMEOUT);
  assert_true(f.calls > calls); /* asked while the hang ran */
  http_client_set_feed(f.hc, NULL, NULL);
  res_clear(&h);
  http_client_free(f.hc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_names),
      cmocka_unit_test_setup(test_get_200_streamed, reset),
      cmocka_unit_test_setup(test_error_bodies, reset),
      cmocka_unit_test_setup(test_total_count, reset),
      cmocka_unit_test_setup(test_connection_refused, reset),
      cmocka_unit_test_setup(test_resolve_invalid, reset),
      cmocka_unit_test_setup(test_request_timeout, reset),
      cmocka_unit_test_setup(test_poll_deadline, reset),
      cmocka_unit_test_setup(test_too_large, reset),
      cmocka_unit_test_setup(test_abort_from_body_cb, reset),
      cmocka_unit_test_setup(test_max_in_flight, reset),
      cmocka_unit_test_setup(test_queue_from_done, reset),
      cmocka_unit_test_setup(test_unix_socket, reset),
      cmocka_unit_test_setup(test_connection_reuse, reset),
      cmocka_unit_test_setup(test_post_body, reset),
      cmocka_unit_test_setup(test_drip, reset),
      cmocka_unit_test_setup(test_broken_responses, reset),
      cmocka_unit_test_setup(test_tls_error, reset),
      cmocka_unit_test_setup(test_refused_protocol_and_header, reset),
      cmocka_unit_test_setup(test_free_unrun, reset),
      cmocka_unit_test_setup(test_proxy, reset),
      cmocka_unit_test_setup(test_cancel, reset),
      cmocka_unit_test_setup(test_slow_pool_keeps_slots, reset),
      cmocka_unit_test_setup(test_slow_pool_bounded, reset),
      cmocka_unit_test_setup(test_priorities, reset),
      cmocka_unit_test_setup(test_feed, reset),
  };
  /* TEST_FILTER=test_drip runs only the tests matching that pattern. */
  if (getenv("TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, setup, teardown);
}
