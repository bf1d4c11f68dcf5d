/**
 * http.c: the libcurl multi client behind http.h: its error names, clock and
 * libcurl's global set-up.  The client is spread by concern over the
 * files that http_internal.h lists.
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

#include <curl/curl.h>

#include <pthread.h>
#include <time.h>

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
