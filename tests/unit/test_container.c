/**
 * test_container.c: the container model, names, Status strings and times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "container.h"

#include <stdlib.h>
#include <string.h>

#define S(lit) lit, strlen(lit)

static void test_state_from_string(void **state) {
  (void)state;
  assert_int_equal(container_state_from_string(S("running")), CSTATE_RUNNING);
  assert_int_equal(container_state_from_string(S("exited")), CSTATE_EXITED);
  assert_int_equal(container_state_from_string(S("paused")), CSTATE_PAUSED);
  assert_int_equal(container_state_from_string(S("created")), CSTATE_CREATED);
  assert_int_equal(container_state_from_string(S("restarting")),
                   CSTATE_RESTARTING);
  assert_int_equal(container_state_from_string(S("dead")), CSTATE_DEAD);
  assert_int_equal(container_state_from_string(S("removing")), CSTATE_REMOVING);
  assert_int_equal(container_state_from_string(S("RUNNING")), CSTATE_RUNNING);
  assert_int_equal(container_state_from_string(S("Exited")), CSTATE_EXITED);
  /* Podman's names. */
  assert_int_equal(container_state_from_string(S("configured")),
                   CSTATE_CREATED);
  assert_int_equal(container_state_from_string(S("stopped")), CSTATE_EXITED);
  /* Not NUL-terminated: only len bytes count. */
  assert_int_equal(container_state_from_string("runningXYZ", 7),
                   CSTATE_RUNNING);
  assert_int_equal(container_state_from_string("running", 6), CSTATE_UNKNOWN);
  assert_int_equal(container_state_from_string(S("")), CSTATE_UNKNOWN);
  assert_int_equal(container_state_from_string(S("healthy")), CSTATE_UNKNOWN);
  assert_int_equal(container_state_from_string(S("run ning")), CSTATE_UNKNOWN);
  assert_int_equal(container_state_from_string(NULL, 0), CSTATE_UNKNOWN);
  assert_int_equal(container_state_from_string("running\0", 8), CSTATE_UNKNOWN);
}

static void test_state_names(void **state) {
  (void)state;
  /* The seed's codes. */
  assert_int_equal(CSTATE_EXITED, 0);
  assert_int_equal(CSTATE_RUNNING, 1);
  assert_int_equal(CSTATE_PAUSED, 2);
  assert_int_equal(CSTATE_CREATED, 3);
  assert_int_equal(CSTATE_RESTARTING, 4);
  assert_int_equal(CSTATE_DEAD, 5);
  assert_int_equal(CSTATE_UNKNOWN, 6);
  assert_int_equal(CSTATE_REMOVING, 7);
  for (int s = CSTATE_EXITED; s <= CSTATE_REMOVING; s++) {
    const char *n = container_state_name((container_state_t)s);
    assert_non_null(n);
    if (s != CSTATE_UNKNOWN)
      assert_int_equal(container_state_from_string(n, strlen(n)), s);
  }
  assert_string_equal(container_state_name(CSTATE_UNKNOWN), "unknown");
  assert_string_equal(container_state_name(CSTATE_REMOVING), "removing");
  assert_string_equal(container_state_name((container_state_t)99), "unknown");
}

static void test_health_strings(void **state) {
  (void)state;
  assert_int_equal(container_health_from_string(S("healthy")), CHEALTH_HEALTHY);
  assert_int_equal(container_health_from_string(S("unhealthy")),
                   CHEALTH_UNHEALTHY);
  assert_int_equal(container_health_from_string(S("starting")),
                   CHEALTH_STARTING);
  assert_int_equal(container_health_from_string(S("none")), CHEALTH_NONE);
  assert_int_equal(container_health_from_string(S("")), -1);
  assert_int_equal(container_health_from_string(S("health: starting")), -1);
  assert_int_equal(container_health_from_string(S("healthyX")), -1);
  assert_int_equal(container_health_from_string("healthyX", 7),
                   CHEALTH_HEALTHY);
  assert_int_equal(container_health_from_string(NULL, 0), -1);
  for (int h = CHEALTH_NONE; h <= CHEALTH_STARTING; h++) {
    const char *n = container_health_name((container_health_t)h);
    assert_int_equal(container_health_from_string(n, strlen(n)), h);
  }
  assert_string_equal(container_health_name((container_health_t)42), "none");
}

/* One Status string and what it must give. */
typedef struct {
  const char *status;
  bool health_known;
  container_health_t health;
  bool exit_code_known;
  int exit_code;
  bool paused;
} status_case_t;

static void test_status_parse(void **state) {
  (void)state;
  static const status_case_t cases[] = {
      /* Seen from dockerd 20.10 here (tests/fixtures/list_all.json). */
      {"Up 8 seconds", false, CHEALTH_NONE, false, 0, false},
      {"Up 7 seconds (healthy)", true, CHEALTH_HEALTHY, false, 0, false},
      {"Up 7 seconds (unhealthy)", true, CHEALTH_UNHEALTHY, false, 0, false},
      {"Up 2 seconds (health: starting)", true, CHEALTH_STARTING, false, 0,
       false},
      {"Up 6 seconds (Paused)", false, CHEALTH_NONE, false, 0, true},
      {"Exited (42) 6 seconds ago", false, CHEALTH_NONE, true, 42, false},
      {"Exited (0) 11 seconds ago", false, CHEALTH_NONE, true, 0, false},
      {"Exited (137) 10 seconds ago", false, CHEALTH_NONE, true, 137, false},
      {"Restarting (3) 1 second ago", false, CHEALTH_NONE, true, 3, false},
      {"Restarting (3) Less than a second ago", false, CHEALTH_NONE, true, 3,
       false},
      {"Created", false, CHEALTH_NONE, false, 0, false},
      {"Dead", false, CHEALTH_NONE, false, 0, false},
      {"Removal In Progress", false, CHEALTH_NONE, false, 0, false},
      {"", false, CHEALTH_NONE, false, 0, false},
      /* moby's state_test.go vectors. */
      {"Up 3 days", false, CHEALTH_NONE, false, 0, false},
      {"Up 3 days (Paused)", false, CHEALTH_NONE, false, 0, true},
      {"Restarting (1) 3 days ago", false, CHEALTH_NONE, true, 1, false},
      {"Exited (137) 3 days ago", false, CHEALTH_NONE, true, 137, false},
      {"Up Less than a second (healthy)", true, CHEALTH_HEALTHY, false, 0,
       false},
      {"Up About a minute (unhealthy)", true, CHEALTH_UNHEALTHY, false, 0,
       false},
      {"Exited (-1) 2 hours ago", false, CHEALTH_NONE, true, -1, false},
      {"Exited (2147483647) 1 hour ago", false, CHEALTH_NONE, true, 2147483647,
       false},
      /* Garbage. */
      {"Exited (2147483648) 1 hour ago", false, CHEALTH_NONE, false, 0, false},
      {"Exited (99999999999999999999999) ago", false, CHEALTH_NONE, false, 0,
       false},
      {"Exited () ago", false, CHEALTH_NONE, false, 0, false},
      {"Exited (12", false, CHEALTH_NONE, false, 0, false},
      {"Exited (", false, CHEALTH_NONE, false, 0, false},
      {"Exited", false, CHEALTH_NONE, false, 0, false},
      {"Exited (4x) ago", false, CHEALTH_NONE, false, 0, false},
      {"Exit 0", false, CHEALTH_NONE, false, 0, false},
      {"(healthy)", false, CHEALTH_NONE, false, 0, false},
      {"Upward (healthy)", false, CHEALTH_NONE, false, 0, false},
      {"Up (healthy) 3 days", false, CHEALTH_NONE, false, 0, false},
      {"Up 3 days (HEALTHY)", false, CHEALTH_NONE, false, 0, false},
      {"Up 3 days (health: unknown)", false, CHEALTH_NONE, false, 0, false},
      {"running", false, CHEALTH_NONE, false, 0, false},
      {"\x01\xff\xfe garbage (", false, CHEALTH_NONE, false, 0, false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const status_case_t *tc = &cases[i];
    container_status_t st;
    memset(&st, 0x55, sizeof(st)); /* every field must be written */
    container_status_parse(tc->status, &st);
    if (st.health_known != tc->health_known || st.health != tc->health ||
        st.exit_code_known != tc->exit_code_known ||
        st.exit_code != tc->exit_code || st.paused != tc->paused)
      fail_msg("status \"%s\": health_known=%d health=%d exit_known=%d "
               "exit=%d paused=%d",
               tc->status, st.health_known, st.health, st.exit_code_known,
               st.exit_code, st.paused);
  }
  container_status_t st;
  memset(&st, 0x55, sizeof(st));
  container_status_parse(NULL, &st);
  assert_false(st.health_known);
  assert_false(st.exit_code_known);
  assert_false(st.paused);
  container_status_parse("Up", NULL); /* no crash */
}

static void test_new_free(void **state) {
  (void)state;
  container_t *c = container_new();
  assert_non_null(c);
  assert_null(c->id);
  assert_int_equal(c->state, CSTATE_UNKNOWN);
  assert_int_equal(c->inspect_state, CSTATE_UNKNOWN);
  assert_int_equal(c->list_failing_streak, -1);
  assert_false(c->inspected);
  assert_false(c->list_health_known);
  c->id = strdup("abc");
  c->name = strdup("n");
  c->image = strdup("");
  c->label = strdup("l");
  c->node = strdup("node");
  c->status = strdup("Up");
  container_free(c);
  container_free(NULL);
}

static void test_health_and_state_choice(void **state) {
  (void)state;
  container_t *c = container_new();
  assert_non_null(c);
  assert_int_equal(container_health(c), CHEALTH_NONE);
  assert_int_equal(container_state(c), CSTATE_UNKNOWN);

  /* Inspect only counts when inspected and a healthcheck exists. */
  c->state = CSTATE_RUNNING;
  c->inspect_health = CHEALTH_UNHEALTHY;
  c->has_healthcheck = true;
  assert_int_equal(container_health(c), CHEALTH_NONE);
  c->inspected = true;
  assert_int_equal(container_health(c), CHEALTH_UNHEALTHY);
  c->has_healthcheck = false;
  assert_int_equal(container_health(c), CHEALTH_NONE);
  c->has_healthcheck = true;
  /* The list wins when it knows. */
  c->list_health_known = true;
  c->list_health = CHEALTH_HEALTHY;
  assert_int_equal(container_health(c), CHEALTH_HEALTHY);
  c->list_health = CHEALTH_NONE;
  assert_int_equal(container_health(c), CHEALTH_NONE);

  /* Checks run only while running: dockerd says "unhealthy" for a container
   * it stopped or paused (list Health with API >= 1.52, and inspect). */
  c->list_health = CHEALTH_UNHEALTHY;
  const container_state_t not_running[] = {
      CSTATE_CREATED, CSTATE_RESTARTING, CSTATE_REMOVING, CSTATE_PAUSED,
      CSTATE_EXITED,  CSTATE_DEAD,       CSTATE_UNKNOWN};
  for (size_t i = 0; i < sizeof(not_running) / sizeof(not_running[0]); i++) {
    c->state = not_running[i];
    c->inspect_state = not_running[i];
    assert_int_equal(container_health(c), CHEALTH_NONE);
    c->list_health_known = false;
    assert_int_equal(container_health(c), CHEALTH_NONE);
    c->list_health_known = true;
  }
  /* A list without a usable state: the inspect's state decides. */
  c->state = CSTATE_UNKNOWN;
  c->inspect_state = CSTATE_RUNNING;
  c->list_health_known = false;
  assert_int_equal(container_health(c), CHEALTH_UNHEALTHY);
  c->list_health_known = true;
  c->list_health = CHEALTH_NONE;

  /* The list's state is fresher than a cached inspect. */
  c->state = CSTATE_RUNNING;
  c->inspect_state = CSTATE_EXITED;
  assert_int_equal(container_state(c), CSTATE_RUNNING);
  c->state = CSTATE_UNKNOWN;
  assert_int_equal(container_state(c), CSTATE_EXITED);
  c->inspected = false;
  assert_int_equal(container_state(c), CSTATE_UNKNOWN);
  container_free(c);

  assert_int_equal(container_health(NULL), CHEALTH_NONE);
  assert_int_equal(container_state(NULL), CSTATE_UNKNOWN);
}

static void test_parse_time(void **state) {
  (void)state;
  assert_int_equal(container_parse_time(S("1970-01-01T00:00:01Z")), 1);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32.072697474Z")),
                   1420559252);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32Z")), 1420559252);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32.9Z")),
                   1420559252);
  assert_int_equal(container_parse_time(S("2015-01-06T16:47:32+01:00")),
                   1420559252);
  assert_int_equal(container_parse_time(S("2015-01-06T10:17:32.5-05:30")),
                   1420559252);
  assert_int_equal(container_parse_time(S("2015-01-06t15:47:32z")), 1420559252);
  assert_int_equal(container_parse_time(S("2015-01-06 15:47:32Z")), 1420559252);
  /* Seen in tests/fixtures/inspect_exited42.json. */
  assert_int_equal(container_parse_time(S("2026-11-22T00:17:17.074995253Z")),
                   1795306637);
  assert_int_equal(container_parse_time(S("2024-02-29T00:00:00Z")), 1709164800);
  assert_int_equal(container_parse_time(S("2038-01-19T03:14:08Z")),
                   2147483648LL);
  /* Not set, or not a time. */
  assert_int_equal(container_parse_time(S("0001-01-01T00:00:00Z")), 0);
  assert_int_equal(container_parse_time(S("")), 0);
  assert_int_equal(container_parse_time(NULL, 0), 0);
  assert_int_equal(container_parse_time(S("garbage")), 0);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32")), 0);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32.Z")), 0);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32ZZ")), 0);
  assert_int_equal(container_parse_time(S("2015-01-06T15:47:32+0100")), 0);
  assert_int_equal(container_parse_time(S("2015-13-06T15:47:32Z")), 0);
  assert_int_equal(container_parse_time(S("2015-02-29T15:47:32Z")), 0);
  assert_int_equal(container_parse_time(S("2015-01-32T15:47:32Z")), 0);
  assert_int_equal(container_parse_time(S("2015-01-06T24:00:00Z")), 0);
  assert_int_equal(container_parse_time(S("2015-01-06T15:60:00Z")), 0);
  assert_int_equal(container_parse_time(S("2015-1-06T15:47:32Z")), 0);
  assert_int_equal(container_parse_time(S("1969-12-31T23:59:59Z")), 0);
  assert_int_equal(container_parse_time(S("1970-01-01T00:00:00+01:00")), 0);
  /* Only len bytes count. */
  assert_int_equal(container_parse_time("2015-01-06T15:47:32Zjunk", 20),
                   1420559252);
  assert_int_equal(container_parse_time("2015-01-06T15:47:32Z", 19), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_from_string),
      cmocka_unit_test(test_state_names),
      cmocka_unit_test(test_health_strings),
      cmocka_unit_test(test_status_parse),
      cmocka_unit_test(test_new_free),
      cmocka_unit_test(test_health_and_state_choice),
      cmocka_unit_test(test_parse_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
