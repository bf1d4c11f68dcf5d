/**
 * http_internal.h: what the files of the http client share (not a public
 * header; the client's interface is http.h).
 *
 *   http.c           error names, the clock, libcurl's global set-up
 *   http_client.c    a client: create, free, its options and handles
 *   http_request.c   a request: its copy of method, URL, headers, body; the
 *                    queues by scheduling class; its one completion
 *   http_transfer.c  one transfer on a libcurl easy handle: options, the
 *                    response's status line, headers and body, its result
 *   http_run.c       the loop: starting what waits, leases and the slow
 *                    pool, collecting what is done, the deadline, cancel
 *
 * Ownership: the client owns its queues, its running slots and the idle
 * easy handles; a request is owned by the client from http_request() until
 * http_req_finish() has called its done callback and freed it.
 */
#ifndef PORTAINER_HTTP_INTERNAL_H
#define PORTAINER_HTTP_INTERNAL_H

#include "http.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

static inline bool http_status_is_2xx(long st) {
  return st >= 200 && st <= 299;
}

/* --- http_request.c ------------------------------------------------------- */

/* Wipes (headers and body hold secrets) and frees a request. */
void http_req_free(http_req_t *r);
/* Calls the done callback exactly once, then frees the request. */
void http_req_finish(http_req_t *r, http_error_t err, const char *msg);
void http_queue_push(http_client_t *hc, http_req_t *r);
/* The next request to start: the oldest of the most urgent class. */
http_req_t *http_queue_pop(http_client_t *hc);

/* --- http_transfer.c ------------------------------------------------------ */

/* libcurl's header and write callbacks (ud: the request). */
size_t http_on_header(char *buf, size_t size, size_t nitems, void *ud);
size_t http_on_write(char *buf, size_t size, size_t nmemb, void *ud);
/* An easy handle: an idle one, else a new one (NULL: out of memory). */
CURL *http_easy_get(http_client_t *hc);
/* Resets e and keeps it for reuse (or cleans it up). */
void http_easy_put(http_client_t *hc, CURL *e);
/* Every option of one transfer, on a fresh (or reset) easy handle. */
CURLcode http_easy_setup(http_client_t *hc, http_req_t *r, CURL *e);
/* A transfer libcurl reports as done: its result, then finished. */
void http_req_complete(http_req_t *r, CURLcode rc);

/* --- http_run.c ----------------------------------------------------------- */

/* Completes everything running or queued with err. */
void http_drain_all(http_client_t *hc, http_error_t err, const char *msg);

#endif
