/**
 * source.c: one poll of one source; see source.h.
 *
 * Every request of a poll is queued on the source's http client and runs in
 * one loop.  Completion callbacks chain the next requests, each step in its
 * own file (source_internal.h):
 *
 *   Portainer:  [login.c] -> environments.c: page 1 -> pages 2..n (together)
 *                 \-> per environment: lists.c -> events.c -> inspects.c
 *   Docker:     lists.c -> events.c -> inspects.c
 *
 * This file starts a poll, runs the loop until it is done or its deadline
 * passes, and closes it: environments that did not answer, containers gone
 * between list and inspect, the source's own up and statistics.
 */
#include "source_internal.h"

#include "identity.h"
#include "secret.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

source_t *source_new(source_conf_t *conf, const char *default_host,
                     source_log_fn log, void *log_ud) {
  source_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->conf = *conf;
  memset(conf, 0, sizeof(*conf));
  s->log = log;
  s->log_ud = log_ud;
  const char *host = s->conf.host != NULL ? s->conf.host : default_host;
  s->host = strdup(host != NULL ? host : "localhost");
  s->inv = inventory_new();

  http_options_t opts = {
      .unix_socket = s->conf.socket,
      .verify_peer = s->conf.verify_peer,
      .verify_host = s->conf.verify_host,
      .ca_cert = s->conf.ca_cert,
      .client_cert = s->conf.client_cert,
      .client_key = s->conf.client_key,
      .proxy = s->conf.proxy,
      .timeout_ms = s->conf.timeout_ms,
      .max_response_size = s->conf.max_response_size,
      .max_in_flight = s->conf.max_in_flight,
  };
  s->http = http_client_new(&opts);
  if (s->host == NULL || s->inv == NULL || s->http == NULL) {
    source_free(s);
    return NULL;
  }
  http_client_set_feed(s->http, inspects_feed, s);
  source_set_auth_header(s);
  return s;
}

void source_free(source_t *s) {
  if (s == NULL)
    return;
  http_client_free(s->http);
  inventory_free(s->inv);
  source_conf_free(&s->conf);
  secret_free(s->jwt);
  explicit_bzero(s->auth_header, sizeof(s->auth_header));
  free(s->host);
  free(s->skipped);
  free(s->inspects);
  free(s->seen_ids);
  free(s->seen_used);
  free(s->ihosts);
  free(s);
}

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resets the per-poll state and queues the first request. */
static void poll_start(source_t *s) {
  s->now = (int64_t)wall_seconds();
  s->inspects_num = s->ihosts_num = s->ihosts_turn = 0;
  s->pages_ok = true;
  s->api_answered = false;
  s->auth_retried = false;
  s->pages_queued = 0;
  environments_poll_begin(s);

  if (s->conf.kind == SOURCE_PORTAINER) {
    for (size_t i = 0; i < s->inv->envs_num; i++)
      s->inv->envs[i]->listed = false;
    if (s->jwt == NULL && s->conf.username != NULL)
      login_queue(s, environments_start);
    else
      environments_start(s);
  } else {
    inv_env_t *e = inventory_env(s->inv, 0, s->host);
    if (e != NULL) {
      e->listed = true;
      lists_queue(s, e);
    }
  }
}

/* The loop is done: what did not answer, what vanished, the source's up. */
static bool poll_close(source_t *s) {
  for (size_t i = 0; i < s->inv->envs_num; i++) {
    inv_env_t *e = s->inv->envs[i];
    if (!e->listed) {
      e->up = false; /* not reached this poll (a page failed) */
    } else if (e->up) {
      inv_env_drop_vanished(e);
      /* Names for what emit.c sends: suffixes kept from poll to poll. */
      identity_settle(e->cs, e->cs_num, s->conf.ti_mode, NULL);
      if (!e->inspect_failed)
        fault_env_recovered(s, e, e->inspect_fault, "inspects are");
    }
  }
  if (s->conf.kind == SOURCE_PORTAINER)
    environments_poll_end(s);
  /* Environments gone from a complete list are gone for good. */
  if (s->conf.kind == SOURCE_PORTAINER && s->pages_ok && s->api_answered)
    inventory_prune_unlisted(s->inv);

  return s->api_answered && (s->conf.kind == SOURCE_DOCKER || s->pages_ok);
}

int source_poll(source_t *s) {
  if (http_client_cancelled(s->http))
    return SOURCE_POLL_CANCELLED; /* nothing is sent */
  int64_t start_ms = http_now_ms();
  double interval = s->conf.interval > 0 ? s->conf.interval : 10.0;
  /* The whole poll ends before the next one is due. */
  int64_t budget = (int64_t)(interval * 900.0);
  if (budget < 1000)
    budget = 1000;

  poll_start(s);
  http_client_run(s->http, start_ms + budget);
  /* Cancelled: what the poll gathered stays unreported; the source is about
   * to be freed. */
  if (http_client_cancelled(s->http))
    return SOURCE_POLL_CANCELLED;
  bool up = poll_close(s);

  s->stats.up = up;
  s->stats.poll_seconds = (double)(http_now_ms() - start_ms) / 1000.0;
  s->stats.requests = http_client_requests_sent(s->http);
  s->polls++;
  if (up) {
    s->stats.last_success = s->now;
    fault_source_recovered(s);
  }
  return up ? SOURCE_POLL_UP : SOURCE_POLL_DOWN;
}

void source_cancel(source_t *s) {
  if (s != NULL)
    http_client_cancel(s->http);
}

const source_conf_t *source_conf(const source_t *s) {
  return &s->conf;
}

const inventory_t *source_inventory(const source_t *s) {
  return s->inv;
}

inventory_t *source_inventory_notify(source_t *s) {
  return s->inv;
}

const source_stats_t *source_stats(const source_t *s) {
  return &s->stats;
}
