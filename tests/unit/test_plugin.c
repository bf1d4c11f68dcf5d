/* Unit tests of portainer.c, the collectd glue: registration, config
 * callback, default source, one read per source, shutdown.  collectd's side
 * is the stub in collectd_stub.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectd_stub.h"
#include "mini_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void module_register(void);

static oconfig_item_t *item(oconfig_item_t *parent, const char *key,
                            const char *value) {
  oconfig_item_t *c;
  if (parent == NULL) {
    c = calloc(1, sizeof(*c));
  } else {
    parent->children = realloc(parent->children, (parent->children_num + 1) *
                                                     sizeof(oconfig_item_t));
    c = &parent->children[parent->children_num++];
    memset(c, 0, sizeof(*c));
  }
  c->key = strdup(key);
  if (value != NULL) {
    c->values = calloc(1, sizeof(*c->values));
    c->values[0].type = OCONFIG_TYPE_STRING;
    c->values[0].value.string = strdup(value);
    c->values_num = 1;
  }
  return c;
}

static void item_free_members(oconfig_item_t *ci) {
  for (int i = 0; i < ci->values_num; i++)
    free(ci->values[i].value.string);
  free(ci->values);
  for (int i = 0; i < ci->children_num; i++)
    item_free_members(&ci->children[i]);
  free(ci->children);
  free(ci->key);
}

/* Runs first: no <Plugin portainer> block at all. */
static void test_default_source(void **state) {
  (void)state;
  stub_reset();
  module_register();
  assert_non_null(stub_config_cb);
  assert_non_null(stub_init_cb);
  assert_int_equal(stub_init_cb(), 0);
  assert_int_equal(stub_reads_num, 1);
  assert_string_equal(stub_reads[0].name, "portainer-local");
  assert_int_equal(stub_reads[0].interval, TIME_T_TO_CDTIME_T(10));
  assert_int_equal(stub_logs_matching("watching the local Docker socket"), 1);
  stub_free_reads();
  assert_int_equal(stub_shutdown_cb(), 0);
}

static void test_configured_sources(void **state) {
  (void)state;
  char dir[] = "/tmp/pt-plugin-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char sock[128];
  snprintf(sock, sizeof(sock), "%s/d.sock", dir);
  mini_server_t *ms = ms_start(sock);
  assert_non_null(ms);
  ms_route_t r[] = {
      {.path = "/containers/json?all=1",
       .body = "[{\"Id\":\"abc\",\"Names\":[\"/web\"],\"Image\":\"nginx\","
               "\"State\":\"exited\",\"Status\":\"Exited (3) 1 second ago\"}]"},
      {.path = "/containers/abc/json",
       .body = "{\"RestartCount\":2,\"State\":{\"Status\":\"exited\","
               "\"ExitCode\":3,\"OOMKilled\":true}}"},
  };
  ms_set_routes(ms, r, 2);

  stub_reset();
  module_register();
  oconfig_item_t *root = item(NULL, "Plugin", "portainer");
  oconfig_item_t *a = item(root, "Docker", "a");
  item(a, "Socket", sock);
  item(a, "Host", "dockhost");
  oconfig_item_t *dup = item(root, "Docker", "a");
  item(dup, "Socket", sock);
  item(root, "Bogus", "1");
  item(root, "Portainer", "nourl");
  assert_int_equal(stub_config_cb(root), 0);
  item_free_members(root);
  free(root);
  assert_int_equal(stub_logs_matching("source \"a\" is defined twice"), 1);
  assert_int_equal(stub_logs_matching("unknown option \"Bogus\""), 1);
  assert_int_equal(stub_logs_matching("source \"nourl\" not started: no URL"), 1);

  assert_int_equal(stub_init_cb(), 0);
  assert_int_equal(stub_reads_num, 1);
  assert_string_equal(stub_reads[0].name, "portainer-a");

  /* One read: the poll, then the values. */
  stub_values_num = 0;
  assert_int_equal(stub_reads[0].callback(&stub_reads[0].ud), 0);
  const stub_value_t *v =
      stub_find("dockhost", "container", "web", "exit_code", "nginx");
  assert_non_null(v);
  assert_true(v->value.gauge == 3);
  v = stub_find("dockhost", "container", "web", "oom_killed", "nginx");
  assert_true(v != NULL && v->value.gauge == 1);
  v = stub_find("testhost", "portainer", "a", "up", "api");
  assert_true(v != NULL && v->value.gauge == 1);

  stub_free_reads();
  assert_int_equal(stub_shutdown_cb(), 0);
  ms_stop(ms);
  rmdir(dir);
}

static void test_nothing_started(void **state) {
  (void)state;
  stub_reset();
  module_register();
  oconfig_item_t *root = item(NULL, "Plugin", "portainer");
  item(root, "Portainer", "nourl");
  assert_int_equal(stub_config_cb(root), 0);
  item_free_members(root);
  free(root);
  assert_int_equal(stub_init_cb(), -1);
  assert_int_equal(stub_logs_matching("no source could be started"), 1);
  assert_int_equal(stub_reads_num, 0);
  assert_int_equal(stub_shutdown_cb(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_source),
      cmocka_unit_test(test_configured_sources),
      cmocka_unit_test(test_nothing_started),
  };
  return cmocka_run_group_tests_name("plugin", tests, NULL, NULL);
}
