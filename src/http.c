/**
 * http.c: the libcurl multi client behind http.h (files: http_internal.h).
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
#include "http_internal.h"

#include "secret.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sanity bound on max_in_flight (arrays are sized by it). */
#define HTTP_MAX_IN_FLIGHT_CAP 1024

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
  http_drain_all(hc, HTTP_ERR_OTHER, "client freed before the request ran");
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
