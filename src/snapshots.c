/**
 * snapshots.c: async Edge agents, which Portainer cannot proxy to ("Cannot
 * open a tunnel for async edge environments"): their containers come from
 * the snapshot the agent last sent Portainer (GET /api/endpoints/{id},
 * Snapshots[0], streamed).
 *
 * Such values are the snapshot's: state, health (the Status suffix) and the
 * exit code of "Exited (N)"; nothing is inspected, so there is no restart
 * count, OOM kill, uptime or failing streak.  A snapshot is used while no
 * older than pt_edge_snapshot_max_age() on Portainer's clock (its Date
 * header); an older or missing one leaves the environment at up 0, its cause
 * logged once.  Its age is kept for collectd_portainer_snapshot_age_seconds.
 */
#include "source_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_STALE   "edge:stale-snapshot"
#define SIG_NO_SNAP "edge:no-snapshot"

/* The snapshot is in: its containers become the environment's, as a list
 * whose every value is the list's own (no inspect, nothing carried over). */
static void commit(source_t *s, inv_env_t *e) {
  inv_env_list_commit(e, false, s->now);
  for (size_t i = 0; i < e->cs_num; i++) {
    e->cs[i]->inspected = false;
    if (e->needs_inspect != NULL)
      e->needs_inspect[i] = false;
  }
}

/* Fresh, stale or missing: what the document says, on Portainer's clock. */
static void judge(source_t *s, inv_env_t *e, const pt_snapshot_t *snap,
                  int64_t now) {
  char msg[512], when[64];
  if (!snap->present || !snap->containers || snap->time <= 0) {
    inv_env_list_abort(e);
    fault_env_state(s, e, e->edge_fault, sizeof(e->edge_fault), SIG_NO_SNAP,
                    "async Edge agent: Portainer has no snapshot of its "
                    "containers: up 0 until it has one");
    return;
  }
  int64_t age = now > snap->time ? now - snap->time : 0;
  e->snapshot_age = age;
  fault_utc(snap->time, when, sizeof(when));
  if (age > e->snapshot_max_age) {
    inv_env_list_abort(e);
    snprintf(msg, sizeof(msg),
             "async Edge agent: Portainer's snapshot is %" PRId64
             " s old (taken %s; fresh means at most %" PRId64
             " s): up 0 until a fresh one arrives",
             age, when, e->snapshot_max_age);
    fault_env_state(s, e, e->edge_fault, sizeof(e->edge_fault), SIG_STALE, msg);
    return;
  }
  if (strcmp(e->edge_fault, SIG_STALE) == 0 ||
      strcmp(e->edge_fault, SIG_NO_SNAP) == 0) {
    snprintf(msg, sizeof(msg),
             "async Edge agent: a fresh snapshot again (taken %s, %" PRId64
             " s old)",
             when, age);
    fault_env_state(s, e, e->edge_fault, sizeof(e->edge_fault), "", msg);
  }
  commit(s, e);
}

static void on_snapshot_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  inv_env_t *e = r->env;
  e->slow = res->slow;
  if (!req_answered(r, res)) {
    fault_request(s, r, res);
    inv_env_list_abort(e);
    req_free(r);
    return;
  }
  fault_env_recovered(s, e, e->fault, "its snapshot is");
  judge(s, e, &r->snap, res->date > 0 ? res->date : s->now);
  req_free(r);
}

void snapshots_queue(source_t *s, inv_env_t *e, const pt_endpoint_t *ep) {
  char path[64];
  e->snapshot_max_age = pt_edge_snapshot_max_age(ep);
  req_t *r = req_new(s, REQ_SNAPSHOT);
  if (r != NULL)
    r->js = pt_snapshot_parser_new(lists_label_key(s), lists_add_container, r,
                                   &r->snap);
  char *url = pt_path_endpoint(path, sizeof(path), e->id) == 0
                  ? req_url("%s%s", s->conf.url, path)
                  : NULL;
  lists_start(s, e, r, url, on_snapshot_done);
  free(url);
}
