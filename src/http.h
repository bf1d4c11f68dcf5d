/**
 * http.h: every request of a poll through one libcurl multi handle.
 *
 * One http_client_t per source keeps its connections (and TLS sessions)
 * between polls.  Requests are queued with http_request() and run by
 * http_client_run(), at most max_in_flight at a time; completion callbacks
 * may queue further requests (the inspects that follow a list, the pages that
 * follow the first), which run in the same loop.  Bodies of 2xx responses are
 * streamed to the caller as they arrive; error bodies are kept (capped) for
 * the error message.  Nothing here logs: secrets in headers never leave.
 *
 * Scheduling, so that no host that does not answer delays one that does:
 *  - a waiting request starts only when none of a more urgent class waits
 *    (http_request_prio()); within a class, first come first served;
 *  - a request that has had no answer (not one byte of its response) for
 *    lease_ms stops counting against max_in_flight: it waits on, until its
 *    timeout, in a separate pool of at most max_slow transfers, and a working
 *    slot is free for the next request.  libcurl's connection caps are
 *    max_in_flight + max_slow.  When that pool is full, an unanswered
 *    request keeps its slot;
 *  - a feed callback (http_client_set_feed()) is asked for more work
 *    whenever fewer than max_in_flight requests wait to start, so a caller
 *    can hand requests over a window at a time, in the order it chooses.
 */
#ifndef PORTAINER_HTTP_H
#define PORTAINER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  HTTP_OK = 0,        /* a response arrived; see status */
  HTTP_ERR_CONNECT,   /* refused, unreachable, socket missing */
  HTTP_ERR_RESOLVE,   /* host name not resolved */
  HTTP_ERR_TIMEOUT,   /* request Timeout, or the poll's deadline */
  HTTP_ERR_TLS,       /* certificate or handshake failure */
  HTTP_ERR_TOO_LARGE, /* body exceeded max_response_size */
  HTTP_ERR_ABORTED,   /* the body callback refused the data */
  HTTP_ERR_OTHER,
  HTTP_ERR_CANCELLED, /* http_client_cancel(): collectd is shutting down */
} http_error_t;

/* Short stable names ("connect", "timeout", ...) for metrics and logs. */
const char *http_error_name(http_error_t e);

#define HTTP_ERROR_BODY_MAX 4096

typedef struct {
  http_error_t error;
  long status;         /* HTTP status; 0 when no response arrived */
  int64_t total_count; /* X-Total-Count header, -1 when absent/invalid */
  int64_t date;        /* Date header (the server's clock), unix seconds;
                          0 when absent/invalid */
  char message[256];   /* transport error text, "" when none */
  bool slow;           /* it started and waited lease_ms or more for the
                          first byte of an answer (or never had one) */
  /* For status >= 300: the first HTTP_ERROR_BODY_MAX bytes of the body,
   * NUL-terminated; NULL otherwise.  Valid during the callback only. */
  const char *body;
  size_t body_len;
} http_result_t;

typedef struct {
  const char *unix_socket; /* connect through this socket; NULL: TCP */
  bool verify_peer;
  bool verify_host;
  const char *ca_cert;     /* NULL: system store */
  const char *client_cert; /* NULL: none */
  const char *client_key;
  /* CURLOPT_PROXY: NULL leaves libcurl to its environment variables
   * (http_proxy, https_proxy, ALL_PROXY, no_proxy); "" means no proxy at all;
   * else the proxy's URL (it may hold credentials: never logged).  A unix
   * socket never goes through a proxy. */
  const char *proxy;
  long timeout_ms;          /* per request (connect + transfer) */
  size_t max_response_size; /* per response body, bytes */
  int max_in_flight;        /* >= 1 */
  long lease_ms; /* unanswered this long: out of the working slots; 0: a tenth
                    of timeout_ms, within [HTTP_LEASE_MIN_MS, _MAX_MS] */
  int max_slow;  /* transfers past their lease; 0: 8 x max_in_flight, within
                    [HTTP_SLOW_MIN, HTTP_SLOW_MAX] */
} http_options_t;

#define HTTP_LEASE_MIN_MS 250
#define HTTP_LEASE_MAX_MS 1000
#define HTTP_SLOW_MIN     32
#define HTTP_SLOW_MAX     512

/* Scheduling classes, most urgent first. */
typedef enum {
  HTTP_PRIO_URGENT = 0, /* what everything else waits for */
  HTTP_PRIO_HIGH,
  HTTP_PRIO_NORMAL, /* http_request() */
  HTTP_PRIO_LOW,
  HTTP_PRIO_NUM
} http_prio_t;

typedef struct http_client_s http_client_t;

/* Copies everything it needs from opts.  NULL on failure. */
http_client_t *http_client_new(const http_options_t *opts);
void http_client_free(http_client_t *hc);

/* Called for each chunk of a 2xx body; return non-zero to abort the transfer
 * (it then completes with HTTP_ERR_ABORTED). */
typedef int (*http_body_cb)(void *ud, const char *buf, size_t len);
/* Called exactly once per queued request, from http_client_run() (or from
 * http_client_free() for requests never run, with HTTP_ERR_OTHER). */
typedef void (*http_done_cb)(void *ud, const http_result_t *res);

/* Queues a request.  method is "GET" or "POST"; headers is NULL or a
 * NULL-terminated array of "Name: value" strings; body (POST, JSON) may be
 * NULL.  All strings are copied.  Returns 0; HTTP_REFUSED when the run is
 * ending (its deadline, a cancel, the client being freed); -1 when out of
 * memory or given NULL.  No callback is called when it fails. */
#define HTTP_REFUSED (-2)
int http_request(http_client_t *hc, const char *method, const char *url,
                 const char *const *headers, const char *body,
                 http_body_cb on_body, http_done_cb on_done, void *ud);
/* The same, in scheduling class prio (HTTP_PRIO_NORMAL for http_request()). */
int http_request_prio(http_client_t *hc, http_prio_t prio, const char *method,
                      const char *url, const char *const *headers,
                      const char *body, http_body_cb on_body,
                      http_done_cb on_done, void *ud);

/* feed(ud) runs inside http_client_run() whenever fewer than max_in_flight
 * requests wait to start (never while a deadline drains the client); it may
 * queue requests.  NULL: none. */
typedef void (*http_feed_cb)(void *ud);
void http_client_set_feed(http_client_t *hc, http_feed_cb feed, void *ud);
/* Requests queued and not started yet. */
size_t http_client_waiting(const http_client_t *hc);

/* Runs queued requests until none is left or deadline_ms (http_now_ms()
 * clock) passes; what is still queued or running then completes with
 * HTTP_ERR_TIMEOUT.  Returns 0, or -1 if libcurl itself failed. */
int http_client_run(http_client_t *hc, int64_t deadline_ms);

/* Cancels the client for good; callable from any thread, at any time, as
 * long as the client is not being freed.  A http_client_run() in progress
 * wakes at once and completes what is running or queued with
 * HTTP_ERR_CANCELLED; later runs do the same at once, and http_request()
 * refuses.  For collectd's shutdown. */
void http_client_cancel(http_client_t *hc);
bool http_client_cancelled(const http_client_t *hc);

/* Requests started by this client since it was created. */
uint64_t http_client_requests_sent(const http_client_t *hc);

/* curl_global_init(), once per process (called from module_register). */
int http_global_init(void);

/* Monotonic milliseconds. */
int64_t http_now_ms(void);

#endif
