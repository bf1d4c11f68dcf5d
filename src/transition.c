/**
 * transition.c: see transition.h.
 */
#include "transition.h"

#include "source_conf.h"

#include <string.h>

static bool stopped(container_state_t st) {
  return st == CSTATE_EXITED || st == CSTATE_DEAD;
}

/* A container unknown to the last pass, in an environment seen before:
 * it is compared with one that was created and never ran. */
static container_notified_t fresh(void) {
  return (container_notified_t){.known = true,
                                .state = CSTATE_CREATED,
                                .health = CHEALTH_NONE,
                                .restart_count = 0,
                                .finished_at = 0};
}

/* Did c stop since the last pass?  A state change into exited or dead, or,
 * when inspect tells it, a later finish than the one recorded (started and
 * stopped again between two polls). */
static bool new_exit(const container_t *c, container_state_t st,
                     const container_notified_t *prev) {
  if (!stopped(st))
    return false;
  if (!stopped(prev->state))
    return true;
  return c->inspected && prev->finished_at > 0 &&
         c->finished_at > prev->finished_at;
}

static void exit_facts(const container_t *c, transition_t *t) {
  if (c->inspected) {
    t->exit_code_known = true;
    t->exit_code = c->exit_code;
    t->oom_killed = c->oom_killed;
    t->at = c->finished_at;
  } else { /* the list's "Exited (N)" is all there is */
    container_status_t cs;
    container_status_parse(c->status, &cs);
    t->exit_code_known = cs.exit_code_known;
    t->exit_code = cs.exit_code;
  }
}

static void record(container_t *c, container_state_t st,
                   container_health_t health, bool exited) {
  container_notified_t *n = &c->notified;
  n->known = true;
  if (st != CSTATE_UNKNOWN)
    n->state = st;
  if (st == CSTATE_RUNNING &&
      (health == CHEALTH_HEALTHY || health == CHEALTH_UNHEALTHY))
    n->health = health;
  if (c->inspected) {
    n->restart_count = c->restart_count;
    n->finished_at = c->finished_at;
  } else if (exited) {
    n->finished_at = -1; /* told from the list: inspect's finish is no news */
  }
}

size_t transition_container(container_t *c, bool env_seen_before,
                            unsigned kinds, transition_t *out) {
  container_state_t st = container_state(c);
  container_health_t health = container_health(c);
  size_t n = 0;

  if (!c->notified.known && !env_seen_before) { /* baseline */
    c->notified.restart_count = -1;
    c->notified.finished_at = -1;
    record(c, st, health, false);
    return 0;
  }
  container_notified_t prev = c->notified.known ? c->notified : fresh();
  if (st == CSTATE_UNKNOWN) /* nothing to compare: keep the record */
    return 0;

  bool exited = new_exit(c, st, &prev);
  if (exited) {
    transition_t t = {.kind = TRANS_EXITED, .state = st};
    exit_facts(c, &t);
    if (t.oom_killed && (kinds & NOTIFY_OOM))
      t.kind = TRANS_OOM_KILLED;
    if (t.kind == TRANS_OOM_KILLED || (kinds & NOTIFY_EXIT))
      out[n++] = t;
  }

  if (c->inspected && prev.restart_count >= 0 &&
      c->restart_count > prev.restart_count && (kinds & NOTIFY_RESTART)) {
    transition_t t = {.kind = TRANS_RESTARTED,
                      .state = st,
                      .restart_count = c->restart_count,
                      .restart_count_was = prev.restart_count,
                      .at = c->started_at};
    if (c->finished_at > 0) {
      t.exit_code_known = true; /* the exit that led to the restart */
      t.exit_code = c->exit_code;
      t.oom_killed = c->oom_killed;
    }
    out[n++] = t;
  }

  if (st == CSTATE_RUNNING && (kinds & NOTIFY_HEALTH)) {
    if (health == CHEALTH_UNHEALTHY && prev.health != CHEALTH_UNHEALTHY) {
      int64_t streak = c->inspected && c->has_healthcheck
                           ? c->failing_streak
                           : c->list_failing_streak;
      out[n++] = (transition_t){
          .kind = TRANS_UNHEALTHY, .state = st, .failing_streak = streak};
    } else if (health == CHEALTH_HEALTHY && prev.health == CHEALTH_UNHEALTHY) {
      out[n++] = (transition_t){.kind = TRANS_HEALTHY, .state = st};
    }
  }

  record(c, st, health, exited);
  return n;
}

bool transition_up(notified_up_t *recorded, bool up, transition_t *out) {
  notified_up_t was = *recorded;
  *recorded = up ? NOTIFIED_UP : NOTIFIED_DOWN;
  if (was == NOTIFIED_UNKNOWN || was == *recorded)
    return false;
  memset(out, 0, sizeof(*out));
  out->kind = up ? TRANS_UP : TRANS_DOWN;
  return true;
}
