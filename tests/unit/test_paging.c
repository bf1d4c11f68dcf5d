/* Unit tests of environments.c's paging (issue 9, item 5), against
 * mini_server: a server that ignores start and limit and sends the same
 * page without X-Total-Count, pages with malformed entries, and a page
 * holding only malformed entries. */
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

static size_t page_requests(mini_server_t *ms) {
  size_t n = 0;
  for (size_t i = 0; i < ms_request_count(ms); i++)
    if (strncmp(ms_request(ms, i)->path, "/api/endpoints?", 15) == 0)
      n++;
  return n;
}

static source_t *paging_source(mini_server_t *ms, int page_size) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("pg");
  conf.url = strdup(ms_url(ms));
  conf.token = strdup("ptr_paging_token");
  conf.page_size = page_size;
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_non_null(s);
  return s;
}

/* Every environment's Docker API answers with an empty list. */
static const ms_route_t lists = {
    .path = "/api/endpoints/", .prefix = true, .body = "[]"};

/* The same page whatever start and limit say, without X-Total-Count (it
 * was asked page after page until the poll's deadline, up to 10,000). */
static void test_repeated_page_stops_paging(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  ms_route_t r[] = {{.path = "/api/endpoints?",
                     .prefix = true,
                     .body = "[{\"Id\":1,\"Name\":\"a\",\"Type\":1},"
                             "{\"Id\":2,\"Name\":\"b\",\"Type\":1}]"},
                    lists};
  assert_int_equal(ms_set_routes(ms, r, 2), 0);
  source_t *s = paging_source(ms, 2);
  for (int poll = 0; poll < 2; poll++) {
    ms_clear_requests(ms);
    assert_int_equal(source_poll(s), 0);
    assert_int_equal(page_requests(ms), 2); /* the second brought nothing */
    assert_int_equal(source_inventory(s)->envs_num, 2);
  }
  /* Said once, not every poll. */
  assert_int_equal(logs_matching("source \"pg\": environment page start=3 "
                                 "(PageSize 2) brought no environment not "
                                 "seen on an earlier page"),
                   1);
  source_free(s);
  ms_stop(ms);
}

/* Malformed entries fill a page: it is full, so the next page is asked
 * (it was taken as the last one, and later environments vanished). */
static void test_malformed_entries_do_not_end_paging(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=3&excludeSnapshots=true",
       .body = "[{\"Id\":1,\"Name\":\"a\",\"Type\":1},"
               "{\"Id\":\"2\",\"Name\":\"string id\",\"Type\":1},"
               "{\"Name\":\"no id\",\"Type\":1}]"},
      {.path = "/api/endpoints?start=4&limit=3&excludeSnapshots=true",
       .body = "[{\"Id\":4,\"Name\":\"d\",\"Type\":1},7,"
               "{\"Id\":5,\"Name\":\"e\",\"Type\":1}]"},
      {.path = "/api/endpoints?start=7&limit=3&excludeSnapshots=true",
       .body = "[{\"Id\":8,\"Name\":\"h\",\"Type\":1}]"},
      lists};
  assert_int_equal(ms_set_routes(ms, r, 4), 0);
  source_t *s = paging_source(ms, 3);
  assert_int_equal(source_poll(s), 0);
  const inventory_t *inv = source_inventory(s);
  assert_int_equal(inv->envs_num, 4);
  assert_non_null(inventory_find(inv, 1));
  assert_non_null(inventory_find(inv, 4));
  assert_non_null(inventory_find(inv, 5));
  assert_non_null(inventory_find(inv, 8));
  assert_int_equal(page_requests(ms), 3);
  assert_int_equal(logs_matching("environment page start=1: 2 of its 3 "
                                 "entries have no usable Id or Name and were "
                                 "skipped"),
                   1);
  /* Once per fault: not again while it lasts... */
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(logs_matching("have no usable Id or Name"), 1);
  /* ...and again after a poll without it. */
  ms_route_t clean[] = {{.path = "/api/endpoints?",
                         .prefix = true,
                         .body = "[{\"Id\":1,\"Name\":\"a\",\"Type\":1}]"},
                        lists};
  assert_int_equal(ms_set_routes(ms, clean, 2), 0);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(ms_set_routes(ms, r, 4), 0);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(logs_matching("have no usable Id or Name"), 2);
  source_free(s);
  ms_stop(ms);
}

/* A full page of nothing but malformed entries brings no id at all: paging
 * stops there, and the log says why. */
static void test_page_of_only_malformed_entries(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=2&excludeSnapshots=true",
       .body = "[{\"Id\":1,\"Name\":\"a\",\"Type\":1},"
               "{\"Id\":2,\"Name\":\"b\",\"Type\":1}]"},
      {.path = "/api/endpoints?start=3&limit=2&excludeSnapshots=true",
       .body = "[null,{\"Id\":3}]"},
      lists};
  assert_int_equal(ms_set_routes(ms, r, 3), 0);
  source_t *s = paging_source(ms, 2);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(source_inventory(s)->envs_num, 2);
  assert_int_equal(page_requests(ms), 2);
  assert_int_equal(logs_matching("start=3: 2 of its 2 entries"), 1);
  assert_int_equal(logs_matching("start=3 (PageSize 2) brought no "
                                 "environment not seen"),
                   1);
  source_free(s);
  ms_stop(ms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_repeated_page_stops_paging),
      cmocka_unit_test(test_malformed_entries_do_not_end_paging),
      cmocka_unit_test(test_page_of_only_malformed_entries),
  };
  http_global_init();
  return cmocka_run_group_tests_name("paging", tests, NULL, NULL);
}
