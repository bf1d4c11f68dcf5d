/**
 * events.c: what one Docker host's daemon says happened since the last poll
 * (GET /events?since=&until=, on the daemon's clock).  The containers it
 * names are inspected again even when their list entry looks unchanged.
 */
#include "source_internal.h"

#include "docker_api.h"

#include <stdlib.h>
#include <string.h>

/* Docker's daemon keeps its last 256 events for "since" queries: a window
 * with this many may have lost some, so everything is re-inspected. */
#define EVENTS_TRUSTED_MAX 200

static void on_event(void *ud, const docker_event_t *ev) {
  req_t *r = ud;
  r->items++;
  if (ev->id == NULL || ev->action == NULL)
    return;
  /* Health checks run as execs: their events change nothing reported. */
  if (strncmp(ev->action, "exec_", 5) == 0)
    return;
  if (inv_env_mark_dirty(r->env, ev->id) != 0)
    r->env->events_failed = true;
}

static void on_events_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  inv_env_t *e = r->env;
  if (!req_answered(r, res)) {
    /* Not fatal: the environment answered its list; inspect everything. */
    fault_request(s, r, res);
    e->events_failed = true;
  } else {
    fault_env_recovered(s, e, e->events_fault, "its events are");
    if (r->items >= EVENTS_TRUSTED_MAX)
      e->events_failed = true;
  }
  if (--e->events_pending == 0)
    inspects_host_ready(s, e);
  req_free(r);
}

static int queue_events(source_t *s, inv_env_t *e, const char *node) {
  char path[512], target[384];
  /* One second of overlap with the last window: events are cheap. */
  if (docker_path_events(path, sizeof(path), e->events_until - 1,
                         e->list_date) != 0)
    return -1;
  req_t *r = req_new(s, REQ_EVENTS);
  if (r == NULL)
    return -1;
  r->env = e;
  r->js = docker_events_parser_new(on_event, r);
  if (r->js == NULL) {
    req_free(r);
    return -1;
  }
  char *url = req_docker_url(s, e, path);
  if (url == NULL) {
    req_free(r);
    return -1;
  }
  const char *extra = req_target_header(node, target, sizeof(target));
  e->events_pending++;
  int rc = req_queue(s, r, "GET", url, extra, NULL, NULL, on_events_done);
  free(url);
  if (rc != 0) {
    e->events_pending--;
    return -1;
  }
  return 0;
}

bool events_queue_all(source_t *s, inv_env_t *e) {
  /* The distinct nodes, compared with the few already asked rather than
   * with every container before (a list holds thousands, a Swarm tens). */
  const char **asked = NULL;
  size_t asked_num = 0;
  bool ok = true;
  char unused[384];
  for (size_t i = 0; i < e->next_num && ok; i++) {
    const char *node = e->next[i]->node;
    if (req_target_header(node, unused, sizeof(unused)) == NULL)
      continue;
    bool seen = false;
    for (size_t j = 0; j < asked_num && !seen; j++)
      seen = strcmp(asked[j], node) == 0;
    if (seen)
      continue;
    const char **n = realloc(asked, (asked_num + 1) * sizeof(*n));
    if (n == NULL) {
      ok = false;
      break;
    }
    asked = n;
    asked[asked_num++] = node;
    ok = queue_events(s, e, node) == 0;
  }
  if (ok && asked_num == 0) /* a Docker host, or a standalone agent */
    ok = queue_events(s, e, NULL) == 0;
  free(asked);
  return ok;
}
