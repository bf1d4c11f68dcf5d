/* Unit tests of inventory.c: what changes between polls needs an inspect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inventory.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1700000000

static container_t *mk(const char *id, container_state_t st,
                       const char *status) {
  container_t *c = container_new();
  assert_non_null(c);
  c->id = strdup(id);
  c->name = strdup(id);
  c->image = strdup("img");
  c->status = strdup(status);
  c->state = st;
  return c;
}

/* Commits one list and marks every container inspected (as a poll would). */
static void poll_once(inv_env_t *e, container_t **cs, size_t n, bool full) {
  inv_env_list_begin(e);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(inv_env_list_add(e, cs[i]), 0);
  inv_env_list_commit(e, full, NOW);
}

static void inspect_all(inv_env_t *e, int64_t started_at) {
  for (size_t i = 0; i < e->cs_num; i++) {
    e->cs[i]->inspected = true;
    e->cs[i]->started_at = started_at;
    e->cs[i]->restart_count = 7;
  }
}

static void test_new_then_steady(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 3, "prod");
  assert_non_null(e);
  container_t *l1[] = {mk("b", CSTATE_RUNNING, "Up 3 minutes"),
                       mk("a", CSTATE_EXITED, "Exited (0) 2 hours ago")};
  poll_once(e, l1, 2, false);
  assert_int_equal(e->cs_num, 2);
  assert_string_equal(e->cs[0]->id, "a"); /* sorted */
  assert_true(e->needs_inspect[0] && e->needs_inspect[1]);
  inspect_all(e, NOW - 200);
  e->cs[0]->finished_at = NOW - 7200;

  container_t *l2[] = {mk("a", CSTATE_EXITED, "Exited (0) 2 hours ago"),
                       mk("b", CSTATE_RUNNING, "Up 3 minutes")};
  poll_once(e, l2, 2, false);
  assert_false(e->needs_inspect[0]);
  assert_false(e->needs_inspect[1]);
  /* What the inspect told is carried over. */
  assert_true(e->cs[1]->inspected);
  assert_int_equal(e->cs[1]->restart_count, 7);

  /* The safety net re-inspects everything. */
  container_t *l3[] = {mk("a", CSTATE_EXITED, "Exited (0) 2 hours ago"),
                       mk("b", CSTATE_RUNNING, "Up 3 minutes")};
  poll_once(e, l3, 2, true);
  assert_true(e->needs_inspect[0] && e->needs_inspect[1]);
  inventory_free(inv);
}

static void test_changes_need_inspect(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 1, "h");
  container_t *l1[] = {
      mk("run", CSTATE_RUNNING, "Up 10 minutes (healthy)"),
      mk("ex", CSTATE_EXITED, "Exited (1) 5 minutes ago"),
      mk("rs", CSTATE_RESTARTING, "Restarting (3) 1 second ago"),
      mk("ev", CSTATE_RUNNING, "Up 2 hours"),
      mk("re", CSTATE_RUNNING, "Up 20 minutes")};
  poll_once(e, l1, 5, false);
  inspect_all(e, NOW - 1200);
  for (size_t i = 0; i < e->cs_num; i++)
    e->cs[i]->finished_at = NOW - 300;

  container_t *l2[] = {
      mk("run", CSTATE_RUNNING, "Up 10 minutes (unhealthy)"), /* health */
      mk("ex", CSTATE_EXITED, "Exited (1) 4 seconds ago"),    /* ran again */
      mk("rs", CSTATE_RESTARTING, "Restarting (3) 1 second ago"),
      mk("ev", CSTATE_RUNNING, "Up 2 hours"),    /* named by an event */
      mk("re", CSTATE_RUNNING, "Up 5 seconds")}; /* restarted */
  inv_env_list_begin(e);
  for (int i = 0; i < 5; i++)
    inv_env_list_add(e, l2[i]);
  inv_env_mark_dirty(e, "ev");
  inv_env_list_commit(e, false, NOW);
  for (size_t i = 0; i < e->cs_num; i++)
    assert_true(e->needs_inspect[i]);
  inventory_free(inv);
}

static void test_podman_health_needs_inspect(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 0, "podhost");
  container_t *l1[] = {mk("p", CSTATE_RUNNING, "Up 3 minutes")};
  poll_once(e, l1, 1, false);
  inspect_all(e, NOW - 180);
  e->cs[0]->has_healthcheck = true;
  container_t *l2[] = {mk("p", CSTATE_RUNNING, "Up 3 minutes")};
  poll_once(e, l2, 1, false);
  assert_true(e->needs_inspect[0]);
  inventory_free(inv);
}

static void test_duplicates_vanished_prune(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 1, "a");
  inv_env_t *f = inventory_env(inv, 2, "b");
  assert_ptr_equal(inventory_env(inv, 1, "renamed"), e);
  assert_string_equal(e->name, "renamed");
  container_t *l[] = {mk("x", CSTATE_RUNNING, "Up 1 second"),
                      mk("x", CSTATE_RUNNING, "Up 1 second"),
                      mk("y", CSTATE_RUNNING, "Up 1 second")};
  poll_once(e, l, 3, false);
  assert_int_equal(e->cs_num, 2);
  e->cs[0]->vanished = true;
  inv_env_drop_vanished(e);
  assert_int_equal(e->cs_num, 1);
  assert_string_equal(e->cs[0]->id, "y");

  /* An aborted list keeps what was known, and marks the host down. */
  inv_env_list_begin(e);
  inv_env_list_add(e, mk("z", CSTATE_RUNNING, "Up 1 second"));
  inv_env_list_abort(e);
  assert_false(e->up);
  assert_int_equal(e->cs_num, 1);

  e->listed = true;
  f->listed = false;
  inventory_prune_unlisted(inv);
  assert_int_equal(inv->envs_num, 1);
  assert_null(inventory_find(inv, 2));
  inventory_free(inv);
}

static void test_uptime_bounds(void **state) {
  (void)state;
  int64_t lo, hi;
  assert_int_equal(status_uptime_bounds("Up 8 seconds", &lo, &hi), 0);
  assert_int_equal(lo, 8);
  assert_int_equal(hi, 9);
  assert_int_equal(status_uptime_bounds("Up Less than a second", &lo, &hi), 0);
  assert_int_equal(hi, 1);
  assert_int_equal(status_uptime_bounds("Up About an hour", &lo, &hi), 0);
  assert_int_equal(lo, 3600);
  assert_int_equal(status_uptime_bounds("Up About a minute", &lo, &hi), 0);
  assert_int_equal(lo, 60);
  assert_int_equal(status_uptime_bounds("Up 3 minutes (healthy)", &lo, &hi), 0);
  assert_int_equal(lo, 180);
  assert_int_equal(hi, 240);
  assert_int_equal(status_uptime_bounds("Up 5 hours", &lo, &hi), 0);
  assert_int_equal(lo, 5 * 3600 - 1800);
  assert_int_equal(status_uptime_bounds("Up 3 days (Paused)", &lo, &hi), 0);
  assert_true(lo <= 3 * 86400 && hi >= 4 * 86400);
  assert_int_equal(status_uptime_bounds("Up 2 weeks", &lo, &hi), 0);
  assert_int_equal(status_uptime_bounds("Up 4 months", &lo, &hi), 0);
  assert_int_equal(status_uptime_bounds("Up 2 years", &lo, &hi), 0);
  assert_int_equal(status_uptime_bounds("Exited (0) 3 days ago", &lo, &hi), -1);
  assert_int_equal(status_uptime_bounds("Up", &lo, &hi), -1);
  assert_int_equal(status_uptime_bounds("Up -3 seconds", &lo, &hi), -1);
  assert_int_equal(status_uptime_bounds("Up 3 fortnights", &lo, &hi), -1);
  assert_int_equal(status_uptime_bounds(NULL, &lo, &hi), -1);
}

static void test_unchanged_objects_reused(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 1, "h");
  container_t *l1[] = {mk("a", CSTATE_RUNNING, "Up 3 weeks"),
                       mk("b", CSTATE_RUNNING, "Up 3 weeks")};
  poll_once(e, l1, 2, false);
  inspect_all(e, NOW - 22 * 86400); /* "Up 3 weeks" */
  container_t *a = e->cs[0], *b = e->cs[1];

  /* a unchanged: the same object, with what inspect told; b changed. */
  container_t *l2[] = {mk("a", CSTATE_RUNNING, "Up 3 weeks"),
                       mk("b", CSTATE_EXITED, "Exited (1) 1 second ago"),
                       mk("a", CSTATE_RUNNING, "Up 3 weeks")}; /* twice */
  /* (the copy that is not carried over sorts first: it is dropped) */
  container_t *t = l2[0];
  l2[0] = l2[2];
  l2[2] = t;
  poll_once(e, l2, 3, false);
  assert_int_equal(e->cs_num, 2);
  assert_ptr_equal(e->cs[0], a);
  assert_false(a->reused);
  assert_int_equal(a->restart_count, 7);
  assert_false(e->needs_inspect[0]);
  assert_ptr_not_equal(e->cs[1], b);
  assert_true(e->needs_inspect[1]);

  /* An aborted list gives back what it took over, frees the rest. */
  inv_env_list_begin(e);
  inv_env_list_add(e, mk("a", CSTATE_RUNNING, "Up 3 weeks"));
  inv_env_list_add(e, mk("c", CSTATE_RUNNING, "Up 1 second"));
  inv_env_list_abort(e);
  assert_int_equal(e->cs_num, 2);
  assert_ptr_equal(e->cs[0], a);
  assert_false(a->reused);

  /* ... and so does an environment freed in the middle of a list. */
  inv_env_list_begin(e);
  inv_env_list_add(e, mk("a", CSTATE_RUNNING, "Up 3 weeks"));
  inventory_free(inv);
}

/* Commits one list answered at date (its Date header; 0: none). */
static void poll_at(inv_env_t *e, container_t **cs, size_t n, int64_t date,
                    double arrived) {
  inv_env_list_begin(e);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(inv_env_list_add(e, cs[i]), 0);
  e->list_date = date;
  e->list_arrived = arrived;
  inv_env_list_commit(e, false, NOW);
}

/* "Up 3 minutes" against a start known from an inspect, both on the daemon's
 * clock, whatever the collector's clock (NOW) says: no restart when the
 * daemon is an hour ahead or behind, a restart seen on either. */
static void test_restart_on_daemon_clock(void **state) {
  (void)state;
  static const int64_t skews[] = {3600, -3600, 0};
  for (size_t k = 0; k < sizeof(skews) / sizeof(skews[0]); k++) {
    int64_t dnow = NOW + skews[k]; /* the daemon's clock */
    inventory_t *inv = inventory_new();
    inv_env_t *e = inventory_env(inv, 1, "skewed");
    container_t *l1[] = {mk("up", CSTATE_RUNNING, "Up 3 minutes"),
                         mk("ex", CSTATE_EXITED, "Exited (1) 2 minutes ago")};
    poll_at(e, l1, 2, dnow, 1.0);
    inspect_all(e, dnow - 200);
    e->cs[0]->finished_at = dnow - 130; /* ex */

    /* 10 s later: nothing happened. */
    container_t *l2[] = {mk("up", CSTATE_RUNNING, "Up 3 minutes"),
                         mk("ex", CSTATE_EXITED, "Exited (1) 2 minutes ago")};
    poll_at(e, l2, 2, dnow + 10, 11.0);
    assert_false(e->needs_inspect[0]);
    assert_false(e->needs_inspect[1]);

    /* Then both ran again: started 5 s ago, exited again 1 s ago. */
    container_t *l3[] = {mk("up", CSTATE_RUNNING, "Up 5 seconds"),
                         mk("ex", CSTATE_EXITED, "Exited (1) 1 second ago")};
    poll_at(e, l3, 2, dnow + 20, 21.0);
    assert_true(e->needs_inspect[0]);
    assert_true(e->needs_inspect[1]);
    inventory_free(inv);
  }
}

/* A list without a Date header: the collector's clock (now) instead. */
static void test_restart_without_date(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 1, "nodate");
  container_t *l1[] = {mk("up", CSTATE_RUNNING, "Up 3 minutes")};
  poll_at(e, l1, 1, 0, 1.0);
  inspect_all(e, NOW - 200);
  container_t *l2[] = {mk("up", CSTATE_RUNNING, "Up 3 minutes")};
  poll_at(e, l2, 1, 0, 11.0);
  assert_false(e->needs_inspect[0]);
  assert_int_equal(e->clock_date, 0);
  assert_int_equal(inv_env_daemon_now(e, 50.0, NOW), NOW);
  container_t *l3[] = {mk("up", CSTATE_RUNNING, "Up 5 seconds")};
  poll_at(e, l3, 1, 0, 21.0);
  assert_true(e->needs_inspect[0]);
  inventory_free(inv);
}

/* The daemon's clock now: the committed list's Date plus the time since its
 * answer arrived (rounded, half a second added for the whole-second Date);
 * a list being built does not change it; an aborted one neither. */
static void test_daemon_now(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 1, "ahead");
  assert_int_equal(inv_env_daemon_now(e, 5.0, NOW), NOW); /* nothing yet */
  container_t *l1[] = {mk("a", CSTATE_RUNNING, "Up 3 minutes")};
  poll_at(e, l1, 1, NOW + 3600, 100.0);
  assert_int_equal(e->clock_date, NOW + 3600);
  assert_int_equal(inv_env_daemon_now(e, 100.0, NOW), NOW + 3600);
  assert_int_equal(inv_env_daemon_now(e, 104.7, NOW), NOW + 3605);
  assert_int_equal(inv_env_daemon_now(e, 90.0, NOW), NOW + 3600); /* never
                                                                      back */
  inv_env_list_begin(e);
  assert_int_equal(e->list_date, 0);
  assert_int_equal(inv_env_daemon_now(e, 102.0, NOW), NOW + 3602);
  inv_env_list_abort(e);
  assert_int_equal(inv_env_daemon_now(e, 102.0, NOW), NOW + 3602);
  inventory_free(inv);
}

/* The clock went back: the events window would run backwards, or the Date
 * did not advance by the time that surely passed; slow answers and a clock
 * going forward are no step back. */
static void test_clock_went_back(void **state) {
  (void)state;
  inventory_t *inv = inventory_new();
  inv_env_t *e = inventory_env(inv, 1, "h");
  /* Nothing known yet. */
  assert_false(inv_env_clock_went_back(e, NOW, 10.0));
  container_t *l1[] = {mk("a", CSTATE_RUNNING, "Up 3 minutes")};
  poll_at(e, l1, 1, NOW, 100.0); /* answered at 100 s, Date NOW */
  e->events_until = NOW;
  /* Next poll asked 10 s later. */
  assert_false(inv_env_clock_went_back(e, NOW + 10, 110.0));
  assert_false(inv_env_clock_went_back(e, NOW + 9, 110.0));    /* whole s */
  assert_false(inv_env_clock_went_back(e, NOW + 8, 110.0));    /* slack */
  assert_true(inv_env_clock_went_back(e, NOW + 7, 110.0));     /* 2 s back */
  assert_true(inv_env_clock_went_back(e, NOW + 1, 110.0));     /* 8 s back */
  assert_true(inv_env_clock_went_back(e, NOW - 3600, 110.0));  /* an hour */
  assert_false(inv_env_clock_went_back(e, NOW + 3600, 110.0)); /* forward */
  assert_false(inv_env_clock_went_back(e, 0, 110.0));          /* no Date */
  /* A slow answer (its Date written 5 s before it arrived) is no step. */
  e->clock_date = NOW - 5;
  e->events_until = NOW - 5;
  assert_false(inv_env_clock_went_back(e, NOW + 10, 110.0));
  e->events_until = NOW;
  /* The window alone: the last window ended later than this Date. */
  e->clock_date = 0;
  assert_true(inv_env_clock_went_back(e, NOW - 1, 110.0));
  assert_false(inv_env_clock_went_back(e, NOW, 110.0));
  inventory_free(inv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restart_on_daemon_clock),
      cmocka_unit_test(test_restart_without_date),
      cmocka_unit_test(test_daemon_now),
      cmocka_unit_test(test_clock_went_back),
      cmocka_unit_test(test_new_then_steady),
      cmocka_unit_test(test_changes_need_inspect),
      cmocka_unit_test(test_podman_health_needs_inspect),
      cmocka_unit_test(test_duplicates_vanished_prune),
      cmocka_unit_test(test_uptime_bounds),
      cmocka_unit_test(test_unchanged_objects_reused),
  };
  return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
