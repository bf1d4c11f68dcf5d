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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    if (ci->values[i].type == OCONFIG_TYPE_STRING)
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
  assert_int_equal(stub_logs_matching("source \"nourl\" not started: no URL"),
                   1);

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

static void num_item(oconfig_item_t *parent, const char *key, double v) {
  oconfig_item_t *c = item(parent, key, NULL);
  c->values = calloc(1, sizeof(*c->values));
  c->values[0].type = OCONFIG_TYPE_NUMBER;
  c->values[0].value.number = v;
  c->values_num = 1;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *read_thread(void *arg) {
  stub_read_t *r = arg;
  r->callback(&r->ud);
  return NULL;
}

#define SLOW_LIST_MS 20000

/* One Docker source on a unix socket whose list answers after
 * SLOW_LIST_MS, Interval 300 (a poll may take 270 s), Timeout 10 min. */
static mini_server_t *slow_source(char *dir, size_t dirsz) {
  snprintf(dir, dirsz, "/tmp/pt-plugin-XXXXXX");
  assert_non_null(mkdtemp(dir));
  char sock[128];
  snprintf(sock, sizeof(sock), "%s/d.sock", dir);
  mini_server_t *ms = ms_start(sock);
  assert_non_null(ms);
  ms_route_t r[] = {
      {.path = "/containers/json?all=1",
       .delay_ms = SLOW_LIST_MS,
       .body = "[{\"Id\":\"abc\",\"Names\":[\"/web\"],\"Image\":\"nginx\","
               "\"State\":\"exited\",\"Status\":\"Exited (3) 1 second ago\"}]"},
      {.path = "/containers/abc/json",
       .body = "{\"RestartCount\":2,\"State\":{\"Status\":\"exited\","
               "\"ExitCode\":3,\"OOMKilled\":true}}"},
  };
  ms_set_routes(ms, r, 2);
  stub_reset();
  module_register();
  assert_non_null(stub_log_cb);
  oconfig_item_t *root = item(NULL, "Plugin", "portainer");
  oconfig_item_t *a = item(root, "Docker", "slow");
  item(a, "Socket", sock);
  num_item(a, "Interval", 300);
  num_item(a, "Timeout", 600000);
  assert_int_equal(stub_config_cb(root), 0);
  item_free_members(root);
  free(root);
  assert_int_equal(stub_init_cb(), 0);
  assert_int_equal(stub_reads_num, 1);
  return ms;
}

/* Waits (bounded) until the server has received n requests. */
static void wait_requests(mini_server_t *ms, size_t n) {
  for (int i = 0; i < 1000 && ms_request_count(ms) < n; i++)
    usleep(10 * 1000);
  assert_true(ms_request_count(ms) >= n);
}

/* collectd logs "collectd: Stopping N read threads." and then joins the
 * read threads: the log line ends the poll in flight, nothing of it is
 * dispatched, and no later poll starts. */
static void shutdown_line_cancels(const char *line) {
  char dir[64];
  mini_server_t *ms = slow_source(dir, sizeof(dir));
  stub_values_num = 0;
  pthread_t t;
  int64_t t0 = mono_ms();
  assert_int_equal(pthread_create(&t, NULL, read_thread, &stub_reads[0]), 0);
  wait_requests(ms, 1); /* the list request is in flight */

  /* Lines that look alike change nothing. */
  stub_log_cb(LOG_INFO, "collectd: Stopping read threads.", NULL);
  stub_log_cb(LOG_INFO, "collectd: Stopping 5 read threads. (no)", NULL);
  stub_log_cb(LOG_INFO, "Exiting normally", NULL);
  stub_log_cb(LOG_ERR, "Exiting normally.", NULL);
  stub_log_cb(LOG_INFO, "portainer plugin: Exiting normally.", NULL);
  usleep(300 * 1000);
  assert_int_equal(stub_logs_matching("poll cancelled"), 0);

  stub_log_cb(LOG_INFO, line, NULL);
  assert_int_equal(pthread_join(t, NULL), 0);
  /* Ended by the cancel, not by the server's answer (SLOW_LIST_MS). */
  assert_true(mono_ms() - t0 < SLOW_LIST_MS - 2000);
  assert_int_equal(stub_values_num, 0);
  assert_int_equal(stub_logs_matching("source \"slow\": poll cancelled"), 1);
  assert_int_equal(stub_logs_matching("timeout"), 0);

  /* A read that collectd still starts sends nothing, dispatches nothing. */
  size_t sent = ms_request_count(ms);
  assert_int_equal(stub_reads[0].callback(&stub_reads[0].ud), 0);
  assert_int_equal(ms_request_count(ms), sent);
  assert_int_equal(stub_values_num, 0);

  stub_free_reads();
  assert_int_equal(stub_shutdown_cb(), 0);
  ms_stop(ms);
  rmdir(dir);
}

static void test_shutdown_stopping_line(void **state) {
  (void)state;
  shutdown_line_cancels("collectd: Stopping 5 read threads.");
}

static void test_shutdown_exiting_line(void **state) {
  (void)state;
  shutdown_line_cancels("Exiting normally.");
}

/* Without a shutdown line, the same source's read completes: the values
 * of a whole poll. */
static void test_shutdown_callback_alone(void **state) {
  (void)state;
  char dir[64];
  mini_server_t *ms = slow_source(dir, sizeof(dir));
  /* The shutdown callback cancels too (should the log lines not come). */
  stub_values_num = 0;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, read_thread, &stub_reads[0]), 0);
  wait_requests(ms, 1);
  assert_int_equal(stub_shutdown_cb(), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(stub_values_num, 0);
  assert_int_equal(stub_logs_matching("poll cancelled"), 1);
  stub_free_reads();
  ms_stop(ms);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_source),
      cmocka_unit_test(test_configured_sources),
      cmocka_unit_test(test_nothing_started),
      cmocka_unit_test(test_shutdown_stopping_line),
      cmocka_unit_test(test_shutdown_exiting_line),
      cmocka_unit_test(test_shutdown_callback_alone),
  };
  return cmocka_run_group_tests_name("plugin", tests, NULL, NULL);
}
