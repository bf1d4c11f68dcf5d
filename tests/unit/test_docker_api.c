/**
 * test_docker_api.c: Docker Engine API paths and parsers (list, inspect,
 * events, error bodies), against documents captured from a real dockerd
 * (tests/fixtures/) and hand-made hostile ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "docker_api.h"
#include "json_stream_impl.h" /* the helpers every parser relies on */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* Every container the list parser handed out. */
typedef struct {
  container_t **items;
  size_t num, cap;
} list_t;

static void list_cb(void *ud, container_t *c) {
  list_t *l = ud;
  if (l->num == l->cap) {
    l->cap = l->cap == 0 ? 16 : l->cap * 2;
    l->items = realloc(l->items, l->cap * sizeof(*l->items));
    assert_non_null(l->items);
  }
  l->items[l->num++] = c;
}

static void list_clear(list_t *l) {
  for (size_t i = 0; i < l->num; i++)
    container_free(l->items[i]);
  free(l->items);
  memset(l, 0, sizeof(*l));
}

static const container_t *list_find(const list_t *l, const char *name) {
  for (size_t i = 0; i < l->num; i++)
    if (strcmp(l->items[i]->name, name) == 0)
      return l->items[i];
  return NULL;
}

/* The error text must be short and printable. */
static void check_error_text(const char *e) {
  assert_non_null(e);
  size_t n = strlen(e);
  assert_true(n > 0 && n < 128);
  for (size_t i = 0; i < n; i++)
    assert_true(e[i] >= 0x20 && e[i] < 0x7f);
}

/* Feeds doc to js in chunks of chunk bytes (0: at once) and finishes.
 * Returns the finish result (or -1 when a feed failed); frees nothing. */
static int feed_all(json_stream_t *js, const char *doc, size_t len,
                    size_t chunk) {
  if (chunk == 0)
    chunk = len > 0 ? len : 1;
  int rc = 0;
  for (size_t off = 0; off < len && rc == 0; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    rc = json_stream_feed(js, doc + off, n);
  }
  int frc = json_stream_finish(js);
  if (rc != 0) {
    assert_int_equal(frc, -1); /* after an error, finish fails too */
    check_error_text(json_stream_error(js));
    return -1;
  }
  if (frc != 0)
    check_error_text(json_stream_error(js));
  else
    assert_string_equal(json_stream_error(js), "");
  return frc;
}

static int parse_list(const char *doc, size_t len, const char *label,
                      size_t chunk, list_t *out) {
  json_stream_t *js = docker_list_parser_new(label, list_cb, out);
  assert_non_null(js);
  int rc = feed_all(js, doc, len, chunk);
  json_stream_free(js);
  return rc;
}

static int parse_list_str(const char *doc, const char *label, list_t *out) {
  return parse_list(doc, strlen(doc), label, 0, out);
}

static bool str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

static void assert_same_container(const container_t *a, const container_t *b) {
  assert_true(str_eq(a->id, b->id));
  assert_true(str_eq(a->name, b->name));
  assert_true(str_eq(a->image, b->image));
  assert_true(str_eq(a->label, b->label));
  assert_true(str_eq(a->node, b->node));
  assert_true(str_eq(a->status, b->status));
  assert_int_equal(a->state, b->state);
  assert_int_equal(a->list_health_known, b->list_health_known);
  assert_int_equal(a->list_health, b->list_health);
  assert_int_equal(a->list_failing_streak, b->list_failing_streak);
  assert_int_equal(a->inspected, b->inspected);
  assert_int_equal(a->restart_count, b->restart_count);
  assert_int_equal(a->exit_code, b->exit_code);
  assert_int_equal(a->oom_killed, b->oom_killed);
  assert_int_equal(a->started_at, b->started_at);
  assert_int_equal(a->finished_at, b->finished_at);
  assert_int_equal(a->has_healthcheck, b->has_healthcheck);
  assert_int_equal(a->inspect_health, b->inspect_health);
  assert_int_equal(a->failing_streak, b->failing_streak);
  assert_int_equal(a->inspect_state, b->inspect_state);
}

/* Length of doc without its trailing blanks: any shorter prefix is an
 * incomplete document. */
static size_t content_len(const char *doc, size_t len) {
  while (len > 0 && strchr(" \t\r\n", doc[len - 1]) != NULL)
    len--;
  return len;
}

static const char *const list_fixtures[] = {
    "list_all.json",
    "docker_proxy_containers_json_agent_swarm.json",
    "docker_api152_containers_json_item.json",
};

/* ---- paths ------------------------------------------------------------- */

static void test_path_inspect(void **state) {
  (void)state;
  char buf[128];
  assert_int_equal(docker_path_inspect(buf, sizeof(buf), "4bab8c78b5f2"), 0);
  assert_string_equal(buf, "/containers/4bab8c78b5f2/json");
  assert_int_equal(docker_path_inspect(buf, sizeof(buf), "fx_running.1-a"), 0);
  assert_string_equal(buf, "/containers/fx_running.1-a/json");

  static const char *const bad[] = {"",
                                    ".",
                                    "..",
                                    "../x",
                                    "a/b",
                                    "a b",
                                    "a?b",
                                    "a#b",
                                    "a%2f",
                                    "a\nb",
                                    "-rm",
                                    "_x",
                                    "a\"b",
                                    "a&b=c",
                                    "é",
                                    "a\\b",
                                    "x/../../v1.41/info"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    strcpy(buf, "untouched");
    if (docker_path_inspect(buf, sizeof(buf), bad[i]) != -1)
      fail_msg("id \"%s\" was accepted", bad[i]);
    assert_string_equal(buf, ""); /* never a half-built path */
  }
  assert_int_equal(docker_path_inspect(buf, sizeof(buf), NULL), -1);
  assert_int_equal(docker_path_inspect(NULL, 10, "abc"), -1);
  assert_int_equal(docker_path_inspect(buf, 0, "abc"), -1);
  /* "/containers/abc/json" is 20 bytes: 21 fit, 20 do not. */
  assert_int_equal(docker_path_inspect(buf, 21, "abc"), 0);
  assert_int_equal(docker_path_inspect(buf, 20, "abc"), -1);
  assert_string_equal(buf, "");
}

static void test_path_events(void **state) {
  (void)state;
  char buf[256];
  assert_int_equal(docker_path_events(buf, sizeof(buf), 1795306630, 1795306650),
                   0);
  assert_string_equal(buf, "/events?since=1795306630&until=1795306650"
                           "&filters=%7B%22type%22%3A%5B%22container%22%5D%7D");
  assert_int_equal(docker_path_events(buf, sizeof(buf), 0, INT64_MAX), 0);
  assert_non_null(strstr(buf, "until=9223372036854775807&"));
  assert_int_equal(docker_path_events(buf, 20, 1, 2), -1);
  assert_string_equal(buf, "");
  assert_int_equal(docker_path_events(NULL, 20, 1, 2), -1);
  assert_int_equal(docker_path_events(buf, 0, 1, 2), -1);
}

/* ---- container list: fixtures ----------------------------------------- */

typedef struct {
  const char *name;
  container_state_t state;
  const char *status;
  bool health_known;
  container_health_t health;
  const char *label;
} list_expect_t;

static void test_list_fixture_all_states(void **state) {
  (void)state;
  /* Captured from dockerd 20.10 (API 1.41): one container per state. */
  static const list_expect_t want[] = {
      {"fx_oomkilled", CSTATE_EXITED, "Exited (137) 10 seconds ago", false,
       CHEALTH_NONE, NULL},
      {"fx_restarting", CSTATE_RESTARTING, "Restarting (3) 3 seconds ago",
       false, CHEALTH_NONE, NULL},
      {"fx_exited42", CSTATE_EXITED, "Exited (42) 10 seconds ago", false,
       CHEALTH_NONE, NULL},
      {"fx_exited0", CSTATE_EXITED, "Exited (0) 11 seconds ago", false,
       CHEALTH_NONE, NULL},
      {"fx_created", CSTATE_CREATED, "Created", false, CHEALTH_NONE, "dev"},
      {"fx_paused", CSTATE_PAUSED, "Up 11 seconds (Paused)", false,
       CHEALTH_NONE, NULL},
      {"fx_starting", CSTATE_RUNNING, "Up 11 seconds (health: starting)", true,
       CHEALTH_STARTING, NULL},
      {"fx_unhealthy", CSTATE_RUNNING, "Up 11 seconds (unhealthy)", true,
       CHEALTH_UNHEALTHY, NULL},
      {"fx_healthy", CSTATE_RUNNING, "Up 12 seconds (healthy)", true,
       CHEALTH_HEALTHY, NULL},
      {"fx_running", CSTATE_RUNNING, "Up 12 seconds", false, CHEALTH_NONE,
       "ops"},
  };
  size_t len;
  char *doc = read_fixture("list_all.json", &len);
  assert_non_null(doc);
  list_t l = {0};
  assert_int_equal(parse_list(doc, len, "com.example.team", 0, &l), 0);
  assert_int_equal(l.num, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < l.num; i++) {
    const container_t *c = l.items[i];
    const list_expect_t *w = &want[i]; /* in document order */
    assert_string_equal(c->name, w->name);
    assert_int_equal(strlen(c->id), 64);
    assert_string_equal(c->image, "bb");
    assert_int_equal(c->state, w->state);
    assert_string_equal(c->status, w->status);
    assert_int_equal(c->list_health_known, w->health_known);
    assert_int_equal(c->list_health, w->health);
    assert_int_equal(c->list_failing_streak, -1);
    assert_true(str_eq(c->label, w->label));
    assert_null(c->node);
    assert_false(c->inspected);
  }
  assert_string_equal(list_find(&l, "fx_running")->id,
                      "4bab8c78b5f2f3f58c622aa6a6dfbead5af3bff68273b108a5fc62"
                      "acb53024e9");
  list_clear(&l);

  /* Without a label key no label is kept. */
  assert_int_equal(parse_list(doc, len, NULL, 0, &l), 0);
  assert_int_equal(l.num, 10);
  for (size_t i = 0; i < l.num; i++)
    assert_null(l.items[i]->label);
  list_clear(&l);
  free(doc);
}

static void test_list_fixture_agent_swarm(void **state) {
  (void)state;
  size_t len;
  char *doc =
      read_fixture("docker_proxy_containers_json_agent_swarm.json", &len);
  assert_non_null(doc);
  list_t l = {0};
  assert_int_equal(parse_list(doc, len, "com.docker.compose.service", 0, &l),
                   0);
  assert_true(l.num >= 2);
  const container_t *web = list_find(&l, "nginx_web_1");
  assert_non_null(web);
  assert_string_equal(web->node, "swarm-node-1");
  assert_string_equal(web->label, "web");
  assert_string_equal(web->image, "nginx:latest");
  assert_int_equal(web->state, CSTATE_RUNNING);
  assert_true(web->list_health_known);
  assert_int_equal(web->list_health, CHEALTH_HEALTHY);
  const container_t *redis = list_find(&l, "redis_cache_1");
  assert_non_null(redis);
  assert_string_equal(redis->node, "swarm-node-2"); /* beside ResourceControl */
  assert_string_equal(redis->label, "cache");
  assert_int_equal(redis->state, CSTATE_EXITED);
  assert_false(redis->list_health_known);
  for (size_t i = 0; i < l.num; i++)
    assert_non_null(l.items[i]->node);
  list_clear(&l);
  free(doc);
}

static void test_list_fixture_api152_health(void **state) {
  (void)state;
  size_t len;
  char *doc = read_fixture("docker_api152_containers_json_item.json", &len);
  assert_non_null(doc);
  list_t l = {0};
  assert_int_equal(parse_list(doc, len, NULL, 0, &l), 0);
  assert_int_equal(l.num, 1);
  assert_string_equal(l.items[0]->name, "nginx_web_1");
  assert_true(l.items[0]->list_health_known);
  assert_int_equal(l.items[0]->list_health, CHEALTH_HEALTHY);
  assert_int_equal(l.items[0]->list_failing_streak, 0);
  list_clear(&l);
  free(doc);
}

/* ---- container list: hand-made documents ------------------------------ */

static void test_list_health_object(void **state) {
  (void)state;
  list_t l = {0};
  /* The Health object wins over the Status suffix. */
  assert_int_equal(
      parse_list_str("[{\"Id\":\"a1\",\"Status\":\"Up 1 second (healthy)\","
                     "\"Health\":{\"Status\":\"unhealthy\",\"FailingStreak\":4}"
                     "},{\"Id\":\"a2\",\"Status\":\"Up 1 second\",\"Health\":"
                     "{\"Status\":\"none\",\"FailingStreak\":0}},"
                     "{\"Id\":\"a3\",\"Status\":\"Up 1 second (unhealthy)\","
                     "\"Health\":{\"Status\":\"bogus\",\"FailingStreak\":2}},"
                     "{\"Id\":\"a4\",\"Health\":{\"Status\":\"starting\"}},"
                     "{\"Id\":\"a5\",\"Health\":{\"Status\":\"healthy\","
                     "\"FailingStreak\":\"1\"}}]",
                     NULL, &l),
      0);
  assert_int_equal(l.num, 5);
  assert_true(l.items[0]->list_health_known);
  assert_int_equal(l.items[0]->list_health, CHEALTH_UNHEALTHY);
  assert_int_equal(l.items[0]->list_failing_streak, 4);
  assert_true(l.items[1]->list_health_known);
  assert_int_equal(l.items[1]->list_health, CHEALTH_NONE);
  assert_int_equal(l.items[1]->list_failing_streak, 0);
  /* An invalid Health.Status: back to the Status suffix. */
  assert_true(l.items[2]->list_health_known);
  assert_int_equal(l.items[2]->list_health, CHEALTH_UNHEALTHY);
  assert_int_equal(l.items[2]->list_failing_streak, -1);
  assert_int_equal(l.items[3]->list_health, CHEALTH_STARTING);
  assert_int_equal(l.items[3]->list_failing_streak, -1);
  assert_int_equal(l.items[4]->list_health, CHEALTH_HEALTHY);
  assert_int_equal(l.items[4]->list_failing_streak, -1);
  list_clear(&l);
}

static void test_list_missing_fields(void **state) {
  (void)state;
  list_t l = {0};
  assert_int_equal(
      parse_list_str("[{\"Id\":\"0123456789abcdef0123\"},"
                     "{\"Id\":\"short\",\"Names\":[]},"
                     "{\"Names\":[\"/no_id\"],\"State\":\"running\"},"
                     "{\"Id\":\"\",\"Names\":[\"/empty_id\"]},"
                     "{\"Id\":\"nm\",\"Names\":[\"no_slash\",\"/second\"]},"
                     "{\"Id\":\"slash\",\"Names\":[\"/\"]},"
                     "{}]",
                     "x", &l),
      0);
  assert_int_equal(l.num, 4);
  const container_t *c = l.items[0];
  assert_string_equal(c->id, "0123456789abcdef0123");
  assert_string_equal(c->name, "0123456789ab"); /* 12 chars of the Id */
  assert_string_equal(c->image, "");
  assert_string_equal(c->status, "");
  assert_null(c->label);
  assert_null(c->node);
  assert_int_equal(c->state, CSTATE_UNKNOWN);
  assert_false(c->list_health_known);
  assert_int_equal(c->list_failing_streak, -1);
  assert_string_equal(l.items[1]->name, "short");
  assert_string_equal(l.items[2]->name, "no_slash");
  assert_string_equal(l.items[3]->name, "slash"); /* "/" leaves nothing */
  list_clear(&l);
}

static void test_list_state_from_status(void **state) {
  (void)state;
  static const struct {
    const char *status;
    container_state_t state;
  } cases[] = {
      {"Up 8 seconds", CSTATE_RUNNING},
      {"Up 7 seconds (healthy)", CSTATE_RUNNING},
      {"Up 2 seconds (health: starting)", CSTATE_RUNNING},
      {"Up 6 seconds (Paused)", CSTATE_PAUSED},
      {"Exited (42) 6 seconds ago", CSTATE_EXITED},
      {"Restarting (3) 1 second ago", CSTATE_RESTARTING},
      {"Created", CSTATE_CREATED},
      {"Dead", CSTATE_DEAD},
      {"Removal In Progress", CSTATE_REMOVING},
      {"", CSTATE_UNKNOWN},
      {"Upside down", CSTATE_UNKNOWN},
      {"Exit 0", CSTATE_UNKNOWN},
      {"garbage", CSTATE_UNKNOWN},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    /* No State, a State of the wrong type, an unknown State. */
    static const char *const states[] = {"", "\"State\":42,",
                                         "\"State\":[\"running\"],",
                                         "\"State\":\"sleeping\","};
    for (size_t k = 0; k < 4; k++) {
      char doc[256];
      snprintf(doc, sizeof(doc), "[{%s\"Id\":\"x\",\"Status\":\"%s\"}]",
               states[k], cases[i].status);
      list_t l = {0};
      assert_int_equal(parse_list_str(doc, NULL, &l), 0);
      assert_int_equal(l.num, 1);
      if (l.items[0]->state != cases[i].state)
        fail_msg("%s: state %d", doc, l.items[0]->state);
      list_clear(&l);
    }
  }
  /* A valid State wins over Status. */
  list_t l = {0};
  assert_int_equal(parse_list_str("[{\"Id\":\"x\",\"State\":\"dead\","
                                  "\"Status\":\"Up 1 second\"},"
                                  "{\"Id\":\"y\",\"State\":\"removing\"}]",
                                  NULL, &l),
                   0);
  assert_int_equal(l.items[0]->state, CSTATE_DEAD);
  assert_int_equal(l.items[1]->state, CSTATE_REMOVING);
  list_clear(&l);
}

static void test_list_wrong_types(void **state) {
  (void)state;
  list_t l = {0};
  /* Every field with a value of the wrong type: ignored, not stored. */
  static const char doc[] =
      "[{\"Id\":42,\"Names\":[\"/int_id\"]},"
      "{\"Id\":[\"x\"]},"
      "{\"Id\":{\"a\":\"b\"}},"
      "{\"Id\":null},"
      "{\"Id\":\"abcdef0123456789\",\"Names\":\"/str\",\"Image\":7,"
      "\"State\":true,\"Status\":{\"x\":1},\"Labels\":[\"k=v\"],"
      "\"Health\":\"healthy\",\"Portainer\":[{\"Agent\":{\"NodeName\":\"n\"}}]"
      "},"
      "{\"Id\":\"b\",\"Names\":{\"0\":\"/map\"},\"Labels\":{\"k\":5,\"j\":"
      "{\"k\":\"v\"}},\"Portainer\":{\"Agent\":\"n\"},\"Health\":{\"Status\":"
      "1,\"FailingStreak\":3}},"
      "{\"Id\":\"c\",\"Names\":[7,null,{\"a\":\"/x\"},[\"/y\"],\"/first\"],"
      "\"Portainer\":{\"Agent\":{\"NodeName\":9}},\"Labels\":null},"
      "{\"Id\":\"d\",\"Portainer\":{\"Agent\":[{\"NodeName\":\"n\"}]},"
      "\"Labels\":{\"k\":[\"v\"]},\"Health\":[{\"Status\":\"healthy\"}]},"
      "{\"Id\":\"e\",\"Health\":{\"Status\":\"healthy\",\"FailingStreak\":2.5}"
      "},{\"Id\":\"f\",\"Health\":{\"Status\":\"healthy\",\"FailingStreak\":"
      "3.0}},{\"Id\":\"g\",\"Health\":{\"Status\":\"healthy\","
      "\"FailingStreak\":99999999999999999999999}}]";
  assert_int_equal(parse_list_str(doc, "k", &l), 0);
  assert_int_equal(l.num, 7);
  const container_t *a = l.items[0];
  assert_string_equal(a->id, "abcdef0123456789");
  assert_string_equal(a->name, "abcdef012345");
  assert_string_equal(a->image, "");
  assert_string_equal(a->status, "");
  assert_int_equal(a->state, CSTATE_UNKNOWN);
  assert_null(a->label);
  assert_null(a->node);
  assert_false(a->list_health_known);
  const container_t *b = l.items[1];
  assert_string_equal(b->name, "b");
  assert_null(b->label);
  assert_null(b->node);
  assert_false(b->list_health_known);
  const container_t *c = l.items[2];
  assert_string_equal(c->name, "first"); /* the first string */
  assert_null(c->node);
  assert_null(c->label);
  const container_t *d = l.items[3];
  assert_null(d->node);
  assert_null(d->label);
  assert_false(d->list_health_known);
  assert_int_equal(l.items[4]->list_failing_streak, -1); /* 2.5 */
  assert_int_equal(l.items[5]->list_failing_streak, 3);  /* 3.0 */
  assert_int_equal(l.items[6]->list_failing_streak, -1); /* out of range */
  assert_true(l.items[6]->list_health_known);
  list_clear(&l);
}

static void test_list_not_an_array(void **state) {
  (void)state;
  static const char *const docs[] = {
      "{\"Id\":\"x\"}",
      "\"x\"",
      "42",
      "null",
      "true",
      "",
      "   \n",
      "[{\"Id\":\"x\"}",
      "[{\"Id\":\"x\"}]]",
      "[{\"Id\":\"x\"}] [",
      "[{\"Id\":\"x\",}]",
      "[{'Id':'x'}]",
      "<html>\x01\x02\xff</html>",
      "[{\"Id\":\"x\"}] {}",
      "[\"\x01\"]",
      "[01]",
      "[1.]",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    list_t l = {0};
    if (parse_list_str(docs[i], NULL, &l) != -1)
      fail_msg("document %zu was accepted", i);
    list_clear(&l);
  }
  /* Items that are not objects are skipped. */
  list_t l = {0};
  assert_int_equal(
      parse_list_str(" [1, \"x\", null, true, [], [{\"Id\":\"in_array\"}], "
                     "{\"Id\":\"ok\"}, -2.5e3] \n",
                     NULL, &l),
      0);
  assert_int_equal(l.num, 1);
  assert_string_equal(l.items[0]->id, "ok");
  list_clear(&l);
  assert_int_equal(parse_list_str("[]", NULL, &l), 0);
  assert_int_equal(l.num, 0);
}

static void test_list_duplicates_last_wins(void **state) {
  (void)state;
  list_t l = {0};
  assert_int_equal(
      parse_list_str("[{\"Id\":\"one\",\"Id\":\"two\",\"Image\":\"i1\","
                     "\"Image\":\"i2\",\"Labels\":{\"k\":\"v1\",\"k\":\"v2\"},"
                     "\"Names\":[\"/n1\"],\"Names\":[\"/n2\"]}]",
                     "k", &l),
      0);
  assert_int_equal(l.num, 1);
  assert_string_equal(l.items[0]->id, "two");
  assert_string_equal(l.items[0]->image, "i2");
  assert_string_equal(l.items[0]->label, "v2");
  assert_string_equal(l.items[0]->name, "n2");
  list_clear(&l);
}

static void test_list_labels(void **state) {
  (void)state;
  list_t l = {0};
  /* Only the configured label; keys elsewhere with its name don't count. */
  assert_int_equal(
      parse_list_str("[{\"Id\":\"a\",\"team\":\"top\",\"Labels\":{\"other\":"
                     "\"o\",\"team\":\"ops\",\"teamx\":\"no\"}},"
                     "{\"Id\":\"b\",\"Config\":{\"Labels\":{\"team\":\"no\"}}},"
                     "{\"Id\":\"c\",\"Labels\":{\"team\":\"\"}},"
                     "{\"Id\":\"d\",\"Labels\":{}}]",
                     "team", &l),
      0);
  assert_int_equal(l.num, 4);
  assert_string_equal(l.items[0]->label, "ops");
  assert_null(l.items[1]->label);
  assert_string_equal(l.items[2]->label, "");
  assert_null(l.items[3]->label);
  list_clear(&l);
}

static void test_list_long_strings(void **state) {
  (void)state;
  /* 10000 bytes of name, and an image whose cut falls inside a UTF-8 char. */
  size_t big = 10000;
  char *doc = malloc(2 * big + 256);
  assert_non_null(doc);
  char *p = doc;
  p += sprintf(p, "[{\"Id\":\"x\",\"Names\":[\"/");
  memset(p, 'n', big);
  p += big;
  p += sprintf(p, "\"],\"Image\":\"");
  memset(p, 'i', JSON_MAX_STRING - 1);
  p += JSON_MAX_STRING - 1;
  p += sprintf(p, "\xc3\xa9tail\",\"Status\":\"");
  memset(p, 's', JSON_MAX_STRING - 2);
  p += JSON_MAX_STRING - 2;
  p += sprintf(p, "\xe2\x82\xac\"}]"); /* a 3-byte char across the limit */
  list_t l = {0};
  assert_int_equal(parse_list(doc, (size_t)(p - doc), NULL, 0, &l), 0);
  assert_int_equal(l.num, 1);
  const container_t *c = l.items[0];
  assert_int_equal(strlen(c->name), JSON_MAX_STRING); /* cut after the '/' */
  assert_int_equal(strlen(c->image), JSON_MAX_STRING - 1);
  assert_int_equal(strlen(c->status), JSON_MAX_STRING - 2);
  list_clear(&l);
  /* One byte at a time: the same. */
  assert_int_equal(parse_list(doc, (size_t)(p - doc), NULL, 1, &l), 0);
  assert_int_equal(strlen(l.items[0]->image), JSON_MAX_STRING - 1);
  list_clear(&l);
  free(doc);
}

static void test_list_bytes_pass_through(void **state) {
  (void)state;
  list_t l = {0};
  /* Invalid UTF-8, escaped control characters and NULs: no crash, kept. */
  static const char doc[] =
      "[{\"Id\":\"x\",\"Names\":[\"/bad\xff\xfe\xc3\"],\"Image\":"
      "\"a\\u0001b\\n\\t\\u001f\\u007f\",\"Labels\":{\"k\":\"\\u0000v\"},"
      "\"Status\":\"\\ud800\\udc00 \\ud800 x\\ud800\"}]";
  assert_int_equal(parse_list(doc, sizeof(doc) - 1, "k", 0, &l), 0);
  assert_int_equal(l.num, 1);
  assert_string_equal(l.items[0]->name, "bad\xff\xfe\xc3");
  assert_string_equal(l.items[0]->image, "a\x01"
                                         "b\n\t\x1f\x7f");
  assert_string_equal(l.items[0]->label, ""); /* stops at the NUL */
  list_clear(&l);
  /* A NUL in the Id: the C string is empty, the item is skipped. */
  assert_int_equal(parse_list_str("[{\"Id\":\"\\u0000abc\"}]", NULL, &l), 0);
  assert_int_equal(l.num, 0);
  /* Raw control characters inside a string are not JSON. */
  assert_int_equal(parse_list_str("[{\"Id\":\"a\x01\"}]", NULL, &l), -1);
  list_clear(&l);
}

/* ---- every parser: nesting, truncation, chunking ----------------------- */

static json_stream_t *new_list(void *ud) {
  return docker_list_parser_new("com.example.team", list_cb, ud);
}

static void ignore_event(void *ud, const docker_event_t *ev) {
  (void)ev;
  (*(size_t *)ud)++;
}

static void test_deep_nesting(void **state) {
  (void)state;
  size_t n = 100000;
  char *doc = malloc(6 * n + 64);
  assert_non_null(doc);
  /* 100k levels: at the top, inside a skipped member of the list, and in an
   * inspect document. */
  for (int variant = 0; variant < 3; variant++) {
    char *p = doc;
    if (variant == 1)
      p += sprintf(p, "[{\"Id\":\"x\",\"Ports\":");
    if (variant == 2)
      p += sprintf(p, "{\"State\":{\"Health\":");
    for (size_t i = 0; i < n; i++) {
      if (variant == 1) {
        memcpy(p, "{\"a\":", 5);
        p += 5;
      } else {
        *p++ = '[';
      }
    }
    size_t len = (size_t)(p - doc);
    list_t l = {0};
    container_t *c = container_new();
    assert_non_null(c);
    json_stream_t *js =
        variant == 2 ? docker_inspect_parser_new(c) : new_list(&l);
    assert_non_null(js);
    assert_int_equal(json_stream_feed(js, doc, len), -1);
    assert_string_equal(json_stream_error(js), "nesting deeper than 64 levels");
    assert_int_equal(json_stream_feed(js, "]", 1), -1); /* no-op */
    assert_int_equal(json_stream_finish(js), -1);
    assert_string_equal(json_stream_error(js), "nesting deeper than 64 levels");
    json_stream_free(js);
    assert_false(c->inspected);
    container_free(c);
    list_clear(&l);
  }
  free(doc);

  /* 64 levels are fine, 65 are not. */
  for (int extra = 0; extra <= 1; extra++) {
    char buf[512];
    char *p = buf;
    p += sprintf(p, "[{\"Id\":\"x\",\"Ports\":");
    int inner = 62 + extra; /* + the array and the item */
    for (int i = 0; i < inner; i++)
      *p++ = '[';
    for (int i = 0; i < inner; i++)
      *p++ = ']';
    p += sprintf(p, "}]");
    list_t l = {0};
    int rc = parse_list(buf, (size_t)(p - buf), NULL, 0, &l);
    assert_int_equal(rc, extra ? -1 : 0);
    assert_int_equal(l.num, extra ? 0 : 1);
    list_clear(&l);
  }
}

static void test_list_chunked_equals_whole(void **state) {
  (void)state;
  for (size_t f = 0; f < sizeof(list_fixtures) / sizeof(list_fixtures[0]);
       f++) {
    size_t len;
    char *doc = read_fixture(list_fixtures[f], &len);
    assert_non_null(doc);
    list_t whole = {0};
    assert_int_equal(parse_list(doc, len, "com.example.team", 0, &whole), 0);
    assert_true(whole.num > 0);
    static const size_t chunks[] = {1, 2, 3, 7, 64, 1000};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
      list_t part = {0};
      assert_int_equal(
          parse_list(doc, len, "com.example.team", chunks[k], &part), 0);
      assert_int_equal(part.num, whole.num);
      for (size_t i = 0; i < whole.num; i++)
        assert_same_container(part.items[i], whole.items[i]);
      list_clear(&part);
    }
    list_clear(&whole);
    free(doc);
  }
}

static void test_list_truncated(void **state) {
  (void)state;
  for (size_t f = 0; f < sizeof(list_fixtures) / sizeof(list_fixtures[0]);
       f++) {
    size_t len;
    char *doc = read_fixture(list_fixtures[f], &len);
    assert_non_null(doc);
    size_t full = content_len(doc, len);
    for (size_t cut = 0; cut < full; cut += 1 + cut / 64) {
      list_t l = {0};
      if (parse_list(doc, cut, NULL, 0, &l) != -1)
        fail_msg("%s cut at %zu was accepted", list_fixtures[f], cut);
      list_clear(&l);
    }
    free(doc);
  }
}

/* ---- inspect ----------------------------------------------------------- */

typedef struct {
  const char *fixture;
  int64_t restart_count;
  int64_t exit_code;
  bool oom_killed;
  int64_t started_at;
  int64_t finished_at;
  bool has_healthcheck;
  container_health_t health;
  int64_t failing_streak;
  container_state_t state;
} inspect_expect_t;

/* Captured from dockerd 20.10 (see tests/fixtures/inspect_*.json). */
static const inspect_expect_t inspect_cases[] = {
    {"created", 0, 0, false, 0, 0, false, CHEALTH_NONE, 0, CSTATE_CREATED},
    {"exited0", 0, 0, false, 1795306636, 1795306636, false, CHEALTH_NONE, 0,
     CSTATE_EXITED},
    {"exited42", 0, 42, false, 1795306637, 1795306637, false, CHEALTH_NONE, 0,
     CSTATE_EXITED},
    {"healthy", 0, 0, false, 1795306635, 0, true, CHEALTH_HEALTHY, 0,
     CSTATE_RUNNING},
    {"oomkilled", 0, 137, true, 1795306637, 1795306637, false, CHEALTH_NONE, 0,
     CSTATE_EXITED},
    {"paused", 0, 0, false, 1795306636, 0, false, CHEALTH_NONE, 0,
     CSTATE_PAUSED},
    {"restarting", 7, 3, false, 1795306644, 1795306644, false, CHEALTH_NONE, 0,
     CSTATE_RESTARTING},
    {"running", 0, 0, false, 1795306635, 0, false, CHEALTH_NONE, 0,
     CSTATE_RUNNING},
    {"starting", 0, 0, false, 1795306636, 0, true, CHEALTH_STARTING, 0,
     CSTATE_RUNNING},
    {"unhealthy", 0, 0, false, 1795306636, 0, true, CHEALTH_UNHEALTHY, 13,
     CSTATE_RUNNING},
};

static int parse_inspect(const char *doc, size_t len, size_t chunk,
                         container_t *c) {
  json_stream_t *js = docker_inspect_parser_new(c);
  assert_non_null(js);
  int rc = feed_all(js, doc, len, chunk);
  json_stream_free(js);
  return rc;
}

static char *inspect_fixture(const char *name, size_t *len) {
  char file[64];
  snprintf(file, sizeof(file), "inspect_%s.json", name);
  char *doc = read_fixture(file, len);
  assert_non_null(doc);
  return doc;
}

static void test_inspect_fixtures(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(inspect_cases) / sizeof(inspect_cases[0]);
       i++) {
    const inspect_expect_t *w = &inspect_cases[i];
    size_t len;
    char *doc = inspect_fixture(w->fixture, &len);
    container_t *c = container_new();
    assert_non_null(c);
    assert_int_equal(parse_inspect(doc, len, 0, c), 0);
    assert_true(c->inspected);
    assert_int_equal(c->restart_count, w->restart_count);
    assert_int_equal(c->exit_code, w->exit_code);
    assert_int_equal(c->oom_killed, w->oom_killed);
    assert_int_equal(c->started_at, w->started_at);
    assert_int_equal(c->finished_at, w->finished_at);
    assert_int_equal(c->has_healthcheck, w->has_healthcheck);
    assert_int_equal(c->inspect_health, w->health);
    assert_int_equal(c->failing_streak, w->failing_streak);
    assert_int_equal(c->inspect_state, w->state);
    /* The list fields are not touched. */
    assert_null(c->id);
    assert_int_equal(c->state, CSTATE_UNKNOWN);

    /* One byte at a time and in odd chunks: the same. */
    static const size_t chunks[] = {1, 5, 333};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
      container_t *c2 = container_new();
      assert_non_null(c2);
      assert_int_equal(parse_inspect(doc, len, chunks[k], c2), 0);
      assert_same_container(c2, c);
      container_free(c2);
    }
    container_free(c);
    free(doc);
  }
}

static void test_inspect_truncated_keeps_container(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(inspect_cases) / sizeof(inspect_cases[0]);
       i++) {
    size_t len;
    char *doc = inspect_fixture(inspect_cases[i].fixture, &len);
    size_t full = content_len(doc, len);
    for (size_t cut = 0; cut < full; cut += 1 + cut / 128) {
      container_t *c = container_new();
      assert_non_null(c);
      c->restart_count = 99; /* a previous inspect's values survive */
      c->inspect_state = CSTATE_DEAD;
      if (parse_inspect(doc, cut, 0, c) != -1)
        fail_msg("%s cut at %zu was accepted", inspect_cases[i].fixture, cut);
      assert_false(c->inspected);
      assert_int_equal(c->restart_count, 99);
      assert_int_equal(c->inspect_state, CSTATE_DEAD);
      container_free(c);
    }
    free(doc);
  }
}

/* doc with a valid RestartCount, State.ExitCode and State.OOMKilled put in
 * front of its own (which, when valid, win): the inspect parser refuses a
 * document without them, and these cases test the other fields.  NULL when
 * doc has no top-level State object. */
static char *with_required(const char *doc) {
  size_t len = strlen(doc);
  int depth = 0;
  bool in_str = false;
  if (len == 0 || doc[0] != '{')
    return NULL;
  for (size_t i = 0; i < len; i++) {
    char ch = doc[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = false;
      continue;
    }
    if (ch == '"') {
      if (depth == 1 && strncmp(doc + i, "\"State\":{", 9) == 0) {
        char *out = malloc(len + 64);
        assert_non_null(out);
        bool empty = doc[i + 9] == '}';
        snprintf(out, len + 64,
                 "{\"RestartCount\":0,%.*s"
                 "\"ExitCode\":0,\"OOMKilled\":false%s%s",
                 (int)(i + 9 - 1), doc + 1, empty ? "" : ",", doc + i + 9);
        return out;
      }
      in_str = true;
    } else if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  return NULL;
}

static void test_inspect_requires_reported_fields(void **state) {
  (void)state;
  static const char *bad[] = {
      "{\"State\":{\"ExitCode\":0,\"OOMKilled\":false}}",
      "{\"RestartCount\":\"7\",\"State\":{\"ExitCode\":0,"
      "\"OOMKilled\":false}}",
      "{\"RestartCount\":2.5,\"State\":{\"ExitCode\":0,\"OOMKilled\":false}}",
      "{\"RestartCount\":1,\"State\":{\"ExitCode\":\"3\",\"OOMKilled\":false}}",
      "{\"RestartCount\":1,\"State\":{\"ExitCode\":3,\"OOMKilled\":\"true\"}}",
      "{\"RestartCount\":1,\"State\":{\"ExitCode\":3}}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    container_t *c = container_new();
    assert_non_null(c);
    if (parse_inspect(bad[i], strlen(bad[i]), 0, c) != -1)
      fail_msg("accepted: %s", bad[i]);
    assert_false(c->inspected);
    container_free(c);
  }
  const char *good =
      "{\"RestartCount\":4,\"State\":{\"ExitCode\":3,\"OOMKilled\":true}}";
  container_t *c = container_new();
  assert_int_equal(parse_inspect(good, strlen(good), 0, c), 0);
  assert_true(c->inspected);
  assert_int_equal(c->restart_count, 4);
  assert_int_equal(c->exit_code, 3);
  assert_true(c->oom_killed);
  container_free(c);
}

static void test_inspect_wrong_types(void **state) {
  (void)state;
  static const struct {
    const char *doc;
    int rc;
    int64_t restart_count, exit_code;
    bool oom, hc;
    container_health_t health;
    int64_t streak, started;
    container_state_t st;
  } cases[] = {
      /* Integers given as doubles are accepted, strings are not. */
      {"{\"RestartCount\":3.0,\"State\":{\"ExitCode\":1e2}}", 0, 3, 100, false,
       false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"RestartCount\":\"3\",\"State\":{\"ExitCode\":\"1\"}}", 0, 0, 0,
       false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"RestartCount\":3.5,\"State\":{\"ExitCode\":-1.5}}", 0, 0, 0, false,
       false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      /* A negative count is not a count (the prefix's 0 stays). */
      {"{\"RestartCount\":-2,\"State\":{\"ExitCode\":-1}}", 0, 0, -1, false,
       false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"RestartCount\":99999999999999999999,\"State\":{}}", 0, 0, 0, false,
       false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"RestartCount\":9223372036854775807,\"State\":{\"ExitCode\":"
       "-9223372036854775808}}",
       0, INT64_MAX, INT64_MIN, false, false, CHEALTH_NONE, 0, 0,
       CSTATE_UNKNOWN},
      {"{\"RestartCount\":[1],\"State\":{\"OOMKilled\":\"true\"}}", 0, 0, 0,
       false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"OOMKilled\":1,\"Status\":5,\"StartedAt\":1420559252}}", 0,
       0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"OOMKilled\":true,\"Status\":\"dead\",\"StartedAt\":"
       "\"2015-01-06T15:47:32Z\"}}",
       0, 0, 0, true, false, CHEALTH_NONE, 0, 1420559252, CSTATE_DEAD},
      {"{\"State\":{\"Status\":\"removing\",\"StartedAt\":\"yesterday\"}}", 0,
       0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_REMOVING},
      {"{\"State\":{\"Health\":\"healthy\"}}", 0, 0, 0, false, false,
       CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"Health\":{\"Status\":\"bogus\",\"FailingStreak\":3}}}", 0,
       0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"Health\":{\"Status\":\"\",\"FailingStreak\":0,\"Log\":"
       "null}}}",
       0, 0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"Health\":{\"Status\":\"unhealthy\",\"FailingStreak\":"
       "\"3\"}}}",
       0, 0, 0, false, true, CHEALTH_UNHEALTHY, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"Health\":{\"FailingStreak\":4.0,\"Status\":"
       "\"unhealthy\"}}}",
       0, 0, 0, false, true, CHEALTH_UNHEALTHY, 4, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"Health\":{\"Status\":\"none\"}}}", 0, 0, 0, false, true,
       CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":{\"Health\":[{\"Status\":\"healthy\"}]}}", 0, 0, 0, false,
       false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      /* Same names elsewhere do not count. */
      {"{\"Config\":{\"State\":{\"Status\":\"dead\"},\"RestartCount\":5},"
       "\"State\":{\"RestartCount\":6,\"Status\":\"running\",\"X\":{"
       "\"Health\":{\"Status\":\"healthy\"}}},\"Health\":{\"Status\":"
       "\"healthy\"},\"ExitCode\":4}",
       0, 0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_RUNNING},
      /* No State object: not an inspect document. */
      {"{}", -1, 0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"RestartCount\":1,\"State\":\"running\"}", -1, 0, 0, false, false,
       CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"State\":null}", -1, 0, 0, false, false, CHEALTH_NONE, 0, 0,
       CSTATE_UNKNOWN},
      {"[{\"State\":{}}]", -1, 0, 0, false, false, CHEALTH_NONE, 0, 0,
       CSTATE_UNKNOWN},
      {"\"State\"", -1, 0, 0, false, false, CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
      {"{\"message\":\"No such container: x\"}", -1, 0, 0, false, false,
       CHEALTH_NONE, 0, 0, CSTATE_UNKNOWN},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    container_t *c = container_new();
    assert_non_null(c);
    char *doc = cases[i].rc == 0 ? with_required(cases[i].doc) : NULL;
    const char *d = doc != NULL ? doc : cases[i].doc;
    int rc = parse_inspect(d, strlen(d), 0, c);
    free(doc);
    if (rc != cases[i].rc)
      fail_msg("case %zu: rc %d", i, rc);
    assert_int_equal(c->inspected, rc == 0);
    if (c->restart_count != cases[i].restart_count ||
        c->exit_code != cases[i].exit_code || c->oom_killed != cases[i].oom ||
        c->has_healthcheck != cases[i].hc ||
        c->inspect_health != cases[i].health ||
        c->failing_streak != cases[i].streak ||
        c->started_at != cases[i].started || c->inspect_state != cases[i].st)
      fail_msg("case %zu: %s", i, cases[i].doc);
    container_free(c);
  }
}

static void test_inspect_reused_container(void **state) {
  (void)state;
  /* A container inspected again gets the new values, not a mix. */
  container_t *c = container_new();
  assert_non_null(c);
  size_t len;
  char *doc = inspect_fixture("unhealthy", &len);
  assert_int_equal(parse_inspect(doc, len, 0, c), 0);
  assert_true(c->has_healthcheck);
  assert_int_equal(c->failing_streak, 13);
  free(doc);
  doc = inspect_fixture("restarting", &len);
  assert_int_equal(parse_inspect(doc, len, 0, c), 0);
  assert_false(c->has_healthcheck);
  assert_int_equal(c->inspect_health, CHEALTH_NONE);
  assert_int_equal(c->failing_streak, 0);
  assert_int_equal(c->restart_count, 7);
  free(doc);
  container_free(c);
  /* A parser freed without finishing changes nothing. */
  c = container_new();
  assert_non_null(c);
  json_stream_t *js = docker_inspect_parser_new(c);
  assert_non_null(js);
  assert_int_equal(json_stream_feed(js, "{\"State\":{}}", 12), 0);
  json_stream_free(js);
  assert_false(c->inspected);
  container_free(c);
  assert_null(docker_inspect_parser_new(NULL));
}

/* ---- events ------------------------------------------------------------ */

#define MAX_EVENTS 512

typedef struct {
  size_t num;
  char id[MAX_EVENTS][72];
  char action[MAX_EVENTS][64];
  int64_t time_nano[MAX_EVENTS];
} events_t;

static void event_cb(void *ud, const docker_event_t *ev) {
  events_t *e = ud;
  assert_non_null(ev->id);
  assert_non_null(ev->action);
  assert_true(e->num < MAX_EVENTS);
  snprintf(e->id[e->num], sizeof(e->id[0]), "%s", ev->id);
  snprintf(e->action[e->num], sizeof(e->action[0]), "%s", ev->action);
  e->time_nano[e->num] = ev->time_nano;
  e->num++;
}

static int parse_events(const char *doc, size_t len, size_t chunk,
                        events_t *e) {
  memset(e, 0, sizeof(*e));
  json_stream_t *js = docker_events_parser_new(event_cb, e);
  assert_non_null(js);
  int rc = feed_all(js, doc, len, chunk);
  json_stream_free(js);
  return rc;
}

static void assert_same_events(const events_t *a, const events_t *b) {
  assert_int_equal(a->num, b->num);
  for (size_t i = 0; i < a->num; i++) {
    assert_string_equal(a->id[i], b->id[i]);
    assert_string_equal(a->action[i], b->action[i]);
    assert_int_equal(a->time_nano[i], b->time_nano[i]);
  }
}

static size_t count_action(const events_t *e, const char *action) {
  size_t n = 0;
  for (size_t i = 0; i < e->num; i++)
    n += strcmp(e->action[i], action) == 0;
  return n;
}

static void test_events_fixture(void **state) {
  (void)state;
  size_t len;
  char *doc = read_fixture("events.json", &len);
  assert_non_null(doc);
  events_t *e = malloc(sizeof(*e)), *e2 = malloc(sizeof(*e2));
  assert_non_null(e);
  assert_non_null(e2);
  assert_int_equal(parse_events(doc, len, 0, e), 0);
  /* 117 container events; the 25 network ones are left out. */
  assert_int_equal(e->num, 117);
  assert_int_equal(count_action(e, "create"), 10);
  assert_int_equal(count_action(e, "start"), 15);
  assert_int_equal(count_action(e, "die"), 10);
  assert_int_equal(count_action(e, "pause"), 1);
  assert_int_equal(count_action(e, "oom"), 1);
  assert_int_equal(count_action(e, "health_status: healthy"), 1);
  assert_int_equal(count_action(e, "health_status: unhealthy"), 1);
  assert_int_equal(count_action(e, "exec_die"), 26);
  assert_string_equal(e->id[0], "4bab8c78b5f2f3f58c622aa6a6dfbead5af3bff68273b"
                                "108a5fc62acb53024e9");
  assert_string_equal(e->action[0], "create");
  assert_int_equal(e->time_nano[0], 1795306635483556296LL);
  for (size_t i = 0; i < e->num; i++) {
    assert_int_equal(strlen(e->id[i]), 64);
    assert_true(e->time_nano[i] >= 1795306635000000000LL);
    if (i > 0)
      assert_true(e->time_nano[i] >= e->time_nano[i - 1]);
  }

  /* Split anywhere: the same events. */
  static const size_t chunks[] = {1, 2, 13, 100, 4096};
  for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
    assert_int_equal(parse_events(doc, len, chunks[k], e2), 0);
    assert_same_events(e2, e);
  }
  /* Every two-feed split of the first events. */
  size_t head = 0;
  for (int lines = 0; lines < 4; lines++)
    head = (size_t)(strchr(doc + head, '\n') - doc) + 1;
  events_t *ref = malloc(sizeof(*ref));
  assert_non_null(ref);
  assert_int_equal(parse_events(doc, head, 0, ref), 0);
  assert_int_equal(ref->num, 3);
  for (size_t cut = 0; cut <= head; cut++) {
    memset(e2, 0, sizeof(*e2));
    json_stream_t *js = docker_events_parser_new(event_cb, e2);
    assert_non_null(js);
    assert_int_equal(json_stream_feed(js, doc, cut), 0);
    assert_int_equal(json_stream_feed(js, doc + cut, head - cut), 0);
    assert_int_equal(json_stream_finish(js), 0);
    json_stream_free(js);
    assert_same_events(e2, ref);
  }
  /* Cut inside an event: the events before it are delivered, then the
   * stream fails at finish. */
  for (size_t cut = 1; cut < head - 1; cut += 7) {
    if (doc[cut - 1] == '\n' || doc[cut] == '\n')
      continue; /* a clean boundary */
    int rc = parse_events(doc, cut, 0, e2);
    assert_int_equal(rc, -1);
    assert_true(e2->num < 3);
  }
  free(ref);
  free(e);
  free(e2);
  free(doc);
}

static void test_events_formats(void **state) {
  (void)state;
  events_t *e = malloc(sizeof(*e));
  assert_non_null(e);
  static const char doc[] =
      /* Old API: no Type, status/id/time. */
      "{\"status\":\"die\",\"id\":\"old1\",\"from\":\"img\",\"time\":"
      "1400000000}"
      /* Old API, not a container event shape (no status): skipped. */
      "{\"id\":\"old2\",\"time\":1}\n"
      /* New API: Actor.ID and Action win over id and status. */
      "{\"status\":\"start\",\"id\":\"legacy\",\"Type\":\"container\","
      "\"Action\":\"health_status: healthy\",\"Actor\":{\"ID\":\"new1\","
      "\"Attributes\":{\"ID\":\"no\",\"name\":\"x\"}},\"time\":1,\"timeNano\":"
      "1500000000123456789}\n"
      /* Other types are skipped. */
      "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n\"}}"
      "{\"Type\":\"image\",\"status\":\"pull\",\"id\":\"busybox\"}"
      /* Values that are not objects are ignored. */
      " 1 \"x\" null [ "
      "{\"Type\":\"container\",\"Action\":\"die\",\"id\":\"a\"} ]"
      " true\n"
      /* No id, or no action: skipped. */
      "{\"Type\":\"container\",\"Action\":\"die\"}"
      "{\"Type\":\"container\",\"Actor\":{\"ID\":\"x\"}}"
      /* Wrong types: Type 5 counts as absent; Actor not an object. */
      "{\"Type\":5,\"status\":\"kill\",\"id\":\"t5\",\"timeNano\":1.5e18}"
      "{\"Type\":\"container\",\"Action\":\"stop\",\"id\":\"a2\",\"Actor\":"
      "\"x\",\"time\":\"1\",\"timeNano\":\"2\"}"
      "{\"Type\":\"container\",\"Action\":\"stop\",\"id\":\"a3\",\"Actor\":{"
      "\"ID\":7},\"time\":99999999999}"
      "{\"Type\":\"container\",\"Action\":\"kill\",\"Actor\":{\"ID\":\"a4\"},"
      "\"time\":-5}";
  assert_int_equal(parse_events(doc, sizeof(doc) - 1, 0, e), 0);
  assert_int_equal(e->num, 6);
  assert_string_equal(e->id[0], "old1");
  assert_string_equal(e->action[0], "die");
  assert_int_equal(e->time_nano[0], 1400000000000000000LL);
  assert_string_equal(e->id[1], "new1");
  assert_string_equal(e->action[1], "health_status: healthy");
  assert_int_equal(e->time_nano[1], 1500000000123456789LL);
  assert_string_equal(e->id[2], "t5");
  assert_string_equal(e->action[2], "kill");
  assert_int_equal(e->time_nano[2], 1500000000000000000LL);
  assert_string_equal(e->id[3], "a2");
  assert_int_equal(e->time_nano[3], 0);
  assert_string_equal(e->id[4], "a3");
  assert_int_equal(e->time_nano[4], 0); /* time * 1e9 would overflow */
  assert_string_equal(e->id[5], "a4");
  assert_int_equal(e->time_nano[5], -5000000000LL);

  /* Empty streams are fine; garbage is not. */
  assert_int_equal(parse_events("", 0, 0, e), 0);
  assert_int_equal(e->num, 0);
  assert_int_equal(parse_events(" \n\r\n", 4, 0, e), 0);
  assert_int_equal(parse_events("{\"Type\":", 9, 0, e), -1);
  assert_int_equal(parse_events("{}}", 3, 0, e), -1);
  assert_int_equal(parse_events("<html>", 6, 0, e), -1);
  free(e);
}

/* ---- stream behaviour -------------------------------------------------- */

static void test_stream_api(void **state) {
  (void)state;
  list_t l = {0};
  json_stream_t *js = new_list(&l);
  assert_non_null(js);
  assert_string_equal(json_stream_error(js), "");
  assert_int_equal(json_stream_feed(js, "", 0), 0);
  assert_int_equal(json_stream_feed(js, "[{\"Id\":\"a\"}", 11), 0);
  assert_int_equal(l.num, 1); /* handed out when its object closes */
  assert_int_equal(json_stream_feed(js, "]", 1), 0);
  assert_int_equal(json_stream_finish(js), 0);
  assert_int_equal(json_stream_finish(js), 0); /* twice: same answer */
  assert_int_equal(json_stream_feed(js, " ", 1), -1);
  check_error_text(json_stream_error(js));
  json_stream_free(js);
  list_clear(&l);

  /* Garbage: a short printable error, no document bytes. */
  js = new_list(&l);
  assert_non_null(js);
  static const char junk[] = "[{\"Id\":\"x\"} \x01\xff\xfe SECRETSECRET";
  assert_int_equal(json_stream_feed(js, junk, sizeof(junk) - 1), -1);
  check_error_text(json_stream_error(js));
  assert_null(strstr(json_stream_error(js), "SECRET"));
  assert_int_equal(json_stream_feed(js, "]", 1), -1);
  assert_int_equal(json_stream_finish(js), -1);
  json_stream_free(js);
  list_clear(&l);

  /* Truncated: the error comes at finish. */
  js = new_list(&l);
  assert_non_null(js);
  assert_int_equal(json_stream_feed(js, "[{\"Id\":\"x\"", 10), 0);
  assert_int_equal(json_stream_finish(js), -1);
  check_error_text(json_stream_error(js));
  json_stream_free(js);
  list_clear(&l);

  /* NULLs. */
  assert_int_equal(json_stream_feed(NULL, "x", 1), -1);
  assert_int_equal(json_stream_finish(NULL), -1);
  assert_string_equal(json_stream_error(NULL), "");
  json_stream_free(NULL);
  assert_null(docker_list_parser_new(NULL, NULL, NULL));
  assert_null(docker_events_parser_new(NULL, NULL));
  js = new_list(&l);
  assert_int_equal(json_stream_feed(js, NULL, 3), -1);
  json_stream_free(js);

  /* Freed half-way: the pending item is released (checked by ASan). */
  js = new_list(&l);
  static const char half[] = "[{\"Id\":\"x\",\"Names\":[\"/a\"";
  assert_int_equal(json_stream_feed(js, half, strlen(half)), 0);
  json_stream_free(js);
  assert_int_equal(l.num, 0);
  size_t n = 0;
  js = docker_events_parser_new(ignore_event, &n);
  static const char half_ev[] = "{\"Type\":\"container\",\"id\":\"x\"";
  assert_int_equal(json_stream_feed(js, half_ev, strlen(half_ev)), 0);
  json_stream_free(js);
  assert_int_equal(n, 0);
}

/* ---- error bodies ------------------------------------------------------ */

static void test_api_error_parse(void **state) {
  (void)state;
  api_error_t e;
  size_t len;
  char *doc = read_fixture("error_404.json", &len);
  assert_non_null(doc);
  api_error_parse(doc, len, &e);
  assert_string_equal(e.message, "No such container: nosuch");
  assert_null(e.details);
  api_error_free(&e);
  free(doc);

  static const struct {
    const char *body;
    const char *message, *details; /* NULL: none */
  } cases[] = {
      {"{\"message\":\"Invalid credentials\",\"details\":\"Unauthorized\"}",
       "Invalid credentials", "Unauthorized"},
      {"{\"message\":\"Unable to get the active tunnel\",\"details\":"
       "\"Unable to open the tunnel\"}\n",
       "Unable to get the active tunnel", "Unable to open the tunnel"},
      {"{\"details\":\"only details\"}", NULL, "only details"},
      {"{\"message\":\"m\",\"details\":\"\"}", "m", NULL},
      {"{\"message\":\"same\",\"details\":\"same\"}", "same", NULL},
      {"{\"err\":\"old style\",\"details\":\"d\"}", "old style", "d"},
      {"{\"message\":\"\",\"err\":\"err wins\"}", "err wins", NULL},
      /* As sent: cleaning is the log-line builder's (secret.h). */
      {"{\"message\":\"line1\\nline2\\u001b\"}", "line1\nline2\x1b", NULL},
      {"{\"message\":42,\"details\":[\"x\"]}", NULL, NULL},
      {"{\"message\":{\"message\":\"nested\"}}", NULL, NULL},
      {"[{\"message\":\"in array\"}]", NULL, NULL},
      {"\"message\"", NULL, NULL},
      {"<html><body>502 Bad Gateway</body></html>", NULL, NULL},
      {"", NULL, NULL},
      {"null", NULL, NULL},
      /* A capped body still gives the strings it holds whole. */
      {"{\"message\":\"cut short\",\"details\":\"and the rest is mi",
       "cut short", NULL},
      {"{\"message\":\"cut sh", NULL, NULL},
      {"{\"message\":\"utf8 \xc3\xa9 ok\"}", "utf8 \xc3\xa9 ok", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    api_error_parse(cases[i].body, strlen(cases[i].body), &e);
    if ((e.message == NULL) != (cases[i].message == NULL) ||
        (e.message != NULL && strcmp(e.message, cases[i].message) != 0) ||
        (e.details == NULL) != (cases[i].details == NULL) ||
        (e.details != NULL && strcmp(e.details, cases[i].details) != 0))
      fail_msg("body %zu: got \"%s\" / \"%s\"", i,
               e.message ? e.message : "(none)",
               e.details ? e.details : "(none)");
    assert_false(e.message_cut || e.details_cut);
    api_error_free(&e);
  }
  api_error_parse(NULL, 10, &e);
  assert_null(e.message);
  /* Not NUL-terminated: only len bytes are read. */
  api_error_parse("{\"message\":\"x\"}GARBAGE", 15, &e);
  assert_string_equal(e.message, "x");
  api_error_free(&e);

  /* A message past JSON_MAX_STRING is cut, and says so. */
  char *big = malloc(20000);
  assert_non_null(big);
  strcpy(big, "{\"message\":\"");
  memset(big + 12, 'm', 10000);
  strcpy(big + 10012, "\",\"details\":\"d\"}");
  api_error_parse(big, strlen(big), &e);
  assert_int_equal(strlen(e.message), JSON_MAX_STRING);
  assert_true(e.message_cut);
  assert_string_equal(e.details, "d");
  assert_false(e.details_cut);
  api_error_free(&e);
  free(big);
}

/* ---- shared helpers (json_stream_impl.h) ------------------------------- */

static void test_number_to_int64(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int rc;
    int64_t v;
  } cases[] = {
      {"0", 0, 0},
      {"-0", 0, 0},
      {"42", 0, 42},
      {"-42", 0, -42},
      {"3.0", 0, 3},
      {"3.000000000000000000000000000000", 0, 3},
      {"1e2", 0, 100},
      {"1E+2", 0, 100},
      {"2.5e1", 0, 25},
      {"100e-2", 0, 1},
      {"1500e-3", -1, 0},
      {"0e-99999999999", 0, 0},
      {"0.0e99999999", 0, 0},
      {"1e99999999", -1, 0},
      {"1e-99999999", -1, 0},
      {"3.5", -1, 0},
      {"-0.5", -1, 0},
      {"9223372036854775807", 0, INT64_MAX},
      {"-9223372036854775808", 0, INT64_MIN},
      {"9223372036854775808", -1, 0},
      {"-9223372036854775809", -1, 0},
      {"9.223372036854775807e18", 0, INT64_MAX},
      {"9.3e18", -1, 0},
      {"1.5e18", 0, 1500000000000000000LL},
      {"99999999999999999999999", -1, 0},
      {"", -1, 0},
      {"-", -1, 0},
      {"1.", -1, 0},
      {".5", -1, 0},
      {"1e", -1, 0},
      {"1e+", -1, 0},
      {"1x", -1, 0},
      {"+1", -1, 0},
      {"1 ", -1, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t v = 12345;
    int rc = js_number_to_int64(cases[i].s, strlen(cases[i].s), &v);
    if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
      fail_msg("\"%s\": rc %d value %lld", cases[i].s, rc, (long long)v);
    if (rc != 0)
      assert_int_equal(v, 12345); /* untouched on failure */
  }
  int64_t v;
  assert_int_equal(js_number_to_int64("12345", 2, &v), 0); /* len counts */
  assert_int_equal(v, 12);
}

static void test_utf8_cut(void **state) {
  (void)state;
  static const char s[] = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91z";
  size_t len = sizeof(s) - 1; /* a b é(2) €(3) 🔑(4) z = 12 */
  assert_int_equal(js_utf8_cut(s, len, 100), len);
  assert_int_equal(js_utf8_cut(s, len, len), len);
  static const size_t want[] = {0, 1, 2, 2, 4, 4, 4, 7, 7, 7, 7, 11};
  for (size_t max = 0; max < len; max++)
    if (js_utf8_cut(s, len, max) != want[max])
      fail_msg("max %zu: %zu", max, js_utf8_cut(s, len, max));
  /* Invalid input (continuation bytes only) is cut where asked. */
  static const char bad[] = "\x80\x80\x80\x80\x80\x80";
  assert_int_equal(js_utf8_cut(bad, 6, 5), 5);
  assert_int_equal(js_utf8_cut(bad, 6, 2), 2);
  assert_true(js_key_is("Id", 2, "Id"));
  assert_false(js_key_is("Id", 2, "Ids"));
  assert_false(js_key_is("Ids", 3, "Id"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_inspect),
      cmocka_unit_test(test_path_events),
      cmocka_unit_test(test_list_fixture_all_states),
      cmocka_unit_test(test_list_fixture_agent_swarm),
      cmocka_unit_test(test_list_fixture_api152_health),
      cmocka_unit_test(test_list_health_object),
      cmocka_unit_test(test_list_missing_fields),
      cmocka_unit_test(test_list_state_from_status),
      cmocka_unit_test(test_list_wrong_types),
      cmocka_unit_test(test_list_not_an_array),
      cmocka_unit_test(test_list_duplicates_last_wins),
      cmocka_unit_test(test_list_labels),
      cmocka_unit_test(test_list_long_strings),
      cmocka_unit_test(test_list_bytes_pass_through),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_list_chunked_equals_whole),
      cmocka_unit_test(test_list_truncated),
      cmocka_unit_test(test_inspect_fixtures),
      cmocka_unit_test(test_inspect_truncated_keeps_container),
      cmocka_unit_test(test_inspect_wrong_types),
      cmocka_unit_test(test_inspect_requires_reported_fields),
      cmocka_unit_test(test_inspect_reused_container),
      cmocka_unit_test(test_events_fixture),
      cmocka_unit_test(test_events_formats),
      cmocka_unit_test(test_stream_api),
      cmocka_unit_test(test_api_error_parse),
      cmocka_unit_test(test_number_to_int64),
      cmocka_unit_test(test_utf8_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
