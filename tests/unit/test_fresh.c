/* Unit tests of emit.c for issue 8: the failing streak sent is the freshest
 * one (the list's, with API >= 1.52), HostPrefix, several sources sharing
 * container identities, and Swarm environments with a node missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectd_stub.h"
#include "docker_api.h"
#include "emit.h"
#include "identity.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static source_t *new_source(const char *name, const char *prefix) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup(name);
  conf.url = strdup("http://127.0.0.1:1");
  conf.token = strdup("ptr_x");
  conf.host_prefix = prefix != NULL ? strdup(prefix) : NULL;
  source_t *s = source_new(&conf, "collector", NULL, NULL);
  assert_non_null(s);
  return s;
}

static container_t *mk(const char *id, const char *name, const char *node,
                       container_state_t st) {
  container_t *c = container_new();
  c->id = strdup(id);
  c->name = strdup(name);
  c->image = strdup("bb:latest");
  c->status = strdup(st == CSTATE_RUNNING ? "Up 1 minute"
                                          : "Exited (3) 1 "
                                            "second ago");
  c->node = node != NULL ? strdup(node) : NULL;
  c->state = st;
  c->list_failing_streak = -1;
  return c;
}

/* Commits the containers as one poll would (list, commit, settle names). */
static inv_env_t *env_with(source_t *s, int64_t id, const char *name,
                           container_t **cs, size_t n) {
  inventory_t *inv = (inventory_t *)source_inventory(s);
  inv_env_t *e = inventory_env(inv, id, name);
  inv_env_list_begin(e);
  for (size_t i = 0; i < n; i++)
    inv_env_list_add(e, cs[i]);
  inv_env_list_commit(e, false, (int64_t)time(NULL));
  e->listed = true;
  identity_settle(e->cs, e->cs_num, TYPE_INSTANCE_IMAGE, NULL);
  return e;
}

static double val(const char *host, const char *pi, const char *type) {
  const stub_value_t *v = stub_find(host, "container", pi, type, "bb:latest");
  return v == NULL ? -1000 : v->value.gauge;
}

/* --- failing streak ------------------------------------------------------ */

static void got_container(void *ud, container_t *c) {
  *(container_t **)ud = c;
}

/* The API 1.52 list item of the fixture, with its Health as given. */
static container_t *parse_152(const char *health, const char *streak) {
  size_t len = 0;
  char *doc = read_fixture("docker_api152_containers_json_item.json", &len);
  assert_non_null(doc);
  char *h = strstr(doc, "\"Status\": \"healthy\"");
  char *f = strstr(doc, "\"FailingStreak\": 0");
  assert_non_null(h);
  assert_non_null(f);
  char edited[8192];
  snprintf(edited, sizeof(edited),
           "%.*s\"Status\": \"%s\"%.*s\"FailingStreak\": %s%s", (int)(h - doc),
           doc, health, (int)(f - (h + strlen("\"Status\": \"healthy\""))),
           h + strlen("\"Status\": \"healthy\""), streak,
           f + strlen("\"FailingStreak\": 0"));
  container_t *c = NULL;
  json_stream_t *js = docker_list_parser_new(NULL, got_container, &c);
  assert_int_equal(json_stream_feed(js, edited, strlen(edited)), 0);
  assert_int_equal(json_stream_finish(js), 0);
  json_stream_free(js);
  free(doc);
  assert_non_null(c);
  return c;
}

static void test_list_streak_wins_over_older_inspect(void **state) {
  (void)state;
  source_t *s = new_source("main", NULL);
  /* Inspected polls ago with a streak of 3; the list says 0 now. */
  container_t *c = parse_152("healthy", "0");
  assert_int_equal(c->list_failing_streak, 0);
  c->inspected = true;
  c->has_healthcheck = true;
  c->inspect_health = CHEALTH_UNHEALTHY;
  c->failing_streak = 3;
  /* ... and one whose list streak rose past the inspect's. */
  container_t *d = parse_152("unhealthy", "7");
  free(d->id);
  d->id = strdup("ffff");
  free(d->name);
  d->name = strdup("failing");
  d->inspected = true;
  d->has_healthcheck = true;
  d->failing_streak = 2;
  container_t *cs[2] = {c, d};
  env_with(s, 1, "infra", cs, 2);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  const stub_value_t *v = stub_find("infra", "container", "nginx_web_1",
                                    "failing_streak", "nginx:latest");
  assert_non_null(v);
  assert_true(v->value.gauge == 0);
  v = stub_find("infra", "container", "failing", "failing_streak",
                "nginx:latest");
  assert_non_null(v);
  assert_true(v->value.gauge == 7);
  v = stub_find("infra", "container", "failing", "health", "nginx:latest");
  assert_true(v->value.gauge == CHEALTH_UNHEALTHY);
  source_free(s);
}

static void test_list_without_healthcheck_sends_none(void **state) {
  (void)state;
  source_t *s = new_source("main", NULL);
  container_t *c = parse_152("none", "0");
  container_t *cs[1] = {c};
  env_with(s, 1, "infra", cs, 1);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_null(stub_find("infra", "container", "nginx_web_1", "failing_streak",
                        "nginx:latest"));
  assert_non_null(
      stub_find("infra", "container", "nginx_web_1", "state", "nginx:latest"));
  source_free(s);
}

/* --- HostPrefix and several sources --------------------------------------- */

static void test_host_prefix(void **state) {
  (void)state;
  source_t *s = new_source("second", "pt2-");
  container_t *cs[1] = {mk("aaaa", "portainer", NULL, CSTATE_RUNNING)};
  env_with(s, 1, "local", cs, 1);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_true(val("pt2-local", "portainer", "state") == 1);
  assert_true(val("local", "portainer", "state") == -1000);
  const stub_value_t *up =
      stub_find("pt2-local", "portainer", "second", "up", "environment");
  assert_non_null(up);
  assert_true(up->value.gauge == 1);
  source_free(s);
}

static size_t emit2(source_t *s, registry_t *r, int w) {
  return emit_source_shared(s, "collector", TIME_T_TO_CDTIME_T(10), r, w);
}

static void test_two_sources_one_identity(void **state) {
  (void)state;
  /* Two Portainers, each with an environment "local" running a container
   * "portainer": one running, one exited. */
  source_t *alpha = new_source("alpha", NULL);
  source_t *beta = new_source("beta", NULL);
  container_t *ca[2] = {mk("aaaa", "portainer", NULL, CSTATE_RUNNING),
                        mk("aaab", "only-alpha", NULL, CSTATE_RUNNING)};
  container_t *cb[2] = {mk("bbbb", "portainer", NULL, CSTATE_EXITED),
                        mk("bbbc", "only-beta", NULL, CSTATE_RUNNING)};
  env_with(alpha, 1, "local", ca, 2);
  env_with(beta, 1, "local", cb, 2);
  registry_t *r = registry_new();
  int wa = registry_writer(r, "alpha");
  int wb = registry_writer(r, "beta");

  /* beta happens to poll first, then alpha, then both in turn: whatever
   * the order, from alpha's first emit on only alpha's value is sent. */
  stub_reset();
  emit2(beta, r, wb);
  emit2(alpha, r, wa);
  for (int poll = 0; poll < 4; poll++) {
    stub_reset();
    if (poll % 2) {
      emit2(alpha, r, wa);
      emit2(beta, r, wb);
    } else {
      emit2(beta, r, wb);
      emit2(alpha, r, wa);
    }
    size_t written = 0;
    for (size_t i = 0; i < stub_values_num; i++)
      if (strcmp(stub_values[i].plugin_instance, "portainer") == 0 &&
          strcmp(stub_values[i].type, "state") == 0) {
        assert_true(stub_values[i].value.gauge == 1); /* alpha's */
        written++;
      }
    assert_int_equal(written, 1);
    /* What only one of them has is sent, both environments' self values
     * too. */
    assert_true(val("local", "only-alpha", "state") == 1);
    assert_true(val("local", "only-beta", "state") == 1);
    assert_non_null(
        stub_find("local", "portainer", "beta", "up", "environment"));
    /* Said once: in the first of these polls, never again. */
    assert_int_equal(stub_logs_matching("source \"beta\": environment "
                                        "\"local\" (id 1): container "
                                        "\"portainer\""),
                     poll == 0 ? 1 : 0);
    assert_int_equal(stub_logs_matching("source \"alpha\", configured first"),
                     poll == 0 ? 1 : 0);
  }
  registry_free(r);
  source_free(alpha);
  source_free(beta);
}

/* --- Swarm node missing ----------------------------------------------------
 */

static void test_absent_not_reported(void **state) {
  (void)state;
  source_t *s = new_source("main", NULL);
  container_t *cs[3] = {mk("aaaa", "web", "node-a", CSTATE_RUNNING),
                        mk("bbbb", "web", "node-b", CSTATE_RUNNING),
                        mk("cccc", "solo", "node-b", CSTATE_RUNNING)};
  inv_env_t *e = env_with(s, 2, "swarm", cs, 3);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_true(val("swarm", "web@node-a", "state") == 1);
  assert_true(val("swarm", "web@node-b", "state") == 1);

  /* node-b drops out of the list: its containers stay aside, unreported;
   * up is 0; web on node-a keeps its name. */
  inv_env_list_begin(e);
  inv_names_add(&e->nodes_missing, "node-b");
  inv_env_list_add(e, mk("aaaa", "web", "node-a", CSTATE_RUNNING));
  inv_env_list_commit(e, false, (int64_t)time(NULL));
  identity_settle(e->cs, e->cs_num, TYPE_INSTANCE_IMAGE, NULL);
  assert_int_equal(e->cs_num, 3);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_true(val("swarm", "web@node-a", "state") == 1);
  assert_true(val("swarm", "web", "state") == -1000);
  assert_true(val("swarm", "web@node-b", "state") == -1000);
  assert_true(val("swarm", "solo", "state") == -1000);
  const stub_value_t *up =
      stub_find("swarm", "portainer", "main", "up", "environment");
  assert_true(up->value.gauge == 0);
  const stub_value_t *n =
      stub_find("swarm", "portainer", "main", "containers", "");
  assert_true(n->value.gauge == 1);

  /* Back: everything under its old name, up 1. */
  inv_env_list_begin(e);
  inv_env_list_add(e, mk("aaaa", "web", "node-a", CSTATE_RUNNING));
  inv_env_list_add(e, mk("bbbb", "web", "node-b", CSTATE_RUNNING));
  inv_env_list_add(e, mk("cccc", "solo", "node-b", CSTATE_RUNNING));
  inv_env_list_commit(e, false, (int64_t)time(NULL));
  identity_settle(e->cs, e->cs_num, TYPE_INSTANCE_IMAGE, NULL);
  stub_reset();
  emit_source(s, "collector", TIME_T_TO_CDTIME_T(10));
  assert_true(val("swarm", "web@node-a", "state") == 1);
  assert_true(val("swarm", "web@node-b", "state") == 1);
  assert_true(val("swarm", "solo", "state") == 1);
  up = stub_find("swarm", "portainer", "main", "up", "environment");
  assert_true(up->value.gauge == 1);
  source_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_list_streak_wins_over_older_inspect),
      cmocka_unit_test(test_list_without_healthcheck_sends_none),
      cmocka_unit_test(test_host_prefix),
      cmocka_unit_test(test_two_sources_one_identity),
      cmocka_unit_test(test_absent_not_reported),
  };
  return cmocka_run_group_tests_name("fresh", tests, NULL, NULL);
}
