/* Unit tests of request.c: request URLs are built without a length limit
 * (issue 9, item 6): a base URL with a long path prefix reaches the right
 * paths for the login, the environment pages, the lists, the events and
 * the inspects (they were cut at 2047 bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mini_server.h"
#include "source.h"
#include "testlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREFIX_LEN 3000

static char prefix[PREFIX_LEN + 2];

/* prefix + path, in one of a few static buffers. */
static const char *at(const char *path) {
  static char bufs[8][PREFIX_LEN + 256];
  static int next;
  char *b = bufs[next++ % 8];
  assert_true(strlen(path) < 128);
  memcpy(b, prefix, PREFIX_LEN + 1);
  memcpy(b + PREFIX_LEN + 1, path, strlen(path) + 1);
  return b;
}

static void routes(mini_server_t *ms, bool portainer) {
  const char *base = portainer ? "/api/endpoints/1/docker" : "";
  char list[128], insp[128], events[128];
  snprintf(list, sizeof(list), "%s/containers/json?all=1", base);
  snprintf(insp, sizeof(insp), "%s/containers/aaa1/json", base);
  snprintf(events, sizeof(events), "%s/events?", base);
  ms_route_t r[] = {
      {.method = "POST",
       .path = at("/api/auth"),
       .body = "{\"jwt\":\"a.b.c\"}"},
      {.path = at("/api/endpoints?start=1&limit=100&excludeSnapshots=true"),
       .headers = "X-Total-Count: 1\r\n",
       .body = "[{\"Id\":1,\"Name\":\"local\",\"Type\":1}]"},
      {.path = at(list),
       .headers = date_header(),
       .body = "[{\"Id\":\"aaa1\",\"Names\":[\"/web\"],\"Image\":\"nginx\","
               "\"State\":\"running\",\"Status\":\"Up 3 weeks\"}]"},
      {.path = at(insp),
       .body = "{\"Id\":\"aaa1\",\"RestartCount\":2,\"State\":{\"Status\":"
               "\"running\",\"ExitCode\":0,\"OOMKilled\":false,"
               "\"StartedAt\":\"2026-11-22T00:00:00Z\"}}"},
      {.path = at(events), .prefix = true, .body = ""},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

static size_t count_prefixed(mini_server_t *ms, const char *path) {
  return ms_count_path(ms, NULL, at(path));
}

static size_t count_events(mini_server_t *ms, const char *base) {
  char rel[128];
  snprintf(rel, sizeof(rel), "%s/events?since=", base);
  const char *p = at(rel);
  size_t n = 0;
  for (size_t i = 0; i < ms_request_count(ms); i++)
    if (strncmp(ms_request(ms, i)->path, p, strlen(p)) == 0)
      n++;
  return n;
}

static void poll_long_url(bool portainer) {
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  routes(ms, portainer);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = portainer ? SOURCE_PORTAINER : SOURCE_DOCKER;
  conf.name = strdup("long");
  size_t n = strlen(ms_url(ms)) + strlen(prefix) + 1;
  conf.url = malloc(n);
  assert_non_null(conf.url);
  snprintf(conf.url, n, "%s%s", ms_url(ms), prefix);
  if (portainer) {
    conf.username = strdup("admin");
    conf.password = strdup("pw");
  }
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_non_null(s);

  assert_int_equal(source_poll(s), 0);
  const inv_env_t *e = source_inventory(s)->envs[0];
  assert_int_equal(e->cs_num, 1);
  assert_true(e->cs[0]->inspected);
  assert_int_equal(e->cs[0]->restart_count, 2);
  sleep(1); /* a new second of the daemon's clock: events are asked */
  routes(ms, portainer);
  assert_int_equal(source_poll(s), 0);

  const char *base = portainer ? "/api/endpoints/1/docker" : "";
  char p[128];
  if (portainer) {
    assert_int_equal(count_prefixed(ms, "/api/auth"), 1);
    assert_int_equal(
        count_prefixed(
            ms, "/api/endpoints?start=1&limit=100&excludeSnapshots=true"),
        2);
  }
  snprintf(p, sizeof(p), "%s/containers/json?all=1", base);
  assert_int_equal(count_prefixed(ms, p), 2);
  snprintf(p, sizeof(p), "%s/containers/aaa1/json", base);
  assert_int_equal(count_prefixed(ms, p), 1);
  assert_int_equal(count_events(ms, base), 1);
  /* Nothing went anywhere else. */
  for (size_t i = 0; i < ms_request_count(ms); i++)
    assert_int_equal(strncmp(ms_request(ms, i)->path, prefix, PREFIX_LEN + 1),
                     0);
  source_free(s);
  ms_stop(ms);
}

static void test_long_base_url_portainer(void **state) {
  (void)state;
  poll_long_url(true);
}

static void test_long_base_url_docker(void **state) {
  (void)state;
  poll_long_url(false);
}

int main(void) {
  prefix[0] = '/';
  for (size_t i = 1; i <= PREFIX_LEN; i++)
    prefix[i] = (char)('a' + i % 26);
  prefix[PREFIX_LEN + 1] = 0;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_base_url_portainer),
      cmocka_unit_test(test_long_base_url_docker),
  };
  http_global_init();
  return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
