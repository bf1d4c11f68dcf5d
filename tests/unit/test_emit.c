/* Unit tests of emit.c: the value lists for containers in every state and
 * health, and the self metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectd_stub.h"
#include "emit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static source_t *new_source(unsigned collect) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("main");
  conf.url = strdup("http://127.0.0.1:1");
  conf.token = strdup("ptr_x");
  conf.collect = collect;
  source_t *s = source_new(&conf, "collector", NULL, NULL);
  assert_non_null(s);
  return s;
}

static container_t *add(inv_env_t *e, const char *id, const char *name,
                        container_state_t st, const char *status) {
  container_t *c = container_new();
  c->id = strdup(id);
  c->name = strdup(name);
  c->image = strdup("registry.example.org/team/app:1.2");
  c->status = strdup(status);
  c->state = st;
  c->list_failing_streak = -1;
  c->inspected = true;
  inv_env_list_add(e, c);
  return c;
}

static double val(const char *host, const char *pi, const char *type) {
  const stub_value_t *v = stub_find(host, "container", pi, type,
                                    "registry.example.org_team_app:1.2");
  if (v == NULL)
    return -1000;
  return v->value.gauge;
}

static bool has(const char *host, const char *pi, const char *type) {
  return stub_find(host, "container", pi, type,
                   "registry.example.org_team_app:1.2") != NULL;
}

static void test_every_state(void **state) {
  (void)state;
  source_t *s = new_source(COLLECT_ALL);
  inventory_t *inv = (inventory_t *)source_inventory(s);
  source_stats_t *st = (source_stats_t *)source_stats(s);
  inv_env_t *e = inventory_env(inv, 1, "infra");
  int64_t now = (int64_t)time(NULL);

  inv_env_list_begin(e);
  container_t *run = add(e, "01", "run", CSTATE_RUNNING, "Up 5 minutes");
  run->started_at = now - 300;
  run->restart_count = 2;
  container_t *hl =
      add(e, "02", "healthy", CSTATE_RUNNING, "Up 1 minute (healthy)");
  hl->list_health_known = true;
  hl->list_health = CHEALTH_HEALTHY;
  hl->has_healthcheck = true;
  hl->inspect_health = CHEALTH_HEALTHY;
  hl->started_at = now - 60;
  container_t *uh =
      add(e, "03", "unhealthy", CSTATE_RUNNING, "Up 1 minute (unhealthy)");
  uh->list_health_known = true;
  uh->list_health = CHEALTH_UNHEALTHY;
  uh->has_healthcheck = true;
  uh->failing_streak = 4;
  uh->started_at = now - 60;
  add(e, "04", "paused", CSTATE_PAUSED, "Up 1 minute (Paused)")->started_at =
      now - 60;
  add(e, "05", "created", CSTATE_CREATED, "Created");
  container_t *ex =
      add(e, "06", "exited42", CSTATE_EXITED, "Exited (42) 6 seconds ago");
  ex->exit_code = 42;
  container_t *oom =
      add(e, "07", "oom", CSTATE_EXITED, "Exited (137) 1 second ago");
  oom->exit_code = 137;
  oom->oom_killed = true;
  container_t *rs = add(e, "08", "restarting", CSTATE_RESTARTING,
                        "Restarting (3) 1 second ago");
  rs->exit_code = 3;
  rs->restart_count = 5;
  add(e, "09", "dead", CSTATE_DEAD, "Dead")->exit_code = 1;
  add(e, "10", "removing", CSTATE_REMOVING, "Removal In Progress");
  add(e, "11", "weird", CSTATE_UNKNOWN, "");
  /* Not inspected (its inspect failed): only what the list says. */
  container_t *ni =
      add(e, "12", "noinspect", CSTATE_EXITED, "Exited (9) 1 second ago");
  inv_env_list_commit(e, false, now);
  ni->inspected = false;
  e->listed = true;
  st->up = true;
  st->last_success = now;
  st->poll_seconds = 0.25;

  stub_reset();
  size_t n = emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_int_equal(n, stub_values_num);

  assert_true(val("infra", "run", "state") == 1);
  assert_true(val("infra", "run", "health") == 0);
  assert_true(val("infra", "run", "restart_count") == 2);
  assert_true(val("infra", "run", "uptime") >= 300);
  assert_false(has("infra", "run", "exit_code"));
  assert_false(has("infra", "run", "failing_streak"));
  assert_true(val("infra", "healthy", "health") == 1);
  assert_true(val("infra", "healthy", "failing_streak") == 0);
  assert_true(val("infra", "unhealthy", "health") == 2);
  assert_true(val("infra", "unhealthy", "failing_streak") == 4);
  assert_true(val("infra", "paused", "state") == 2);
  assert_true(has("infra", "paused", "uptime"));
  assert_true(val("infra", "created", "state") == 3);
  assert_false(has("infra", "created", "exit_code"));
  assert_false(has("infra", "created", "uptime"));
  assert_true(val("infra", "exited42", "state") == 0);
  assert_true(val("infra", "exited42", "exit_code") == 42);
  assert_true(val("infra", "exited42", "oom_killed") == 0);
  assert_false(has("infra", "exited42", "uptime"));
  assert_true(val("infra", "oom", "oom_killed") == 1);
  assert_true(val("infra", "oom", "exit_code") == 137);
  assert_true(val("infra", "restarting", "state") == 4);
  assert_true(val("infra", "restarting", "health") == 0);
  assert_true(val("infra", "restarting", "restart_count") == 5);
  assert_true(val("infra", "restarting", "exit_code") == 3);
  assert_true(val("infra", "dead", "state") == 5);
  assert_true(val("infra", "dead", "exit_code") == 1);
  assert_true(val("infra", "removing", "state") == 7);
  assert_true(val("infra", "weird", "state") == 6);
  assert_true(val("infra", "noinspect", "exit_code") == 9);
  assert_false(has("infra", "noinspect", "restart_count"));
  assert_false(has("infra", "noinspect", "oom_killed"));

  /* Self metrics. */
  const stub_value_t *v =
      stub_find("infra", "portainer", "main", "up", "environment");
  assert_non_null(v);
  assert_true(v->value.gauge == 1);
  v = stub_find("infra", "portainer", "main", "containers", "");
  assert_true(v != NULL && v->value.gauge == 12);
  v = stub_find("collector", "portainer", "main", "up", "api");
  assert_true(v != NULL && v->value.gauge == 1);
  assert_non_null(
      stub_find("collector", "portainer", "main", "last_success", ""));
  assert_non_null(
      stub_find("collector", "portainer", "main", "poll_duration", ""));
  assert_non_null(
      stub_find("collector", "portainer", "main", "api_errors", "timeout"));
  assert_non_null(
      stub_find("collector", "portainer", "main", "api_requests", ""));
  assert_int_equal(v->interval, TIME_T_TO_CDTIME_T(10));
  source_free(s);
}

static void test_down_env_sends_no_container_values(void **state) {
  (void)state;
  source_t *s = new_source(COLLECT_ALL);
  inventory_t *inv = (inventory_t *)source_inventory(s);
  inv_env_t *e = inventory_env(inv, 2, "edge");
  inv_env_list_begin(e);
  add(e, "01", "web", CSTATE_RUNNING, "Up 1 second");
  inv_env_list_commit(e, false, 0);
  e->up = false; /* this poll's list failed */

  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  const stub_value_t *v =
      stub_find("edge", "portainer", "main", "up", "environment");
  assert_true(v != NULL && v->value.gauge == 0);
  assert_false(has("edge", "web", "state"));
  assert_null(stub_find("edge", "portainer", "main", "containers", ""));
  v = stub_find("collector", "portainer", "main", "up", "api");
  assert_true(v != NULL && v->value.gauge == 0);
  assert_null(stub_find("collector", "portainer", "main", "last_success", ""));
  source_free(s);
}

static void test_collect_subset(void **state) {
  (void)state;
  source_t *s = new_source(COLLECT_STATE | COLLECT_EXIT_CODE);
  inventory_t *inv = (inventory_t *)source_inventory(s);
  inv_env_t *e = inventory_env(inv, 1, "h");
  inv_env_list_begin(e);
  add(e, "01", "a", CSTATE_EXITED, "Exited (1) 1 second ago")->exit_code = 1;
  add(e, "02", "b", CSTATE_RUNNING, "Up 1 second")->started_at = 1;
  inv_env_list_commit(e, false, 0);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_true(has("h", "a", "state") && has("h", "a", "exit_code"));
  assert_false(has("h", "a", "health") || has("h", "a", "oom_killed") ||
               has("h", "a", "restart_count"));
  assert_false(has("h", "b", "uptime"));
  source_free(s);
}

/* Uptime is the daemon's now minus StartedAt, both on the daemon's clock:
 * its list's Date plus the time since that answer arrived, whatever the
 * collector's clock says; the collector's clock without a Date header. */
static void test_uptime_on_daemon_clock(void **state) {
  (void)state;
  static const int64_t skews[] = {3600, -3600, 0};
  for (size_t k = 0; k < sizeof(skews) / sizeof(skews[0]); k++) {
    source_t *s = new_source(COLLECT_ALL);
    inventory_t *inv = (inventory_t *)source_inventory(s);
    inv_env_t *e = inventory_env(inv, 1, "skewed");
    inv_env_t *nd = inventory_env(inv, 2, "nodate");
    int64_t now = (int64_t)time(NULL);
    int64_t dnow = now + skews[k];

    inv_env_list_begin(e);
    add(e, "01", "web", CSTATE_RUNNING, "Up 5 minutes")->started_at =
        dnow - 300;
    e->list_date = dnow - 4; /* answered 4 s ago */
    e->list_arrived = inv_monotonic() - 4.0;
    inv_env_list_commit(e, false, now);

    inv_env_list_begin(nd);
    add(nd, "02", "web", CSTATE_RUNNING, "Up 5 minutes")->started_at =
        now - 300;
    inv_env_list_commit(nd, false, now);

    stub_reset();
    emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
    double up = val("skewed", "web", "uptime");
    assert_true(up >= 299 && up <= 302);
    up = val("nodate", "web", "uptime");
    assert_true(up >= 300 && up <= 302);
    source_free(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_state),
      cmocka_unit_test(test_down_env_sends_no_container_values),
      cmocka_unit_test(test_collect_subset),
      cmocka_unit_test(test_uptime_on_daemon_clock),
  };
  return cmocka_run_group_tests_name("emit", tests, NULL, NULL);
}
