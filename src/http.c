/**
 * http.c: the libcurl multi client behind http.h.
 *
 * One CURLM per client lives as long as the client, so its connection cache
 * (and, through a CURLSH, the TLS session cache) carries over from one poll to
 * the next.  Requests wait in one FIFO queue per scheduling class and are
 * moved onto the multi handle, most urgent class first, while fewer than
 * max_in_flight are working (started and either answered or still within
 * their lease; see http.h).  Everything runs in the caller's thread
 * inside http_client_run(); completion callbacks run there too and may queue
 * further requests.  Nothing here logs or prints: request headers carry
 * secrets and are never copied into a message.
 *
 * Details the header leaves open: max_response_size 0 means no limit;
 * timeout_ms <= 0 means libcurl's defaults; while a deadline (or
 * http_client_free()) is failing what is left, http_request() returns -1 so
 * that a callback queueing on every failure cannot keep the drain going; a
 * callback must not call http_client_run() or http_client_free().
 */
#include "http.h"

#include "secret.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_USER_AGENT "collectd-portainer/0.1"
/* Longest single wait in curl_multi_poll(), so the deadline is re-checked. */
#define HTTP_POLL_SLICE_MS 1000
/* Sanity bound on max_in_flight (arrays are sized by it). */
#define HTTP_MAX_IN_FLIGHT_CAP 1024

typedef enum {
  ABORT_NONE = 0,
  ABORT_TOO_LARGE, /* the body outgrew max_response_size */
  ABORT_CALLBACK,  /* on_body returned non-zero */
} abort_reason_t;

typedef struct http_req_s http_req_t;
struct http_req_s {
  http_req_t *next; /* FIFO link while queued */
  http_client_t *hc;
  http_prio_t prio;
  int64_t started_ms;  /* http_now_ms() when it went onto the multi handle */
  int64_t answered_ms; /* when the first header line arrived; 0: not yet */
  bool leased;         /* past its lease unanswered: in the slow pool */
  char *method;
  char *url;
  char *body; /* POST body, NULL: none */
  struct curl_slist *headers;
  bool bad_header; /* a caller header had CR or LF: never sent */
  http_body_cb on_body;
  http_done_cb on_done;
  void *ud;

  /* Transfer state, valid while running. */
  CURL *easy;
  long status;
  int64_t total_count;
  int64_t date;    /* Date header, unix seconds; 0 when absent */
  size_t received; /* body bytes of the current response */
  char *errbody;   /* HTTP_ERROR_BODY_MAX + 1 bytes, allocated on demand */
  size_t errbody_len;
  abort_reason_t abort;
  char errbuf[CURL_ERROR_SIZE];
};

struct http_client_s {
  http_options_t opts; /* strings owned */
  CURLM *multi;
  CURLSH *share;
  http_req_t *q_head[HTTP_PRIO_NUM], *q_tail[HTTP_PRIO_NUM]; /* waiting */
  size_t n_waiting;
  http_req_t **running; /* max_in_flight + max_slow, in start order */
  int n_running;        /* all of them */
  int n_leased;         /* those in the slow pool */
  long lease_ms;
  int max_slow;
  http_feed_cb feed;
  void *feed_ud;
  CURL **idle; /* reset easy handles ready for reuse */
  int n_idle;
  uint64_t sent;
  bool in_run;
  bool refusing;         /* draining (deadline, free): http_request() says no */
  atomic_bool cancelled; /* http_client_cancel(), from any thread */
};

/* ------------------------------------------------------------------------ */

const char *http_error_name(http_error_t e) {
  switch (e) {
  case HTTP_OK:
    return "ok";
  case HTTP_ERR_CONNECT:
    return "connect";
  case HTTP_ERR_RESOLVE:
    return "resolve";
  case HTTP_ERR_TIMEOUT:
    return "timeout";
  case HTTP_ERR_TLS:
    return "tls";
  case HTTP_ERR_TOO_LARGE:
    return "too_large";
  case HTTP_ERR_ABORTED:
    return "aborted";
  case HTTP_ERR_CANCELLED:
    return "cancelled";
  case HTTP_ERR_OTHER:
    break;
  }
  return "other";
}

int64_t http_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = -1;

static void global_init_once(void) {
  global_rc = curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? 0 : -1;
}

int http_global_init(void) {
  pthread_once(&global_once, global_init_once);
  return global_rc;
}

/* ------------------------------------------------------------------------ */
/* Parsing of response headers                                              */

static bool is_ows(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "HTTP/1.1 200 OK\r\n", "HTTP/2 404\r\n": the status code, or -1. */
static long parse_status_line(const char *s, size_t len) {
  size_t i = 5; /* after "HTTP/" */
  while (i < len && s[i] != ' ' && !is_ows(s[i]))
    i++;
  while (i < len && s[i] == ' ')
    i++;
  if (len - i < 3)
    return -1;
  long st = 0;
  for (size_t k = 0; k < 3; k++) {
    char c = s[i + k];
    if (c < '0' || c > '9')
      return -1;
    st = st * 10 + (c - '0');
  }
  if (i + 3 < len && !is_ows(s[i + 3]))
    return -1;
  return st;
}

/* The value of X-Total-Count: digits only (surrounding blanks allowed), at
 * most 18 of them so it cannot overflow; -1 for anything else. */
static int64_t parse_count(const char *s, size_t len) {
  size_t b = 0, e = len;
  while (b < e && is_ows(s[b]))
    b++;
  while (e > b && is_ows(s[e - 1]))
    e--;
  if (e == b || e - b > 18)
    return -1;
  int64_t v = 0;
  for (size_t i = b; i < e; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
  http_req_t *r = ud;
  size_t len = size * nitems;
  static const char tc[] = "X-Total-Count:";
  const size_t tclen = sizeof(tc) - 1;

  if (r->answered_ms == 0)
    r->answered_ms = http_now_ms();
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    long st = parse_status_line(buf, len);
    if (st >= 0) {
      /* A new response (after a 100 Continue, say): forget the last one. */
      r->status = st;
      r->total_count = -1;
      r->date = 0;
      r->received = 0;
      r->errbody_len = 0;
      if (r->errbody)
        r->errbody[0] = '\0';
    }
  } else if (len > tclen && strncasecmp(buf, tc, tclen) == 0) {
    r->total_count = parse_count(buf + tclen, len - tclen);
  } else if (len > 5 && len < 128 && strncasecmp(buf, "Date:", 5) == 0) {
    char date[128];
    memcpy(date, buf + 5, len - 5);
    date[len - 5] = '\0';
    time_t t = curl_getdate(date, NULL);
    r->date = t > 0 ? (int64_t)t : 0;
  }
  return len;
}

static bool status_is_2xx(long st) {
  return st >= 200 && st <= 299;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *ud) {
  http_req_t *r = ud;
  size_t len = size * nmemb;
  size_t max = r->hc->opts.max_response_size;

  /* received <= max always holds, so max - received cannot wrap. */
  if (max > 0 && len > max - r->received) {
    r->abort = ABORT_TOO_LARGE;
    return 0; /* != len: libcurl stops with CURLE_WRITE_ERROR */
  }
  r->received += len;

  if (status_is_2xx(r->status)) {
    if (r->on_body != NULL && len > 0 && r->on_body(r->ud, buf, len) != 0) {
      r->abort = ABORT_CALLBACK;
      return 0;
    }
    return len;
  }

  /* Error response: keep the start of it for the message, drop the rest. */
  if (r->errbody == NULL) {
    r->errbody = malloc(HTTP_ERROR_BODY_MAX + 1);
    if (r->errbody == NULL)
      return len; /* no memory: the body is merely lost */
    r->errbody_len = 0;
  }
  size_t room = HTTP_ERROR_BODY_MAX - r->errbody_len;
  size_t n = len < room ? len : room;
  memcpy(r->errbody + r->errbody_len, buf, n);
  r->errbody_len += n;
  r->errbody[r->errbody_len] = '\0';
  return len;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

static void hreq_free(http_req_t *r) {
  if (r == NULL)
    return;
  free(r->method);
  free(r->url);
  /* Headers carry the token or JWT, the body the password, and an error
   * body may echo either: wiped before they are freed. */
  secret_free(r->body);
  for (struct curl_slist *h = r->headers; h != NULL; h = h->next)
    explicit_bzero(h->data, strlen(h->data));
  curl_slist_free_all(r->headers);
  if (r->errbody != NULL)
    secret_free_n(r->errbody, HTTP_ERROR_BODY_MAX + 1);
  free(r);
}

/* Calls the done callback exactly once, then frees the request. */
static void req_finish(http_req_t *r, http_error_t err, const char *msg) {
  http_result_t res;
  memset(&res, 0, sizeof(res));
  res.error = err;
  res.status = r->status;
  res.total_count = r->total_count;
  res.date = r->date;
  if (r->started_ms > 0) {
    int64_t until = r->answered_ms > 0 ? r->answered_ms : http_now_ms();
    res.slow = r->leased || until - r->started_ms >= r->hc->lease_ms;
  }
  if (msg != NULL)
    snprintf(res.message, sizeof(res.message), "%s", msg);
  if (r->status != 0 && !status_is_2xx(r->status)) {
    res.body = r->errbody != NULL ? r->errbody : "";
    res.body_len = r->errbody != NULL ? r->errbody_len : 0;
  }
  if (r->on_done != NULL)
    r->on_done(r->ud, &res);
  hreq_free(r);
}

static http_error_t map_curl_error(CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return HTTP_OK;
  case CURLE_COULDNT_CONNECT:
    return HTTP_ERR_CONNECT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return HTTP_ERR_RESOLVE;
  case CURLE_OPERATION_TIMEDOUT:
    return HTTP_ERR_TIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_INITFAILED:
#if LIBCURL_VERSION_NUM >= 0x074D00 /* 7.77.0 */
  case CURLE_SSL_CLIENTCERT:
#endif
    return HTTP_ERR_TLS;
  case CURLE_FILESIZE_EXCEEDED:
    return HTTP_ERR_TOO_LARGE;
  default:
    return HTTP_ERR_OTHER;
  }
}

static void queue_push(http_client_t *hc, http_req_t *r);

int http_request(http_client_t *hc, const char *method, const char *url,
                 const char *const *headers, const char *body,
                 http_body_cb on_body, http_done_cb on_done, void *ud) {
  return http_request_prio(hc, HTTP_PRIO_NORMAL, method, url, headers, body,
                           on_body, on_done, ud);
}

int http_request_prio(http_client_t *hc, http_prio_t prio, const char *method,
                      const char *url, const char *const *headers,
                      const char *body, http_body_cb on_body,
                      http_done_cb on_done, void *ud) {
  if (hc == NULL || method == NULL || url == NULL || prio < 0 ||
      prio >= HTTP_PRIO_NUM)
    return -1;
  if (hc->refusing || http_client_cancelled(hc))
    return HTTP_REFUSED;

  http_req_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return -1;
  r->hc = hc;
  r->prio = prio;
  r->on_body = on_body;
  r->on_done = on_done;
  r->ud = ud;
  r->total_count = -1;
  r->method = strdup(method);
  r->url = strdup(url);
  if (r->method == NULL || r->url == NULL)
    goto oom;
  if (body != NULL && (r->body = strdup(body)) == NULL)
    goto oom;

  bool has_ctype = false;
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
    const char *h = headers[i];
    if (strpbrk(h, "\r\n") != NULL)
      r->bad_header = true; /* would inject headers: refuse at start */
    if (strncasecmp(h, "Content-Type:", 13) == 0)
      has_ctype = true;
    struct curl_slist *l = curl_slist_append(r->headers, h);
    if (l == NULL)
      goto oom;
    r->headers = l;
  }
  const char *extra[2] = {NULL, "Expect:"};
  if (r->body != NULL && strcmp(method, "POST") == 0 && !has_ctype)
    extra[0] = "Content-Type: application/json";
  for (size_t i = 0; i < 2; i++) {
    if (extra[i] == NULL)
      continue;
    struct curl_slist *l = curl_slist_append(r->headers, extra[i]);
    if (l == NULL)
      goto oom;
    r->headers = l;
  }

  queue_push(hc, r);
  return 0;

oom:
  hreq_free(r);
  return -1;
}

static void queue_push(http_client_t *hc, http_req_t *r) {
  if (hc->q_tail[r->prio] != NULL)
    hc->q_tail[r->prio]->next = r;
  else
    hc->q_head[r->prio] = r;
  hc->q_tail[r->prio] = r;
  hc->n_waiting++;
}

/* The next request to start: the oldest of the most urgent class. */
static http_req_t *queue_pop(http_client_t *hc) {
  for (int p = 0; p < HTTP_PRIO_NUM; p++) {
    http_req_t *r = hc->q_head[p];
    if (r == NULL)
      continue;
    hc->q_head[p] = r->next;
    if (hc->q_head[p] == NULL)
      hc->q_tail[p] = NULL;
    r->next = NULL;
    hc->n_waiting--;
    return r;
  }
  return NULL;
}

size_t http_client_waiting(const http_client_t *hc) {
  return hc != NULL ? hc->n_waiting : 0;
}

void http_client_set_feed(http_client_t *hc, http_feed_cb feed, void *ud) {
  if (hc == NULL)
    return;
  hc->feed = feed;
  hc->feed_ud = ud;
}

/* ------------------------------------------------------------------------ */
/* Easy handles                                                             */

static CURL *easy_get(http_client_t *hc) {
  if (hc->n_idle > 0)
    return hc->idle[--hc->n_idle];
  return curl_easy_init();
}

static void easy_put(http_client_t *hc, CURL *e) {
  if (e == NULL)
    return;
  curl_easy_reset(e);
  if (hc->n_idle < hc->opts.max_in_flight)
    hc->idle[hc->n_idle++] = e;
  else
    curl_easy_cleanup(e);
}

/* Every option of one transfer, on a fresh (or reset) easy handle. */
static CURLcode easy_setup(http_client_t *hc, http_req_t *r, CURL *e) {
  const http_options_t *o = &hc->opts;
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if (rc == CURLE_OK)                                                        \
      rc = curl_easy_setopt(e, opt, val);                                      \
  } while (0)

  r->errbuf[0] = '\0';
  SET(CURLOPT_ERRORBUFFER, r->errbuf);
  SET(CURLOPT_URL, r->url);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_SHARE, hc->share);
  SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_USERAGENT, HTTP_USER_AGENT);
  SET(CURLOPT_HTTPHEADER, r->headers);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, r);
  SET(CURLOPT_WRITEFUNCTION, on_write);
  SET(CURLOPT_WRITEDATA, r);
  if (o->timeout_ms > 0) {
    SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
  }
  if (o->max_response_size > 0 && o->max_response_size <= (size_t)INT64_MAX)
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response_size);
  if (o->unix_socket != NULL) {
    SET(CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    SET(CURLOPT_PROXY, ""); /* never through a proxy, whatever the env */
  } else if (o->proxy != NULL) {
    SET(CURLOPT_PROXY, o->proxy); /* "": none, not even the environment's */
  }
  SET(CURLOPT_SSL_VERIFYPEER, o->verify_peer ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, o->verify_host ? 2L : 0L);
  if (o->ca_cert != NULL)
    SET(CURLOPT_CAINFO, o->ca_cert);
  if (o->client_cert != NULL)
    SET(CURLOPT_SSLCERT, o->client_cert);
  if (o->client_key != NULL)
    SET(CURLOPT_SSLKEY, o->client_key);

  if (strcmp(r->method, "POST") == 0) {
    const char *b = r->body != NULL ? r->body : "";
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, b); /* not copied: r->body outlives the transfer */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
  } else if (strcmp(r->method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, r->method);
  }
#undef SET
  return rc;
}

/* Requests started and not in the slow pool. */
static int working(const http_client_t *hc) {
  return hc->n_running - hc->n_leased;
}

/* Moves queued requests onto the multi handle while there is room.  Those
 * that cannot start complete at once with HTTP_ERR_OTHER. */
static void start_queued(http_client_t *hc) {
  while (hc->n_waiting > 0 && working(hc) < hc->opts.max_in_flight) {
    http_req_t *r = queue_pop(hc);
    if (r->bad_header) {
      req_finish(r, HTTP_ERR_OTHER, "request header contains a line break");
      continue;
    }
    CURL *e = easy_get(hc);
    if (e == NULL) {
      req_finish(r, HTTP_ERR_OTHER, "out of memory");
      continue;
    }
    CURLcode rc = easy_setup(hc, r, e);
    if (rc != CURLE_OK) {
      easy_put(hc, e);
      req_finish(r, HTTP_ERR_OTHER, curl_easy_strerror(rc));
      continue;
    }
    CURLMcode mc = curl_multi_add_handle(hc->multi, e);
    if (mc != CURLM_OK) {
      easy_put(hc, e);
      req_finish(r, HTTP_ERR_OTHER, curl_multi_strerror(mc));
      continue;
    }
    r->easy = e;
    r->started_ms = http_now_ms();
    hc->running[hc->n_running++] = r;
    hc->sent++;
  }
}

/* Takes running slot i off the multi handle; returns its request. */
static http_req_t *running_take(http_client_t *hc, int i) {
  http_req_t *r = hc->running[i];
  memmove(&hc->running[i], &hc->running[i + 1],
          (size_t)(hc->n_running - i - 1) * sizeof(hc->running[0]));
  hc->n_running--;
  if (r->leased)
    hc->n_leased--;
  curl_multi_remove_handle(hc->multi, r->easy);
  easy_put(hc, r->easy);
  r->easy = NULL;
  return r;
}

/* A transfer libcurl reports as done: work out its result. */
static void req_complete(http_req_t *r, CURLcode rc) {
  char msg[128];
  if (r->abort == ABORT_TOO_LARGE) {
    snprintf(msg, sizeof(msg), "response body larger than %zu bytes",
             r->hc->opts.max_response_size);
    req_finish(r, HTTP_ERR_TOO_LARGE, msg);
  } else if (r->abort == ABORT_CALLBACK) {
    req_finish(r, HTTP_ERR_ABORTED, "transfer aborted by the body callback");
  } else if (rc == CURLE_OK) {
    req_finish(r, HTTP_OK, NULL);
  } else {
    /* errbuf is copied by req_finish before the request is freed. */
    const char *m = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc);
    http_error_t e = map_curl_error(rc);
    /* With TLS 1.3 a server refusing our client certificate says so in an
     * alert read after the handshake: a receive error naming SSL. */
    if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
        (strstr(m, "SSL") != NULL || strstr(m, "TLS") != NULL))
      e = HTTP_ERR_TLS;
    req_finish(r, e, m);
  }
}

static void collect_done(http_client_t *hc) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(hc->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE)
      continue;
    /* m is invalid once the handle is removed: copy what we need. */
    CURL *e = m->easy_handle;
    CURLcode rc = m->data.result;
    int i = 0;
    while (i < hc->n_running && hc->running[i]->easy != e)
      i++;
    if (i == hc->n_running)
      continue; /* not ours (cannot happen) */
    req_complete(running_take(hc, i), rc);
  }
}

/* Completes everything running or queued with err.  Callbacks cannot queue
 * more meanwhile (http_request() refuses), so this ends. */
static void drain_all(http_client_t *hc, http_error_t err, const char *msg) {
  bool was = hc->refusing;
  hc->refusing = true;
  while (hc->n_running > 0)
    req_finish(running_take(hc, 0), err, msg);
  http_req_t *r;
  while ((r = queue_pop(hc)) != NULL)
    req_finish(r, err, msg);
  hc->refusing = was;
}

/* Moves the requests unanswered past their lease into the slow pool, while
 * it has room.  Returns when the next lease of a working, unanswered
 * request ends (INT64_MAX: none does). */
static int64_t leases_update(http_client_t *hc, int64_t now) {
  int64_t next = INT64_MAX;
  for (int i = 0; i < hc->n_running; i++) {
    http_req_t *r = hc->running[i];
    if (r->leased || r->answered_ms != 0)
      continue;
    int64_t end = r->started_ms + hc->lease_ms;
    if (end <= now && hc->n_leased < hc->max_slow) {
      r->leased = true;
      hc->n_leased++;
    } else if (end > now && end < next) {
      next = end;
    }
  }
  return next;
}

/* Asks the caller for more work while few requests wait. */
static void feed(http_client_t *hc) {
  if (hc->feed != NULL && !hc->refusing &&
      hc->n_waiting < (size_t)hc->opts.max_in_flight)
    hc->feed(hc->feed_ud);
}

int http_client_run(http_client_t *hc, int64_t deadline_ms) {
  if (hc == NULL || hc->in_run)
    return -1;
  hc->in_run = true;
  int ret = 0;

  for (;;) {
    int64_t now = http_now_ms();
    if (http_client_cancelled(hc)) {
      drain_all(hc, HTTP_ERR_CANCELLED, "cancelled: collectd is shutting down");
      break;
    }
    if (now >= deadline_ms) {
      drain_all(hc, HTTP_ERR_TIMEOUT, "poll deadline reached");
      break;
    }
    leases_update(hc, now);
    feed(hc);
    start_queued(hc);
    if (hc->n_running == 0) {
      if (hc->n_waiting == 0)
        break; /* all done */
      continue;
    }

    int still = 0;
    CURLMcode mc = curl_multi_perform(hc->multi, &still);
    if (mc == CURLM_OK) {
      collect_done(hc);
      /* Room freed and work waiting: start it before sleeping. */
      if (working(hc) < hc->opts.max_in_flight && hc->n_waiting > 0)
        continue;
      if (hc->n_running == 0)
        continue;
      now = http_now_ms();
      int64_t left = deadline_ms - now;
      if (left <= 0)
        continue;
      /* Wake up when a lease ends, to give its slot to what waits. */
      int64_t lease_end = leases_update(hc, now);
      if (lease_end != INT64_MAX && hc->n_waiting > 0 && lease_end - now < left)
        left = lease_end - now > 0 ? lease_end - now : 1;
      int wait = left < HTTP_POLL_SLICE_MS ? (int)left : HTTP_POLL_SLICE_MS;
      /* http_client_cancel() wakes this up at once (curl_multi_wakeup). */
      mc = curl_multi_poll(hc->multi, NULL, 0, wait, NULL);
    }
    if (mc != CURLM_OK) {
      drain_all(hc, HTTP_ERR_OTHER, curl_multi_strerror(mc));
      ret = -1;
      break;
    }
  }

  hc->in_run = false;
  return ret;
}

void http_client_cancel(http_client_t *hc) {
  if (hc == NULL)
    return;
  atomic_store(&hc->cancelled, true);
  /* Thread-safe by libcurl's contract; harmless when nothing polls. */
  if (hc->multi != NULL)
    curl_multi_wakeup(hc->multi);
}

bool http_client_cancelled(const http_client_t *hc) {
  return hc != NULL && atomic_load(&hc->cancelled);
}

/* ------------------------------------------------------------------------ */
/* Client                                                                   */

/* The lease and the size of the slow pool (http.h). */
static void slow_pool_setup(http_client_t *hc) {
  const http_options_t *o = &hc->opts;
  long lease = o->lease_ms;
  if (lease <= 0) {
    lease = o->timeout_ms > 0 ? o->timeout_ms / 10 : HTTP_LEASE_MAX_MS;
    if (lease < HTTP_LEASE_MIN_MS)
      lease = HTTP_LEASE_MIN_MS;
    if (lease > HTTP_LEASE_MAX_MS)
      lease = HTTP_LEASE_MAX_MS;
  }
  hc->lease_ms = lease;
  int slow = o->max_slow;
  if (slow <= 0) {
    slow = 8 * o->max_in_flight;
    if (slow < HTTP_SLOW_MIN)
      slow = HTTP_SLOW_MIN;
  }
  hc->max_slow = slow > HTTP_SLOW_MAX ? HTTP_SLOW_MAX : slow;
}

static int dup_opt(char **dst, const char *src) {
  *dst = NULL;
  if (src == NULL)
    return 0;
  *dst = strdup(src);
  return *dst != NULL ? 0 : -1;
}

http_client_t *http_client_new(const http_options_t *opts) {
  if (opts == NULL || http_global_init() != 0)
    return NULL;
  http_client_t *hc = calloc(1, sizeof(*hc));
  if (hc == NULL)
    return NULL;

  atomic_init(&hc->cancelled, false);
  hc->opts = *opts;
  hc->opts.unix_socket = hc->opts.ca_cert = NULL;
  hc->opts.client_cert = hc->opts.client_key = hc->opts.proxy = NULL;
  if (hc->opts.max_in_flight < 1)
    hc->opts.max_in_flight = 1;
  if (hc->opts.max_in_flight > HTTP_MAX_IN_FLIGHT_CAP)
    hc->opts.max_in_flight = HTTP_MAX_IN_FLIGHT_CAP;
  int n = hc->opts.max_in_flight;
  slow_pool_setup(hc);

  char *s[5] = {NULL, NULL, NULL, NULL, NULL};
  if (dup_opt(&s[0], opts->unix_socket) != 0 ||
      dup_opt(&s[1], opts->ca_cert) != 0 ||
      dup_opt(&s[2], opts->client_cert) != 0 ||
      dup_opt(&s[3], opts->client_key) != 0 ||
      dup_opt(&s[4], opts->proxy) != 0) {
    for (int i = 0; i < 4; i++)
      free(s[i]);
    secret_free(s[4]);
    free(hc);
    return NULL;
  }
  hc->opts.unix_socket = s[0];
  hc->opts.ca_cert = s[1];
  hc->opts.client_cert = s[2];
  hc->opts.client_key = s[3];
  hc->opts.proxy = s[4]; /* may hold credentials: wiped when freed */

  hc->running = calloc((size_t)(n + hc->max_slow), sizeof(*hc->running));
  hc->idle = calloc((size_t)n, sizeof(*hc->idle));
  hc->multi = curl_multi_init();
  hc->share = curl_share_init();
  if (hc->running == NULL || hc->idle == NULL || hc->multi == NULL ||
      hc->share == NULL)
    goto fail;
  if (curl_share_setopt(hc->share, CURLSHOPT_SHARE,
                        CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
    goto fail;
  /* Every transfer, slow ones included, gets a connection at once: a
   * working request never waits in libcurl behind one that hangs.  (The
   * cache keeps as many, or each answer would close a connection while
   * slow transfers hold theirs.) */
  long conns = (long)n + hc->max_slow;
  if (curl_multi_setopt(hc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns) !=
          CURLM_OK ||
      curl_multi_setopt(hc->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns) !=
          CURLM_OK ||
      curl_multi_setopt(hc->multi, CURLMOPT_MAXCONNECTS, conns) != CURLM_OK)
    goto fail;
  return hc;

fail:
  http_client_free(hc);
  return NULL;
}

void http_client_free(http_client_t *hc) {
  if (hc == NULL)
    return;
  /* Nothing runs outside http_client_run(); what is left never ran. */
  hc->refusing = true;
  drain_all(hc, HTTP_ERR_OTHER, "client freed before the request ran");
  for (int i = 0; i < hc->n_idle; i++)
    curl_easy_cleanup(hc->idle[i]);
  if (hc->multi != NULL)
    curl_multi_cleanup(hc->multi);
  /* After every easy handle that used it. */
  if (hc->share != NULL)
    curl_share_cleanup(hc->share);
  free(hc->running);
  free(hc->idle);
  free((char *)hc->opts.unix_socket);
  free((char *)hc->opts.ca_cert);
  free((char *)hc->opts.client_cert);
  free((char *)hc->opts.client_key);
  secret_free((char *)hc->opts.proxy);
  free(hc);
}

uint64_t http_client_requests_sent(const http_client_t *hc) {
  return hc != NULL ? hc->sent : 0;
}
