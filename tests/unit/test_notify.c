/* Unit tests of notify.c: the notifications a source's transitions become
 * (identity, severity, message), through the collectd stub. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectd_stub.h"
#include "notify.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static source_t *new_source(source_kind_t kind, unsigned notify) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = kind;
  conf.name = strdup("main");
  if (kind == SOURCE_PORTAINER) {
    conf.url = strdup("http://127.0.0.1:1");
    conf.token = strdup("ptr_x");
  } else {
    conf.socket = strdup("/nonexistent.sock");
  }
  conf.notify = notify;
  source_t *s = source_new(&conf, "collector", NULL, NULL);
  assert_non_null(s);
  return s;
}

/* One container per call, as a list entry (plus inspect facts). */
typedef struct {
  const char *id, *name;
  container_state_t state;
  const char *status;
  int64_t exit_code, restart_count, finished_at;
  bool oom_killed;
  container_health_t health;
} ct_t;

/* A poll: the environment's list (or its failure), then the pass. */
static size_t poll(source_t *s, inv_env_t *e, const ct_t *cts, size_t n,
                   bool env_up, bool api_up) {
  source_stats_t *st = (source_stats_t *)source_stats(s);
  inv_env_list_begin(e);
  for (size_t i = 0; env_up && i < n; i++) {
    container_t *c = container_new();
    c->id = strdup(cts[i].id);
    c->name = strdup(cts[i].name);
    c->image = strdup("registry.example.org/team/app:1.2");
    c->status = strdup(cts[i].status);
    c->state = cts[i].state;
    if (cts[i].health != CHEALTH_NONE) {
      c->list_health_known = true;
      c->list_health = cts[i].health;
    }
    inv_env_list_add(e, c);
  }
  if (env_up) {
    inv_env_list_commit(e, false, (int64_t)time(NULL));
    for (size_t i = 0; i < e->cs_num; i++) {
      container_t *c = e->cs[i];
      const ct_t *f = &cts[i]; /* ids are given sorted */
      c->inspected = true;
      c->exit_code = f->exit_code;
      c->restart_count = f->restart_count;
      c->finished_at = f->finished_at;
      c->oom_killed = f->oom_killed;
    }
  } else {
    inv_env_list_abort(e);
  }
  st->up = api_up;
  stub_reset();
  return notify_source(s, "collector");
}

static const stub_notif_t *only(void) {
  assert_int_equal(stub_notifs_num, 1);
  return &stub_notifs[0];
}

static void test_container_notifications(void **state) {
  (void)state;
  source_t *s = new_source(SOURCE_PORTAINER, NOTIFY_ALL);
  inventory_t *inv = source_inventory_notify(s);
  inv_env_t *e = inventory_env(inv, 7, "infra/eu");
  inv->envs[0]->listed = true;
  ct_t cts[] = {
      {"01", "web", CSTATE_RUNNING, "Up 1 minute", 0, 0, 0, false,
       CHEALTH_NONE},
      {"02", "db", CSTATE_RUNNING, "Up 1 minute (healthy)", 0, 0, 0, false,
       CHEALTH_HEALTHY},
  };
  /* Start-up: a baseline, nothing told. */
  assert_int_equal(poll(s, e, cts, 2, true, true), 0);
  assert_int_equal(poll(s, e, cts, 2, true, true), 0);

  /* web exits with 3: one FAILURE, identified like its values. */
  cts[0].state = CSTATE_EXITED;
  cts[0].status = "Exited (3) 1 second ago";
  cts[0].exit_code = 3;
  cts[0].finished_at = 1700000000;
  assert_int_equal(poll(s, e, cts, 2, true, true), 1);
  const stub_notif_t *n = only();
  assert_int_equal(n->severity, NOTIF_FAILURE);
  assert_string_equal(n->host, "infra_eu");
  assert_string_equal(n->plugin, "container");
  assert_string_equal(n->plugin_instance, "web");
  assert_string_equal(n->type, "exit_code");
  assert_string_equal(n->type_instance, "registry.example.org_team_app:1.2");
  assert_non_null(strstr(n->message, "container \"web\" on \"infra/eu\" "
                                     "exited with exit code 3 at "
                                     "2023-11-14T22:13:20Z"));
  /* Polls later: nothing. */
  for (int i = 0; i < 3; i++)
    assert_int_equal(poll(s, e, cts, 2, true, true), 0);

  /* db turns unhealthy, then healthy. */
  cts[1].status = "Up 2 minutes (unhealthy)";
  cts[1].health = CHEALTH_UNHEALTHY;
  assert_int_equal(poll(s, e, cts, 2, true, true), 1);
  assert_int_equal(only()->severity, NOTIF_FAILURE);
  assert_string_equal(only()->type, "health");
  assert_non_null(strstr(only()->message, "\"db\" on \"infra/eu\" is "
                                          "unhealthy"));
  cts[1].status = "Up 2 minutes (healthy)";
  cts[1].health = CHEALTH_HEALTHY;
  assert_int_equal(poll(s, e, cts, 2, true, true), 1);
  assert_int_equal(only()->severity, NOTIF_OKAY);
  assert_non_null(strstr(only()->message, "is healthy again"));

  /* web started again by hand, and exits 0. */
  cts[0].state = CSTATE_RUNNING;
  cts[0].status = "Up 1 second";
  assert_int_equal(poll(s, e, cts, 2, true, true), 0);
  cts[0].state = CSTATE_EXITED;
  cts[0].status = "Exited (0) 1 second ago";
  cts[0].exit_code = 0;
  cts[0].finished_at = 1700000100;
  assert_int_equal(poll(s, e, cts, 2, true, true), 1);
  assert_int_equal(only()->severity, NOTIF_OKAY);
  assert_non_null(strstr(only()->message, "exit code 0 (success)"));

  /* An OOM kill: one notification, of type oom_killed. */
  cts[0].state = CSTATE_RUNNING;
  cts[0].status = "Up 1 second";
  assert_int_equal(poll(s, e, cts, 2, true, true), 0);
  cts[0].state = CSTATE_EXITED;
  cts[0].status = "Exited (137) 1 second ago";
  cts[0].exit_code = 137;
  cts[0].oom_killed = true;
  cts[0].finished_at = 1700000200;
  assert_int_equal(poll(s, e, cts, 2, true, true), 1);
  assert_int_equal(only()->severity, NOTIF_FAILURE);
  assert_string_equal(only()->type, "oom_killed");
  assert_non_null(strstr(only()->message, "OOM killer"));

  /* A restart by policy: WARNING with both counts. */
  cts[1].restart_count = 2;
  cts[1].status = "Up 1 second (healthy)";
  assert_int_equal(poll(s, e, cts, 2, true, true), 1);
  assert_int_equal(only()->severity, NOTIF_WARNING);
  assert_string_equal(only()->type, "restart_count");
  assert_non_null(strstr(only()->message, "restart count 2 (was 0)"));
  source_free(s);
}

/* An environment that is down sends no container news; down and back are
 * one notification each; with the API down, environments are not told. */
static void test_environment_and_source(void **state) {
  (void)state;
  source_t *s = new_source(SOURCE_PORTAINER, NOTIFY_ALL);
  inventory_t *inv = source_inventory_notify(s);
  inv_env_t *e = inventory_env(inv, 3, "edge");
  ct_t ct = {"01", "web", CSTATE_RUNNING, "Up 1 minute", 0,
             0,    0,     false,          CHEALTH_NONE};
  assert_int_equal(poll(s, e, &ct, 1, true, true), 0);
  assert_int_equal(poll(s, e, &ct, 1, false, true), 1);
  const stub_notif_t *n = only();
  assert_int_equal(n->severity, NOTIF_FAILURE);
  assert_string_equal(n->host, "edge");
  assert_string_equal(n->plugin, "portainer");
  assert_string_equal(n->plugin_instance, "main");
  assert_string_equal(n->type, "up");
  assert_string_equal(n->type_instance, "environment");
  assert_non_null(strstr(n->message, "environment \"edge\" (id 3) of source "
                                     "\"main\" is down since"));
  assert_int_equal(poll(s, e, &ct, 1, false, true), 0);
  /* Back, with the container exited meanwhile: both are news now. */
  ct.state = CSTATE_EXITED;
  ct.status = "Exited (1) 5 seconds ago";
  ct.exit_code = 1;
  ct.finished_at = 1700000000;
  assert_int_equal(poll(s, e, &ct, 1, true, true), 2);
  assert_string_equal(stub_notifs[0].type, "up");
  assert_int_equal(stub_notifs[0].severity, NOTIF_OKAY);
  assert_non_null(strstr(stub_notifs[0].message, "is answering again"));
  assert_string_equal(stub_notifs[1].type, "exit_code");

  /* The API goes down: the source is told, its environments are not. */
  assert_int_equal(poll(s, e, &ct, 1, false, false), 1);
  n = only();
  assert_string_equal(n->host, "collector");
  assert_string_equal(n->type_instance, "api");
  assert_non_null(strstr(n->message, "Portainer source \"main\" is down"));
  assert_int_equal(poll(s, e, &ct, 1, false, false), 0);
  assert_int_equal(poll(s, e, &ct, 1, true, true), 1);
  assert_string_equal(only()->type_instance, "api");
  assert_int_equal(only()->severity, NOTIF_OKAY);
  source_free(s);
}

/* A Docker source: its one host is told, not also the source. */
static void test_docker_source(void **state) {
  (void)state;
  source_t *s = new_source(SOURCE_DOCKER, NOTIFY_DOWN);
  inventory_t *inv = source_inventory_notify(s);
  inv_env_t *e = inventory_env(inv, 0, "dockerhost");
  ct_t ct = {"01", "web", CSTATE_RUNNING, "Up 1 minute", 0,
             0,    0,     false,          CHEALTH_NONE};
  assert_int_equal(poll(s, e, &ct, 1, true, true), 0);
  assert_int_equal(poll(s, e, &ct, 1, false, false), 1);
  assert_string_equal(only()->host, "dockerhost");
  assert_string_equal(only()->type_instance, "environment");
  assert_non_null(strstr(only()->message, "Docker host \"dockerhost\" of "
                                          "source \"main\" is down"));
  /* Exits are not among its kinds. */
  ct.state = CSTATE_EXITED;
  ct.status = "Exited (1) 1 second ago";
  ct.exit_code = 1;
  assert_int_equal(poll(s, e, &ct, 1, true, true), 1);
  assert_int_equal(only()->severity, NOTIF_OKAY);
  source_free(s);
}

static void test_off_and_long_names(void **state) {
  (void)state;
  source_t *s = new_source(SOURCE_DOCKER, 0);
  inventory_t *inv = source_inventory_notify(s);
  inv_env_t *e = inventory_env(inv, 0, "h");
  ct_t ct = {"01", "web", CSTATE_RUNNING, "Up 1 minute", 0,
             0,    0,     false,          CHEALTH_NONE};
  assert_int_equal(poll(s, e, &ct, 1, true, true), 0);
  ct.state = CSTATE_EXITED;
  ct.status = "Exited (1) 1 second ago";
  assert_int_equal(poll(s, e, &ct, 1, true, true), 0);
  assert_int_equal(poll(s, e, &ct, 1, false, false), 0);
  source_free(s);

  /* Names cut in the message (on a character boundary), whole in the
   * identity fields. */
  char name[121];
  for (int i = 0; i < 40; i++)
    memcpy(name + 3 * i, "\xe2\x82\xac", 3); /* the euro sign */
  name[120] = 0;
  s = new_source(SOURCE_DOCKER, NOTIFY_EXIT);
  e = inventory_env(source_inventory_notify(s), 0, name);
  ct = (ct_t){"01", name, CSTATE_RUNNING, "Up 1 minute", 0,
              0,    0,    false,          CHEALTH_NONE};
  assert_int_equal(poll(s, e, &ct, 1, true, true), 0);
  ct.state = CSTATE_EXITED;
  ct.status = "Exited (9) 1 second ago";
  ct.exit_code = 9;
  assert_int_equal(poll(s, e, &ct, 1, true, true), 1);
  const stub_notif_t *n = only();
  assert_string_equal(n->plugin_instance, name);
  assert_string_equal(n->host, name);
  assert_non_null(strstr(n->message, "...\" on \""));
  assert_non_null(strstr(n->message, "exit code 9"));
  assert_true(strlen(n->message) < NOTIF_MAX_MSG_LEN);
  source_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_container_notifications),
      cmocka_unit_test(test_environment_and_source),
      cmocka_unit_test(test_docker_source),
      cmocka_unit_test(test_off_and_long_names),
  };
  return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
