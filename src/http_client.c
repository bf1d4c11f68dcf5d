/**
 * http_client.c: an http client's lifetime (http_internal.h): its options,
 * its libcurl multi and share handles, the caps of its slots.
 */
#include "http_internal.h"

#include "secret.h"

#include <stdlib.h>
#include <string.h>

/* Sanity bound on max_in_flight (arrays are sized by it). */
#define HTTP_MAX_IN_FLIGHT_CAP 1024

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
