/**
 * lists.c: one Docker host's container list (GET /containers/json?all=1),
 * parsed as it streams into the host's next inventory list.
 *
 * When the list is in, the poll either asks the daemon's events since the
 * last poll (events.c) or, on a full poll, goes straight to the inspects
 * (inspects.c).
 *
 * The list's Date header is the daemon's clock (inventory.h): the events
 * window ends there, and a Date that shows the clock stepped back since the
 * last list makes the poll a full one, as the window cannot be trusted.
 */
#include "source_internal.h"

#include "docker_api.h"

#include <stdlib.h>

void lists_add_container(void *ud, container_t *c) {
  req_t *r = ud;
  const source_conf_t *conf = &r->s->conf;
  if (c->node != NULL) /* every node that answered, whatever is filtered */
    (void)inv_names_add(&r->env->nodes_seen, c->node);
  if (!source_conf_keeps(&conf->ct_include, &conf->ct_exclude, c->name)) {
    container_free(c);
    return;
  }
  if (inv_env_list_add(r->env, c) != 0)
    r->nomem = true; /* a container is missing: the list failed */
}

/* The daemon's clock stepped back: told at info level, once per step. */
static void log_clock_back(source_t *s, const inv_env_t *e, int64_t date) {
  char now[32], was[32];
  logline_t l;
  fault_utc(date, now, sizeof(now));
  fault_utc(e->clock_date > 0 ? e->clock_date : e->events_until, was,
            sizeof(was));
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_printf(&l,
                 ": the Docker daemon's clock went back (its list answered "
                 "at %s, the last one at %s): every container is inspected",
                 now, was);
  slog_line(s, SOURCE_LOG_INFO, &l);
}

static void on_list_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  inv_env_t *e = r->env;
  double arrived = inv_monotonic();

  e->slow = res->slow; /* asked after the others next poll */
  if (!req_answered(r, res)) {
    fault_request(s, r, res);
    inv_env_list_abort(e);
    req_free(r);
    return;
  }
  if (s->conf.kind == SOURCE_DOCKER)
    s->api_answered = true;

  unsigned every =
      s->conf.full_inspect_every > 0 ? (unsigned)s->conf.full_inspect_every : 1;
  /* Everything is inspected on the first poll, after an outage, every
   * FullInspectEvery polls, and when the daemon's clock is unknown or went
   * back. */
  e->poll_full = !e->up || (e->polls % every) == 0 || e->events_until <= 0 ||
                 res->date <= 0;
  if (e->up && inv_env_clock_went_back(e, res->date, e->list_asked)) {
    log_clock_back(s, e, res->date);
    e->poll_full = true;
  }
  e->events_failed = false;
  e->events_pending = 0;
  e->list_date = res->date;
  e->list_arrived = arrived;
  req_free(r);
  nodes_check(s, e); /* Swarm agents: may wait for GET /nodes */

  if (!e->poll_full && e->list_date >= e->events_until) {
    if (events_queue_all(s, e) && e->events_pending > 0)
      return; /* inspects_host_ready() runs when the last events answer */
    e->events_failed = true;
    if (e->events_pending > 0)
      return;
  }
  inspects_host_ready(s, e);
}

const char *lists_label_key(const source_t *s) {
  return s->conf.ti_mode == TYPE_INSTANCE_LABEL ? s->conf.ti_label : NULL;
}

void lists_start(source_t *s, inv_env_t *e, req_t *r, const char *url,
                 http_done_cb done) {
  if (r == NULL || r->js == NULL || url == NULL) {
    req_free(r);
    inv_env_list_abort(e);
    return;
  }
  r->env = e;
  inv_env_list_begin(e);
  if (req_queue(s, r, "GET", url, NULL, NULL, NULL, done) != 0)
    inv_env_list_abort(e);
}

void lists_queue(source_t *s, inv_env_t *e) {
  req_t *r = req_new(s, REQ_LIST);
  if (r != NULL)
    r->js = docker_list_parser_new(lists_label_key(s), lists_add_container, r);
  char *url = req_docker_url(s, e, DOCKER_PATH_LIST);
  e->list_asked = inv_monotonic();
  lists_start(s, e, r, url, on_list_done);
  free(url);
}
