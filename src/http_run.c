/**
 * http_run.c: the loop of the http client (http_internal.h).  Requests move
 * from the queues onto the multi handle while fewer than max_in_flight are
 * working; one unanswered past its lease moves to the slow pool and frees its
 * slot; what libcurl reports done is completed; at the deadline (or on
 * cancel) everything left fails.  Runs in the caller's thread only.
 */
#include "http_internal.h"

#include <string.h>

/* Longest single wait in curl_multi_poll(), so the deadline is re-checked. */
#define HTTP_POLL_SLICE_MS 1000

/* Requests started and not in the slow pool. */
static int working(const http_client_t *hc) {
  return hc->n_running - hc->n_leased;
}

/* Moves queued requests onto the multi handle while there is room.  Those
 * that cannot start complete at once with HTTP_ERR_OTHER. */
static void start_queued(http_client_t *hc) {
  while (hc->n_waiting > 0 && working(hc) < hc->opts.max_in_flight) {
    http_req_t *r = http_queue_pop(hc);
    if (r->bad_header) {
      http_req_finish(r, HTTP_ERR_OTHER,
                      "request header contains a line break");
      continue;
    }
    CURL *e = http_easy_get(hc);
    if (e == NULL) {
      http_req_finish(r, HTTP_ERR_OTHER, "out of memory");
      continue;
    }
    CURLcode rc = http_easy_setup(hc, r, e);
    if (rc != CURLE_OK) {
      http_easy_put(hc, e);
      http_req_finish(r, HTTP_ERR_OTHER, curl_easy_strerror(rc));
      continue;
    }
    CURLMcode mc = curl_multi_add_handle(hc->multi, e);
    if (mc != CURLM_OK) {
      http_easy_put(hc, e);
      http_req_finish(r, HTTP_ERR_OTHER, curl_multi_strerror(mc));
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
  http_easy_put(hc, r->easy);
  r->easy = NULL;
  return r;
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
    http_req_complete(running_take(hc, i), rc);
  }
}

/* Callbacks cannot queue more meanwhile (http_request() refuses), so this
 * ends. */
void http_drain_all(http_client_t *hc, http_error_t err, const char *msg) {
  bool was = hc->refusing;
  hc->refusing = true;
  while (hc->n_running > 0)
    http_req_finish(running_take(hc, 0), err, msg);
  http_req_t *r;
  while ((r = http_queue_pop(hc)) != NULL)
    http_req_finish(r, err, msg);
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
      http_drain_all(hc, HTTP_ERR_CANCELLED,
                     "cancelled: collectd is shutting down");
      break;
    }
    if (now >= deadline_ms) {
      http_drain_all(hc, HTTP_ERR_TIMEOUT, "poll deadline reached");
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
      http_drain_all(hc, HTTP_ERR_OTHER, curl_multi_strerror(mc));
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
