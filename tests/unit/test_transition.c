/* Unit tests of transition.c: which changes between two notification passes
 * are transitions, one each, never one per poll; and that the inventory
 * carries the record over from poll to poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inventory.h"
#include "source_conf.h"
#include "transition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000

/* A container as a poll leaves it: listed, and inspected unless said. */
typedef struct {
  container_state_t state;
  const char *status;
  bool inspected;
  int64_t exit_code, restart_count, finished_at, failing_streak;
  bool oom_killed;
  container_health_t health; /* from the list's Status */
} facts_t;

static container_t *mk(const char *id, const facts_t *f) {
  container_t *c = container_new();
  assert_non_null(c);
  c->id = strdup(id);
  c->name = strdup(id);
  c->image = strdup("img");
  c->status = strdup(f->status != NULL ? f->status : "");
  c->state = f->state;
  if (f->health != CHEALTH_NONE) {
    c->list_health_known = true;
    c->list_health = f->health;
  }
  return c;
}

static void apply_inspect(container_t *c, const facts_t *f) {
  c->inspected = f->inspected;
  if (!f->inspected)
    return;
  c->exit_code = f->exit_code;
  c->restart_count = f->restart_count;
  c->finished_at = f->finished_at;
  c->oom_killed = f->oom_killed;
  c->failing_streak = f->failing_streak;
  c->has_healthcheck = f->health != CHEALTH_NONE;
  c->inspect_health = f->health;
  c->started_at = NOW - 10;
}

/* One poll of one container through the inventory, then the pass; returns
 * the number of transitions, the first in *t. */
static size_t pass(inv_env_t *e, const char *id, const facts_t *f,
                   unsigned kinds, transition_t *t) {
  transition_t ts[TRANSITIONS_MAX];
  inv_env_list_begin(e);
  assert_int_equal(inv_env_list_add(e, mk(id, f)), 0);
  inv_env_list_commit(e, false, NOW);
  assert_int_equal(e->cs_num, 1);
  apply_inspect(e->cs[0], f);
  size_t n = transition_container(e->cs[0], e->polls > 1, kinds, ts);
  assert_true(n <= TRANSITIONS_MAX);
  if (n > 0 && t != NULL)
    *t = ts[0];
  return n;
}

static const facts_t RUNNING = {
    CSTATE_RUNNING, "Up 5 minutes", true, 0, 0, NOW - 3600, 0,
    false,          CHEALTH_NONE};

/* Exited (inspected) with this code, finished at fin. */
static facts_t exited(int64_t code, int64_t fin) {
  static char status[64];
  snprintf(status, sizeof(status), "Exited (%d) 1 second ago", (int)code);
  return (facts_t){CSTATE_EXITED, status, true,  code,        0,
                   fin,           0,      false, CHEALTH_NONE};
}

typedef struct {
  inventory_t *inv;
  inv_env_t *e;
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  fx->inv = inventory_new();
  fx->e = inventory_env(fx->inv, 1, "infra");
  assert_non_null(fx->e);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  inventory_free(fx->inv);
  free(fx);
  return 0;
}

/* What the first poll sees is a baseline, whatever its state. */
static void test_baseline(void **state) {
  fixture_t *fx = *state;
  facts_t bad = {
      CSTATE_EXITED, "Exited (42) 1 hour ago", true, 42, 5, NOW - 3600, 0, true,
      CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &bad, NOTIFY_ALL, NULL), 0);
  assert_true(fx->e->cs[0]->notified.known);
  /* ... and the same facts again are no news either. */
  assert_int_equal(pass(fx->e, "a", &bad, NOTIFY_ALL, NULL), 0);
}

static void test_exit_nonzero_once(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  assert_int_equal(pass(fx->e, "a", &RUNNING, NOTIFY_ALL, NULL), 0);
  facts_t ex = exited(3, NOW - 1);
  assert_int_equal(pass(fx->e, "a", &ex, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_EXITED);
  assert_true(t.exit_code_known);
  assert_int_equal(t.exit_code, 3);
  assert_int_equal(t.at, NOW - 1);
  assert_false(t.oom_killed);
  /* Polls later, the same exit is not told again. */
  ex.status = "Exited (3) 10 seconds ago";
  for (int i = 0; i < 5; i++)
    assert_int_equal(pass(fx->e, "a", &ex, NOTIFY_ALL, NULL), 0);
}

static void test_exit_zero(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  assert_int_equal(pass(fx->e, "a", &RUNNING, NOTIFY_ALL, NULL), 0);
  facts_t ex = exited(0, NOW - 1);
  assert_int_equal(pass(fx->e, "a", &ex, NOTIFY_EXIT, &t), 1);
  assert_int_equal(t.kind, TRANS_EXITED);
  assert_int_equal(t.exit_code, 0);
}

/* An exit told from the list alone (inspect failed) is not told again
 * when the next poll's inspect brings its finish time. */
static void test_exit_list_only_then_inspect(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  facts_t run = RUNNING;
  run.finished_at = NOW - 7200; /* it exited once before, long ago */
  assert_int_equal(pass(fx->e, "a", &run, NOTIFY_ALL, NULL), 0);
  facts_t ex = {
      CSTATE_EXITED, "Exited (7) 1 second ago", false, 0, 0, 0, 0, false,
      CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &ex, NOTIFY_ALL, &t), 1);
  assert_true(t.exit_code_known);
  assert_int_equal(t.exit_code, 7);
  assert_int_equal(t.at, 0);
  facts_t ex2 = {
      CSTATE_EXITED, "Exited (7) 3 seconds ago", true, 7, 0, NOW - 3, 0, false,
      CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &ex2, NOTIFY_ALL, NULL), 0);
  assert_int_equal(pass(fx->e, "a", &ex2, NOTIFY_ALL, NULL), 0);
}

/* Started and exited again between two polls: the state stays exited, the
 * finish time tells. */
static void test_exit_again_between_polls(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  facts_t ex = {
      CSTATE_EXITED, "Exited (1) 1 hour ago", true, 1, 0, NOW - 3600, 0, false,
      CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &ex, NOTIFY_ALL, NULL), 0);
  facts_t ex2 = exited(2, NOW - 1);
  assert_int_equal(pass(fx->e, "a", &ex2, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.exit_code, 2);
  assert_int_equal(pass(fx->e, "a", &ex2, NOTIFY_ALL, NULL), 0);
}

static void test_dead_without_code(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  assert_int_equal(pass(fx->e, "a", &RUNNING, NOTIFY_ALL, NULL), 0);
  facts_t dead = {CSTATE_DEAD, "Dead", false, 0, 0, 0, 0, false, CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &dead, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_EXITED);
  assert_int_equal(t.state, CSTATE_DEAD);
  assert_false(t.exit_code_known);
}

static void test_oom(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  facts_t oom = {CSTATE_EXITED,
                 "Exited (137) 1 second ago",
                 true,
                 137,
                 0,
                 NOW - 1,
                 0,
                 true,
                 CHEALTH_NONE};
  /* OOM kind: one OOM transition (not also an exit). */
  assert_int_equal(pass(fx->e, "a", &RUNNING, NOTIFY_ALL, NULL), 0);
  assert_int_equal(pass(fx->e, "a", &oom, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_OOM_KILLED);
  assert_int_equal(t.exit_code, 137);
  assert_int_equal(pass(fx->e, "a", &oom, NOTIFY_ALL, NULL), 0);
  /* Exits only: an exit that says it was an OOM kill. */
  assert_int_equal(pass(fx->e, "b", &RUNNING, NOTIFY_EXIT, NULL), 0);
  assert_int_equal(pass(fx->e, "b", &oom, NOTIFY_EXIT, &t), 1);
  assert_int_equal(t.kind, TRANS_EXITED);
  assert_true(t.oom_killed);
  /* OOM kills only: a plain exit is not told. */
  facts_t ex = oom;
  ex.oom_killed = false;
  assert_int_equal(pass(fx->e, "c", &RUNNING, NOTIFY_OOM, NULL), 0);
  assert_int_equal(pass(fx->e, "c", &ex, NOTIFY_OOM, NULL), 0);
}

static void test_restarts(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  facts_t r = {CSTATE_RESTARTING,
               "Restarting (3) 1 second ago",
               true,
               3,
               2,
               NOW - 1,
               0,
               false,
               CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &r, NOTIFY_ALL, NULL), 0);
  r.restart_count = 3;
  assert_int_equal(pass(fx->e, "a", &r, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_RESTARTED);
  assert_int_equal(t.restart_count, 3);
  assert_int_equal(t.restart_count_was, 2);
  assert_true(t.exit_code_known);
  assert_int_equal(t.exit_code, 3);
  /* The same count, polls later: nothing. */
  assert_int_equal(pass(fx->e, "a", &r, NOTIFY_ALL, NULL), 0);
  assert_int_equal(pass(fx->e, "a", &r, NOTIFY_ALL, NULL), 0);
  /* Up between two restarts: still one per rise. */
  facts_t up = RUNNING;
  up.restart_count = 5;
  up.finished_at = NOW - 2;
  up.exit_code = 3;
  assert_int_equal(pass(fx->e, "a", &up, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.restart_count, 5);
  assert_int_equal(t.restart_count_was, 3);
  /* An explicit start resets the count: no news. */
  up.restart_count = 0;
  assert_int_equal(pass(fx->e, "a", &up, NOTIFY_ALL, NULL), 0);
  up.restart_count = 1;
  assert_int_equal(pass(fx->e, "a", &up, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.restart_count_was, 0);
  /* Not inspected this poll: nothing is known, nothing told. */
  r.restart_count = 9;
  r.inspected = false;
  assert_int_equal(pass(fx->e, "a", &r, NOTIFY_ALL, NULL), 0);
}

static void test_health_flips(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  facts_t h = RUNNING;
  h.health = CHEALTH_HEALTHY;
  h.status = "Up 5 minutes (healthy)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, NULL), 0);
  h.health = CHEALTH_UNHEALTHY;
  h.status = "Up 5 minutes (unhealthy)";
  h.failing_streak = 3;
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_UNHEALTHY);
  assert_int_equal(t.failing_streak, 3);
  h.failing_streak = 4;
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, NULL), 0);
  /* Restarted: "starting" in between is no news either way. */
  h.health = CHEALTH_STARTING;
  h.status = "Up 1 second (health: starting)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, NULL), 0);
  h.health = CHEALTH_HEALTHY;
  h.status = "Up 5 seconds (healthy)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_HEALTHY);
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, NULL), 0);
  /* Other kinds only: recorded, not told. */
  h.health = CHEALTH_UNHEALTHY;
  h.status = "Up 9 seconds (unhealthy)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_EXIT, NULL), 0);
  h.health = CHEALTH_HEALTHY;
  h.status = "Up 10 seconds (healthy)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_EXIT, NULL), 0);
}

/* A container that appears after the first poll is compared with a fresh
 * one: ran and failed between two polls is news, running is not. */
static void test_new_container_after_baseline(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  assert_int_equal(pass(fx->e, "a", &RUNNING, NOTIFY_ALL, NULL), 0);
  facts_t ex = exited(5, NOW - 1);
  assert_int_equal(pass(fx->e, "b", &ex, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_EXITED);
  assert_int_equal(t.exit_code, 5);
  assert_int_equal(pass(fx->e, "c", &RUNNING, NOTIFY_ALL, NULL), 0);
  facts_t created = {CSTATE_CREATED, "Created",   true, 0, 0, 0, 0,
                     false,          CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "d", &created, NOTIFY_ALL, NULL), 0);
}

/* The record must survive a poll whose list entry changed (a new object):
 * without the carry-over, a steady restart count would read as restarts
 * and a recovery from unhealthy would be missed. */
static void test_record_carried_over(void **state) {
  fixture_t *fx = *state;
  transition_t t;
  facts_t h = RUNNING;
  h.restart_count = 4;
  h.health = CHEALTH_UNHEALTHY;
  h.status = "Up 5 minutes (unhealthy)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, NULL), 0);
  /* A second poll, so that the environment counts as seen before. */
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, NULL), 0);
  h.health = CHEALTH_HEALTHY;
  h.status = "Up 6 minutes (healthy)";
  assert_int_equal(pass(fx->e, "a", &h, NOTIFY_ALL, &t), 1);
  assert_int_equal(t.kind, TRANS_HEALTHY);
}

static void test_unknown_state_keeps_record(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(pass(fx->e, "a", &RUNNING, NOTIFY_ALL, NULL), 0);
  facts_t odd = {CSTATE_UNKNOWN, "", false, 0, 0, 0, 0, false, CHEALTH_NONE};
  assert_int_equal(pass(fx->e, "a", &odd, NOTIFY_ALL, NULL), 0);
  assert_int_equal(fx->e->cs[0]->notified.state, CSTATE_RUNNING);
}

static void test_up_down(void **state) {
  (void)state;
  notified_up_t rec = NOTIFIED_UNKNOWN;
  transition_t t;
  assert_false(transition_up(&rec, false, &t)); /* baseline: down */
  assert_false(transition_up(&rec, false, &t));
  assert_true(transition_up(&rec, true, &t));
  assert_int_equal(t.kind, TRANS_UP);
  assert_false(transition_up(&rec, true, &t));
  assert_false(transition_up(&rec, true, &t));
  assert_true(transition_up(&rec, false, &t));
  assert_int_equal(t.kind, TRANS_DOWN);
  assert_false(transition_up(&rec, false, &t));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_baseline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exit_nonzero_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exit_zero, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exit_list_only_then_inspect, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_exit_again_between_polls, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_dead_without_code, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restarts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_health_flips, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_container_after_baseline, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_record_carried_over, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unknown_state_keeps_record, setup,
                                      teardown),
      cmocka_unit_test(test_up_down),
  };
  return cmocka_run_group_tests_name("transition", tests, NULL, NULL);
}
