/**
 * inspects.c: once a Docker host's list (and events) are in, the list is
 * committed to the inventory and the containers that need it are inspected
 * (GET /containers/{id}/json).  They wait here and are handed to the http
 * client when it asks for work (inspects_feed), a few at a time: a cold poll
 * of 50k containers holds a few dozen parsers, not 50k.  The hosts take
 * turns, and a host has at most MaxConcurrentRequests inspects in flight, so
 * one host with thousands of containers, or one whose inspects hang, never
 * takes every slot from the others.
 */
#include "source_internal.h"

#include "docker_api.h"

#include <stdlib.h>

static void on_inspect_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  r->env->inspects_running--;
  if (req_answered(r, res)) {
    r->c->inspected = true;
  } else if (res->error == HTTP_OK && res->status == 404 && !r->targeted) {
    r->c->vanished = true; /* removed since the list: normal */
    r->c->inspected = false;
  } else {
    /* (A 404 from a Swarm node named by X-PortainerAgent-Target proves
     * nothing: two nodes may share that name and the agent asks the first.
     * The list shows the container: it stays, with what the list tells.) */
    /* Report only what the list says; never a stale inspect as fresh. */
    r->c->inspected = false;
    fault_request(s, r, res);
  }
  req_free(r);
}

/* Hands one inspect to the http client; false when it refuses more.  An
 * inspect lost to an allocation failure is counted ("other: out of
 * memory") and logged once as the environment's inspect fault. */
static bool start_inspect(source_t *s, inv_env_t *e, container_t *c) {
  char path[512], target[384];
  c->inspected = false; /* set again when this inspect completes */
  if (docker_path_inspect(path, sizeof(path), c->id) != 0)
    return true;
  req_t *r = req_new(s, REQ_INSPECT);
  if (r == NULL) {
    fault_nomem(s, REQ_INSPECT, e, c);
    return true;
  }
  r->env = e;
  r->c = c;
  r->js = docker_inspect_parser_new(c);
  char *url = r->js != NULL ? req_docker_url(s, e, path) : NULL;
  if (url == NULL) {
    req_free(r);
    fault_nomem(s, REQ_INSPECT, e, c); /* list facts only for this one */
    return true;
  }
  /* Agent environments in a Swarm: ask the node that runs the container. */
  const char *extra = req_target_header(c->node, target, sizeof(target));
  r->targeted = extra != NULL;
  int rc = req_queue(s, r, "GET", url, extra, NULL, NULL, on_inspect_done);
  free(url);
  if (rc == HTTP_REFUSED)
    return false; /* the poll is ending */
  if (rc != 0) {
    fault_nomem(s, REQ_INSPECT, e, c);
    return true;
  }
  s->stats.inspects++;
  e->inspects_running++;
  return true;
}

void inspects_feed(void *source) {
  source_t *s = source;
  size_t cap =
      (size_t)(s->conf.max_in_flight > 0 ? s->conf.max_in_flight
                                         : SOURCE_DEFAULT_MAX_IN_FLIGHT);
  /* Each turn hands out one inspect, drops a host with none left, or skips
   * a host at its cap: bounded by the inspects and the hosts. */
  size_t capped = 0;
  while (s->ihosts_num > 0 && capped < s->ihosts_num &&
         http_client_waiting(s->http) < cap) {
    if (s->ihosts_turn >= s->ihosts_num)
      s->ihosts_turn = 0;
    inspect_host_t *h = &s->ihosts[s->ihosts_turn];
    if (h->next >= h->end) {
      *h = s->ihosts[--s->ihosts_num]; /* done: its turn goes to the last */
      continue;
    }
    s->ihosts_turn++;
    if ((size_t)h->env->inspects_running >= cap) {
      capped++;
      continue;
    }
    capped = 0;
    pending_inspect_t *p = &s->inspects[h->next++];
    if (!start_inspect(s, p->env, p->c))
      return; /* the client refuses: the poll is ending */
  }
}

/* The inspects queue_inspect() added for e since first take their turns. */
static void add_host(source_t *s, inv_env_t *e, size_t first) {
  if (first == s->inspects_num)
    return;
  if (s->ihosts_num == s->ihosts_cap) {
    size_t cap = s->ihosts_cap ? s->ihosts_cap * 2 : 16;
    inspect_host_t *n = realloc(s->ihosts, cap * sizeof(*n));
    if (n == NULL) {
      for (size_t i = first; i < s->inspects_num; i++) {
        s->inspects[i].c->inspected = false; /* list facts only this poll */
        fault_nomem(s, REQ_INSPECT, e, s->inspects[i].c);
      }
      s->inspects_num = first;
      return;
    }
    s->ihosts = n;
    s->ihosts_cap = cap;
  }
  s->ihosts[s->ihosts_num++] =
      (inspect_host_t){.env = e, .next = first, .end = s->inspects_num};
}

static void queue_inspect(source_t *s, inv_env_t *e, container_t *c) {
  if (s->inspects_num == s->inspects_cap) {
    size_t cap = s->inspects_cap ? s->inspects_cap * 2 : 256;
    pending_inspect_t *n = realloc(s->inspects, cap * sizeof(*n));
    if (n == NULL) {
      c->inspected = false; /* list facts only this poll */
      fault_nomem(s, REQ_INSPECT, e, c);
      return;
    }
    s->inspects = n;
    s->inspects_cap = cap;
  }
  c->inspected = false; /* set again when its inspect completes */
  s->inspects[s->inspects_num++] = (pending_inspect_t){.env = e, .c = c};
}

/* Does an inspect tell anything the chosen signals need that the list
 * does not?  (With Collect "state" "health", Docker needs none.) */
static bool inspect_useful(unsigned collect, const container_t *c) {
  if (collect & (COLLECT_RESTART_COUNT | COLLECT_OOM_KILLED | COLLECT_UPTIME |
                 COLLECT_FAILING_STREAK))
    return true;
  if ((collect & COLLECT_HEALTH) && !c->list_health_known &&
      container_state(c) == CSTATE_RUNNING)
    return true; /* Podman: health only in inspect, and only checked while
                    running */
  if (collect & COLLECT_EXIT_CODE) {
    container_status_t st;
    container_status_parse(c->status, &st);
    container_state_t state = container_state(c);
    if ((state == CSTATE_EXITED || state == CSTATE_DEAD ||
         state == CSTATE_RESTARTING) &&
        !st.exit_code_known)
      return true; /* "Dead" says no code */
  }
  return false;
}

/* Engines before API 1.52 send no failing streak in the list, and a probe
 * that fails changes nothing else the list shows: while a running
 * container's checks fail (health starting or unhealthy, or a streak that
 * was not 0 at its last inspect) it is inspected every poll, so the streak
 * sent is this poll's.  These are few: the containers in trouble. */
static bool streak_stale(unsigned collect, const container_t *c) {
  if (!(collect & COLLECT_FAILING_STREAK) || c->list_failing_streak >= 0 ||
      container_state(c) != CSTATE_RUNNING)
    return false;
  if (c->list_health_known && (c->list_health == CHEALTH_STARTING ||
                               c->list_health == CHEALTH_UNHEALTHY))
    return true;
  return c->inspected && c->has_healthcheck && c->failing_streak > 0;
}

void inspects_host_ready(source_t *s, inv_env_t *e) {
  if (e->nodes_pending > 0)
    return; /* the node check's answer calls again */
  bool full = e->poll_full || e->events_failed;
  inv_env_list_commit(e, full, s->now);
  if (e->list_date > 0)
    e->events_until = e->list_date;
  fault_env_recovered(s, e, e->fault, "its container list is");
  e->inspect_failed = false;
  size_t first = s->inspects_num;
  for (size_t i = 0; i < e->cs_num; i++)
    if (((e->needs_inspect == NULL || e->needs_inspect[i]) &&
         inspect_useful(s->conf.collect, e->cs[i])) ||
        streak_stale(s->conf.collect, e->cs[i]))
      queue_inspect(s, e, e->cs[i]);
  add_host(s, e, first);
}
