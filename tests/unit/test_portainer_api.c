/**
 * test_portainer_api.c: Portainer's environment list, paths and auth bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "portainer_api.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

/* ---- helpers ----------------------------------------------------------- */

typedef struct {
  pt_endpoint_t **items;
  size_t num, cap;
} eps_t;

static void ep_cb(void *ud, pt_endpoint_t *e) {
  eps_t *l = ud;
  assert_non_null(e->name);
  if (l->num == l->cap) {
    l->cap = l->cap == 0 ? 8 : l->cap * 2;
    l->items = realloc(l->items, l->cap * sizeof(*l->items));
    assert_non_null(l->items);
  }
  l->items[l->num++] = e;
}

static void eps_clear(eps_t *l) {
  for (size_t i = 0; i < l->num; i++)
    pt_endpoint_free(l->items[i]);
  free(l->items);
  memset(l, 0, sizeof(*l));
}

static void check_error_text(const char *e) {
  size_t n = strlen(e);
  assert_true(n > 0 && n < 128);
  for (size_t i = 0; i < n; i++)
    assert_true(e[i] >= 0x20 && e[i] < 0x7f);
}

static int parse_eps(const char *doc, size_t len, size_t chunk, eps_t *out) {
  json_stream_t *js = pt_endpoints_parser_new(ep_cb, out);
  assert_non_null(js);
  int rc = feed_chunks(js, doc, len, chunk);
  int frc = json_stream_finish(js);
  if (rc != 0)
    assert_int_equal(frc, -1);
  if (rc != 0 || frc != 0)
    check_error_text(json_stream_error(js));
  json_stream_free(js);
  return rc != 0 ? -1 : frc;
}

static int parse_eps_str(const char *doc, eps_t *out) {
  return parse_eps(doc, strlen(doc), 0, out);
}

static void assert_same_endpoint(const pt_endpoint_t *a,
                                 const pt_endpoint_t *b) {
  assert_int_equal(a->id, b->id);
  assert_string_equal(a->name, b->name);
  assert_int_equal(a->type, b->type);
  assert_int_equal(a->status, b->status);
  assert_int_equal(a->group_id, b->group_id);
  assert_int_equal(a->tag_ids_num, b->tag_ids_num);
  for (size_t i = 0; i < a->tag_ids_num; i++)
    assert_int_equal(a->tag_ids[i], b->tag_ids[i]);
}

static const char *const ep_fixtures[] = {
    "endpoints_list_excludeSnapshots.json",
    "endpoints_list_with_snapshot.json",
};

/* ---- paths and small helpers ------------------------------------------- */

static void test_path_endpoints(void **state) {
  (void)state;
  char buf[128];
  assert_int_equal(pt_path_endpoints(buf, sizeof(buf), 1, 100), 0);
  assert_string_equal(buf,
                      "/api/endpoints?start=1&limit=100&excludeSnapshots=true");
  assert_int_equal(pt_path_endpoints(buf, sizeof(buf), 201, 100), 0);
  assert_string_equal(
      buf, "/api/endpoints?start=201&limit=100&excludeSnapshots=true");
  assert_int_equal(pt_path_endpoints(buf, sizeof(buf), 0, 0), 0);
  assert_int_equal(pt_path_endpoints(buf, sizeof(buf), -1, 10), -1);
  assert_int_equal(pt_path_endpoints(buf, sizeof(buf), 1, -10), -1);
  assert_int_equal(pt_path_endpoints(buf, 20, 1, 100), -1);
  assert_string_equal(buf, "");
  assert_int_equal(pt_path_endpoints(NULL, 20, 1, 100), -1);
  assert_int_equal(pt_path_endpoints(buf, 0, 1, 100), -1);
}

static void test_is_docker(void **state) {
  (void)state;
  pt_endpoint_t e = {0};
  static const struct {
    int type;
    bool docker;
  } cases[] = {{0, false}, {1, true},  {2, true},  {3, false}, {4, true},
               {5, false}, {6, false}, {7, false}, {8, false}, {-1, false}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    e.type = cases[i].type;
    assert_int_equal(pt_endpoint_is_docker(&e), cases[i].docker);
  }
  assert_false(pt_endpoint_is_docker(NULL));
  pt_endpoint_free(NULL);
}

/* ---- environment list -------------------------------------------------- */

static void test_endpoints_fixture(void **state) {
  (void)state;
  size_t len;
  char *doc = read_fixture("endpoints_list_excludeSnapshots.json", &len);
  assert_non_null(doc);
  eps_t l = {0};
  assert_int_equal(parse_eps(doc, len, 0, &l), 0);
  assert_int_equal(l.num, 3);
  assert_int_equal(l.items[0]->id, 1);
  assert_string_equal(l.items[0]->name, "local");
  assert_int_equal(l.items[0]->type, PT_ENV_DOCKER);
  assert_int_equal(l.items[0]->status, 1);
  assert_int_equal(l.items[0]->group_id, 1);
  assert_int_equal(l.items[0]->tag_ids_num, 0);
  assert_int_equal(l.items[1]->id, 2);
  assert_string_equal(l.items[1]->name, "swarm-prod");
  assert_int_equal(l.items[1]->type, PT_ENV_AGENT_DOCKER);
  assert_int_equal(l.items[1]->status, 2);
  assert_int_equal(l.items[1]->tag_ids_num, 1);
  assert_int_equal(l.items[1]->tag_ids[0], 2);
  assert_int_equal(l.items[2]->type, PT_ENV_EDGE_DOCKER);
  for (size_t i = 0; i < l.num; i++)
    assert_true(pt_endpoint_is_docker(l.items[i]));
  eps_clear(&l);
  free(doc);

  doc = read_fixture("endpoints_list_with_snapshot.json", &len);
  assert_non_null(doc);
  assert_int_equal(parse_eps(doc, len, 0, &l), 0);
  assert_int_equal(l.num, 1);
  assert_int_equal(l.items[0]->id, 1);
  assert_string_equal(l.items[0]->name, "local");
  assert_int_equal(l.items[0]->type, 1);
  assert_int_equal(l.items[0]->status, 1);
  eps_clear(&l);
  free(doc);
}

static void test_endpoints_chunked_and_truncated(void **state) {
  (void)state;
  for (size_t f = 0; f < sizeof(ep_fixtures) / sizeof(ep_fixtures[0]); f++) {
    size_t len;
    char *doc = read_fixture(ep_fixtures[f], &len);
    assert_non_null(doc);
    eps_t whole = {0};
    assert_int_equal(parse_eps(doc, len, 0, &whole), 0);
    static const size_t chunks[] = {1, 3, 17, 512};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
      eps_t part = {0};
      assert_int_equal(parse_eps(doc, len, chunks[k], &part), 0);
      assert_int_equal(part.num, whole.num);
      for (size_t i = 0; i < whole.num; i++)
        assert_same_endpoint(part.items[i], whole.items[i]);
      eps_clear(&part);
    }
    eps_clear(&whole);
    size_t full = len;
    while (full > 0 && strchr(" \t\r\n", doc[full - 1]) != NULL)
      full--;
    for (size_t cut = 0; cut < full; cut += 1 + cut / 64) {
      eps_t l = {0};
      if (parse_eps(doc, cut, 0, &l) != -1)
        fail_msg("%s cut at %zu was accepted", ep_fixtures[f], cut);
      eps_clear(&l);
    }
    free(doc);
  }
}

static void test_endpoints_big_snapshots(void **state) {
  (void)state;
  /* Two environments, the first with ~8 MB of snapshot between its fields. */
  static const char item[] =
      "{\"Id\":\"0eca796ba47ad6e479a09191d90be17b5d151b63227f30ec1974338a55a2"
      "4f11\",\"Names\":[\"/nginx_web_1\"],\"Image\":\"nginx:latest\","
      "\"Labels\":{\"com.docker.compose.project\":\"nginx\"},\"State\":"
      "\"running\",\"Status\":\"Up 2 hours\",\"NetworkSettings\":{\"Networks\":"
      "{\"n\":{\"IPAddress\":\"172.20.0.2\",\"Aliases\":null}}},\"Mounts\":[]}";
  size_t items = 30000;
  size_t cap = items * (sizeof(item) + 1) + 4096;
  char *doc = malloc(cap);
  assert_non_null(doc);
  char *p = doc;
  p += sprintf(p, "[{\"Id\":7,\"Name\":\"big\",\"Snapshots\":[{\"Time\":1,"
                  "\"DockerSnapshotRaw\":{\"Containers\":[");
  for (size_t i = 0; i < items; i++) {
    if (i > 0)
      *p++ = ',';
    memcpy(p, item, sizeof(item) - 1);
    p += sizeof(item) - 1;
  }
  p += sprintf(p, "],\"Info\":{\"Name\":\"not me\",\"Id\":99}}}],\"Type\":1,"
                  "\"Status\":1,\"GroupId\":3,\"TagIds\":[5,6]},"
                  "{\"Id\":8,\"Name\":\"small\",\"Snapshots\":[],\"Type\":2}]");
  size_t len = (size_t)(p - doc);
  assert_true(len > 8000000);
  eps_t l = {0};
  assert_int_equal(parse_eps(doc, len, 65536, &l), 0);
  assert_int_equal(l.num, 2);
  assert_int_equal(l.items[0]->id, 7);
  assert_string_equal(l.items[0]->name, "big");
  assert_int_equal(l.items[0]->type, 1);
  assert_int_equal(l.items[0]->status, 1);
  assert_int_equal(l.items[0]->group_id, 3);
  assert_int_equal(l.items[0]->tag_ids_num, 2);
  assert_int_equal(l.items[0]->tag_ids[1], 6);
  assert_int_equal(l.items[1]->id, 8);
  assert_string_equal(l.items[1]->name, "small");
  assert_int_equal(l.items[1]->type, 2);
  eps_clear(&l);
  free(doc);
}

static void test_endpoints_tags(void **state) {
  (void)state;
  size_t n = 1000;
  char *doc = malloc(n * 16 + 256);
  assert_non_null(doc);
  char *p = doc;
  p += sprintf(p, "[{\"Id\":1,\"Name\":\"t\",\"TagIds\":[\"s\",1.5,null,");
  for (size_t i = 0; i < n; i++)
    p += sprintf(p, "%s%zu", i ? "," : "", i);
  p += sprintf(p,
               "]},{\"Id\":2,\"Name\":\"u\",\"TagIds\":{\"a\":1}},"
               "{\"Id\":3,\"Name\":\"v\",\"TagIds\":[[1],{\"x\":2},3.0,"
               "-4]},{\"Id\":4,\"Name\":\"w\",\"TagIds\":[1],\"TagIds\":[]}]");
  eps_t l = {0};
  assert_int_equal(parse_eps(doc, (size_t)(p - doc), 0, &l), 0);
  assert_int_equal(l.num, 4);
  assert_int_equal(l.items[0]->tag_ids_num, 256); /* capped */
  for (size_t i = 0; i < 256; i++)
    assert_int_equal(l.items[0]->tag_ids[i], (int64_t)i);
  assert_int_equal(l.items[1]->tag_ids_num, 0);
  assert_null(l.items[1]->tag_ids);
  assert_int_equal(l.items[2]->tag_ids_num, 2);
  assert_int_equal(l.items[2]->tag_ids[0], 3);
  assert_int_equal(l.items[2]->tag_ids[1], -4);
  assert_int_equal(l.items[3]->tag_ids_num, 0); /* the last TagIds counts */
  eps_clear(&l);
  free(doc);
}

static void test_endpoints_wrong_types(void **state) {
  (void)state;
  eps_t l = {0};
  static const char doc[] =
      "[{\"Id\":\"1\",\"Name\":\"string id\"},"
      "{\"Id\":1.5,\"Name\":\"fractional id\"},"
      "{\"Id\":2,\"Name\":7},"
      "{\"Id\":3},"
      "{\"Name\":\"no id\"},"
      "{\"Id\":[4],\"Name\":\"array id\"},"
      "{\"Id\":5,\"Name\":[\"x\"]},"
      "{\"Id\":6,\"Name\":\"ok\",\"Type\":\"1\",\"Status\":true,\"GroupId\":"
      "\"1\"},"
      "{\"Id\":7.0,\"Name\":\"typed\",\"Type\":99999999999,\"Status\":2.0,"
      "\"GroupId\":-1},"
      "{\"Id\":8,\"Name\":\"\",\"Type\":{\"a\":1},\"Status\":null},"
      "{\"Id\":9,\"Name\":\"nested\",\"Edge\":{\"Id\":10,\"Name\":\"no\"},"
      "\"Snapshots\":[{\"Id\":11,\"Name\":\"no\"}]},"
      "1,\"x\",null,[{\"Id\":12,\"Name\":\"in array\"}]]";
  assert_int_equal(parse_eps_str(doc, &l), 0);
  assert_int_equal(l.num, 4);
  assert_int_equal(l.items[0]->id, 6);
  assert_int_equal(l.items[0]->type, 0);
  assert_int_equal(l.items[0]->status, 0);
  assert_int_equal(l.items[0]->group_id, 0);
  assert_false(pt_endpoint_is_docker(l.items[0]));
  assert_int_equal(l.items[1]->id, 7);
  assert_int_equal(l.items[1]->type, 0); /* out of int range */
  assert_int_equal(l.items[1]->status, 2);
  assert_int_equal(l.items[1]->group_id, -1);
  assert_int_equal(l.items[2]->id, 8);
  assert_string_equal(l.items[2]->name, "");
  assert_int_equal(l.items[3]->id, 9);
  assert_string_equal(l.items[3]->name, "nested");
  eps_clear(&l);

  static const char *const bad[] = {"{\"Id\":1,\"Name\":\"x\"}",
                                    "",
                                    "null",
                                    "[{\"Id\":1,\"Name\":\"x\"}",
                                    "[{\"Id\":1,\"Name\":\"x\"},]",
                                    "<html>"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(parse_eps_str(bad[i], &l), -1);
    eps_clear(&l);
  }
  assert_int_equal(parse_eps_str("[]", &l), 0);
  assert_int_equal(l.num, 0);

  /* Every entry counts towards a page's fullness; the malformed ones are
   * counted apart. */
  size_t entries = 99, malformed = 99;
  json_stream_t *js = pt_endpoints_parser_new(ep_cb, &l);
  assert_int_equal(json_stream_feed(js, doc, strlen(doc)), 0);
  assert_int_equal(json_stream_finish(js), 0);
  pt_endpoints_counts(js, &entries, &malformed);
  assert_int_equal(entries, 15);
  assert_int_equal(malformed, 11);
  json_stream_free(js);
  eps_clear(&l);
}

static void test_endpoints_nesting_and_long_names(void **state) {
  (void)state;
  size_t n = 100000;
  char *doc = malloc(n + 64);
  assert_non_null(doc);
  char *p = doc + sprintf(doc, "[{\"Id\":1,\"Name\":\"x\",\"Snapshots\":");
  memset(p, '[', n);
  p += n;
  json_stream_t *js = pt_endpoints_parser_new(ep_cb, NULL);
  assert_non_null(js);
  assert_int_equal(json_stream_feed(js, doc, (size_t)(p - doc)), -1);
  assert_string_equal(json_stream_error(js), "nesting deeper than 64 levels");
  assert_int_equal(json_stream_finish(js), -1);
  json_stream_free(js);
  free(doc);

  doc = malloc(3 * JSON_MAX_STRING);
  assert_non_null(doc);
  p = doc + sprintf(doc, "[{\"Id\":1,\"Name\":\"");
  memset(p, 'x', 2 * JSON_MAX_STRING);
  p += 2 * JSON_MAX_STRING;
  p += sprintf(p, "\"}]");
  eps_t l = {0};
  assert_int_equal(parse_eps(doc, (size_t)(p - doc), 0, &l), 0);
  assert_int_equal(l.num, 1);
  assert_int_equal(strlen(l.items[0]->name), JSON_MAX_STRING);
  eps_clear(&l);
  free(doc);
  assert_null(pt_endpoints_parser_new(NULL, NULL));
}

/* ---- Edge agents ------------------------------------------------------- */

static void test_endpoints_edge_fields(void **state) {
  (void)state;
  size_t len;
  char *doc = read_fixture("endpoints_list_excludeSnapshots.json", &len);
  assert_non_null(doc);
  eps_t l = {0};
  assert_int_equal(parse_eps(doc, len, 7, &l), 0);
  assert_int_equal(l.num, 3);
  const pt_endpoint_t *local = l.items[0], *edge = l.items[2];
  assert_false(local->has_edge_id);
  assert_int_equal(local->heartbeat, 0);
  assert_int_equal(local->last_check_in, 0);
  assert_int_equal(local->query_date, 0);
  assert_true(edge->has_edge_id);
  assert_int_equal(edge->heartbeat, 1);
  assert_int_equal(edge->last_check_in, 1729700395);
  assert_int_equal(edge->query_date, 1729700400);
  assert_int_equal(edge->checkin_interval, 5);
  assert_false(edge->async);
  assert_int_equal(pt_edge_state(local, 0), PT_EDGE_NONE);
  assert_int_equal(pt_edge_state(edge, 0), PT_EDGE_ONLINE);
  eps_clear(&l);
  free(doc);

  /* Absent fields and fields of the wrong type decide nothing; the last
   * Edge object counts, with its intervals. */
  static const char odd[] =
      "[{\"Id\":1,\"Name\":\"a\",\"Type\":4,\"EdgeID\":5,\"Heartbeat\":\"yes\","
      "\"LastCheckInDate\":\"x\",\"QueryDate\":null,\"EdgeCheckinInterval\":"
      "\"5\",\"Edge\":[true]},"
      "{\"Id\":2,\"Name\":\"b\",\"Type\":4,\"EdgeID\":\"\",\"Edge\":{"
      "\"AsyncMode\":true,\"SnapshotInterval\":30}},"
      "{\"Id\":3,\"Name\":\"c\",\"Type\":4,\"EdgeID\":\"e\",\"Edge\":{"
      "\"AsyncMode\":true,\"PingInterval\":7},\"Edge\":{\"AsyncMode\":\"true\","
      "\"SnapshotInterval\":15,\"CommandInterval\":300,\"Nested\":{"
      "\"AsyncMode\":true}},\"LastCheckInDate\":-5,\"Heartbeat\":true}]";
  assert_int_equal(parse_eps_str(odd, &l), 0);
  assert_int_equal(l.num, 3);
  assert_false(l.items[0]->has_edge_id);
  assert_int_equal(l.items[0]->heartbeat, -1);
  assert_int_equal(l.items[0]->last_check_in, -1);
  assert_int_equal(l.items[0]->query_date, 0);
  assert_int_equal(l.items[0]->checkin_interval, 0);
  assert_false(l.items[0]->async);
  assert_false(l.items[1]->has_edge_id);
  assert_true(l.items[1]->async);
  assert_int_equal(l.items[1]->snapshot_interval, 30);
  assert_int_equal(pt_edge_state(l.items[1], 100), PT_EDGE_NO_AGENT);
  const pt_endpoint_t *c = l.items[2];
  assert_false(c->async); /* "true" is a string */
  assert_int_equal(c->ping_interval, 0);
  assert_int_equal(c->snapshot_interval, 15);
  assert_int_equal(c->command_interval, 300);
  assert_int_equal(c->last_check_in, 0); /* negative: never */
  assert_int_equal(c->heartbeat, 1);
  assert_int_equal(pt_edge_state(c, 100), PT_EDGE_OFFLINE);
  eps_clear(&l);
}

static void test_edge_state(void **state) {
  (void)state;
  static const struct {
    int type;
    bool edge_id;
    int heartbeat;
    int64_t last, query, checkin;
    bool async;
    int64_t ping, snap, cmd;
    int64_t date; /* the list response's Date */
    pt_edge_state_t want;
    int64_t interval; /* pt_edge_checkin_interval */
  } cases[] = {
      {1, false, 0, 0, 0, 5, false, 0, 0, 0, 1000, PT_EDGE_NONE, 5},
      {2, true, 1, 990, 1000, 5, false, 0, 0, 0, 1000, PT_EDGE_NONE, 5},
      {4, false, 1, 990, 1000, 5, false, 0, 0, 0, 1000, PT_EDGE_NO_AGENT, 5},
      {4, true, 0, 999, 1000, 5, false, 0, 0, 0, 1000, PT_EDGE_OFFLINE, 5},
      /* 2 x 5 + 20 = 30 s: the rule's edge, both sides */
      {4, true, 1, 970, 1000, 5, false, 0, 0, 0, 0, PT_EDGE_ONLINE, 5},
      {4, true, 1, 969, 1000, 5, false, 0, 0, 0, 0, PT_EDGE_OFFLINE, 5},
      /* Heartbeat absent: the rule alone decides */
      {4, true, -1, 969, 1000, 5, false, 0, 0, 0, 0, PT_EDGE_OFFLINE, 5},
      /* QueryDate first, else the Date header; no clock: no verdict */
      {4, true, 1, 969, 0, 5, false, 0, 0, 0, 1000, PT_EDGE_OFFLINE, 5},
      {4, true, 1, 969, 0, 5, false, 0, 0, 0, 999, PT_EDGE_ONLINE, 5},
      {4, true, 1, 969, 999, 5, false, 0, 0, 0, 5000, PT_EDGE_ONLINE, 5},
      {4, true, 1, 1, 0, 5, false, 0, 0, 0, 0, PT_EDGE_ONLINE, 5},
      {4, true, -1, -1, 1000, 5, false, 0, 0, 0, 1000, PT_EDGE_ONLINE, 5},
      /* never checked in */
      {4, true, -1, 0, 1000, 5, false, 0, 0, 0, 1000, PT_EDGE_OFFLINE, 5},
      /* EdgeCheckinInterval 0: Portainer's default, 5 s */
      {4, true, 1, 969, 1000, 0, false, 0, 0, 0, 0, PT_EDGE_OFFLINE, 5},
      {4, true, 1, 940, 1000, 20, false, 0, 0, 0, 0, PT_EDGE_ONLINE, 20},
      /* async: the smallest positive Edge interval, at most 60 s */
      {4, true, 1, 860, 1000, 5, true, 0, 0, 0, 0, PT_EDGE_ONLINE, 60},
      {4, true, 1, 859, 1000, 5, true, 0, 0, 0, 0, PT_EDGE_OFFLINE, 60},
      {4, true, 1, 859, 1000, 5, true, 300, 120, 90, 0, PT_EDGE_OFFLINE, 60},
      {4, true, 1, 960, 1000, 5, true, 300, 10, 0, 0, PT_EDGE_ONLINE, 10},
      {4, true, 1, 959, 1000, 5, true, 0, 0, 10, 0, PT_EDGE_OFFLINE, 10},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pt_endpoint_t e = {.type = cases[i].type,
                       .has_edge_id = cases[i].edge_id,
                       .heartbeat = cases[i].heartbeat,
                       .last_check_in = cases[i].last,
                       .query_date = cases[i].query,
                       .checkin_interval = cases[i].checkin,
                       .async = cases[i].async,
                       .ping_interval = cases[i].ping,
                       .snapshot_interval = cases[i].snap,
                       .command_interval = cases[i].cmd};
    pt_edge_state_t got = pt_edge_state(&e, cases[i].date);
    if (got != cases[i].want)
      fail_msg("case %zu: state %d, want %d", i, (int)got, (int)cases[i].want);
    assert_int_equal(pt_edge_checkin_interval(&e), cases[i].interval);
  }
  assert_int_equal(pt_edge_state(NULL, 0), PT_EDGE_NONE);
  pt_endpoint_t e = {.snapshot_interval = 0};
  assert_int_equal(pt_edge_snapshot_max_age(&e), 140);
  e.snapshot_interval = 5;
  assert_int_equal(pt_edge_snapshot_max_age(&e), 30);
  pt_endpoint_t q = {.query_date = 7};
  assert_int_equal(pt_edge_now(&q, 9), 7);
  q.query_date = 0;
  assert_int_equal(pt_edge_now(&q, 9), 9);
  assert_int_equal(pt_edge_now(&q, -1), 0);
}

/* ---- the snapshot of one environment ------------------------------------ */

typedef struct {
  container_t *cs[16];
  size_t num;
} snap_cs_t;

static void snap_cb(void *ud, container_t *c) {
  snap_cs_t *l = ud;
  if (l->num < 16)
    l->cs[l->num++] = c;
  else
    container_free(c);
}

static void snap_cs_clear(snap_cs_t *l) {
  for (size_t i = 0; i < l->num; i++)
    container_free(l->cs[i]);
  memset(l, 0, sizeof(*l));
}

static int parse_snap(const char *doc, size_t len, size_t chunk,
                      const char *label, snap_cs_t *l, pt_snapshot_t *out) {
  json_stream_t *js = pt_snapshot_parser_new(label, snap_cb, l, out);
  assert_non_null(js);
  int rc = feed_chunks(js, doc, len, chunk);
  if (rc == 0)
    rc = json_stream_finish(js);
  if (rc != 0)
    check_error_text(json_stream_error(js));
  json_stream_free(js);
  return rc;
}

static void test_snapshot_fixture(void **state) {
  (void)state;
  size_t len;
  char *doc = read_fixture("endpoints_list_with_snapshot.json", &len);
  assert_non_null(doc);
  /* GET /api/endpoints/1 answers the list's one item. */
  char *start = strchr(doc, '{'), *end = strrchr(doc, '}');
  assert_non_null(start);
  assert_non_null(end);
  size_t n = (size_t)(end - start) + 1;
  static const size_t chunks[] = {0, 1, 13, 4096};
  for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
    snap_cs_t l = {0};
    pt_snapshot_t out;
    assert_int_equal(
        parse_snap(start, n, chunks[k], "com.docker.compose.project", &l, &out),
        0);
    assert_true(out.present);
    assert_true(out.containers);
    assert_int_equal(out.time, 1729700000);
    assert_int_equal(l.num, 3);
    assert_string_equal(l.cs[0]->name, "nginx_web_1");
    assert_int_equal(l.cs[0]->state, CSTATE_RUNNING);
    assert_true(l.cs[0]->list_health_known);
    assert_int_equal(l.cs[0]->list_health, CHEALTH_HEALTHY);
    assert_string_equal(l.cs[0]->label, "nginx");
    assert_string_equal(l.cs[1]->name, "app_api_1");
    assert_int_equal(l.cs[1]->list_health, CHEALTH_STARTING);
    assert_string_equal(l.cs[2]->name, "redis_cache_1");
    assert_int_equal(l.cs[2]->state, CSTATE_EXITED);
    assert_string_equal(l.cs[2]->status, "Exited (137) 5 minutes ago");
    assert_false(l.cs[2]->inspected);
    snap_cs_clear(&l);
  }
  /* Cut anywhere: refused. */
  for (size_t cut = 0; cut + 1 < n; cut += 1 + cut / 32) {
    snap_cs_t l = {0};
    pt_snapshot_t out;
    if (parse_snap(start, cut, 0, NULL, &l, &out) != -1)
      fail_msg("cut at %zu was accepted", cut);
    snap_cs_clear(&l);
  }
  free(doc);
}

static void test_snapshot_shapes(void **state) {
  (void)state;
  static const struct {
    const char *doc;
    int rc;
    bool present, containers;
    int64_t time;
    size_t num;
  } cases[] = {
      /* No snapshot yet. */
      {"{\"Id\":1,\"Snapshots\":[]}", 0, false, false, 0, 0},
      {"{\"Id\":1}", 0, false, false, 0, 0},
      {"{\"Snapshots\":null}", 0, false, false, 0, 0},
      /* Only Snapshots[0] counts; Kubernetes.Snapshots is not it. */
      {"{\"Kubernetes\":{\"Snapshots\":[{\"Time\":9,\"DockerSnapshotRaw\":{"
       "\"Containers\":[{\"Id\":\"k\"}]}}]},\"Snapshots\":[{\"Time\":5,"
       "\"DockerSnapshotRaw\":{\"Containers\":[{\"Id\":\"a\",\"State\":"
       "\"running\"}]}},{\"Time\":6,\"DockerSnapshotRaw\":{\"Containers\":[{"
       "\"Id\":\"b\"}]}}]}",
       0, true, true, 5, 1},
      /* Raw data before Time, Time of the wrong type, a second Containers. */
      {"{\"Snapshots\":[{\"DockerSnapshotRaw\":{\"Images\":[{\"Id\":\"i\"}],"
       "\"Containers\":[{\"Id\":\"a\"},7,{\"Names\":[\"/"
       "no-id\"]},{\"Id\":\"c\"}"
       "],\"Containers\":[{\"Id\":\"d\"}]},\"Time\":\"soon\"}]}",
       0, true, true, 0, 2},
      /* Containers not an array, raw data not an object. */
      {"{\"Snapshots\":[{\"Time\":3,\"DockerSnapshotRaw\":{\"Containers\":{"
       "\"Id\":\"a\"}}}]}",
       0, true, false, 3, 0},
      {"{\"Snapshots\":[{\"Time\":3,\"DockerSnapshotRaw\":[]}]}", 0, true,
       false, 3, 0},
      {"{\"Snapshots\":[7,{\"Time\":3}]}", 0, false, false, 0, 0},
      /* Not an object; broken inside the containers. */
      {"[]", -1, false, false, 0, 0},
      {"{\"Snapshots\":[{\"DockerSnapshotRaw\":{\"Containers\":[{\"Id\":}]}}]}",
       -1, true, true, 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snap_cs_t l = {0};
    pt_snapshot_t out;
    int rc = parse_snap(cases[i].doc, strlen(cases[i].doc), 0, NULL, &l, &out);
    if (rc != cases[i].rc || out.present != cases[i].present ||
        out.containers != cases[i].containers || out.time != cases[i].time ||
        l.num != cases[i].num)
      fail_msg("case %zu: rc %d present %d containers %d time %lld num %zu", i,
               rc, out.present, out.containers, (long long)out.time, l.num);
    snap_cs_clear(&l);
  }
  /* Nesting past the limit inside the containers fails the document. */
  size_t depth = 80;
  char *deep = malloc(64 + 2 * depth);
  assert_non_null(deep);
  char *p = deep;
  p += sprintf(p, "{\"Snapshots\":[{\"DockerSnapshotRaw\":{\"Containers\":[");
  for (size_t i = 0; i < depth; i++)
    *p++ = '[';
  for (size_t i = 0; i < depth; i++)
    *p++ = ']';
  p += sprintf(p, "]}}]}");
  snap_cs_t l = {0};
  pt_snapshot_t out;
  assert_int_equal(parse_snap(deep, (size_t)(p - deep), 0, NULL, &l, &out), -1);
  free(deep);
  assert_null(pt_snapshot_parser_new(NULL, NULL, NULL, &out));
  assert_null(pt_snapshot_parser_new(NULL, snap_cb, NULL, NULL));

  char buf[64];
  assert_int_equal(pt_path_endpoint(buf, sizeof(buf), 42), 0);
  assert_string_equal(buf, "/api/endpoints/42");
  assert_int_equal(pt_path_endpoint(buf, 8, 42), -1);
  assert_string_equal(buf, "");
  assert_int_equal(pt_path_endpoint(buf, sizeof(buf), -1), -1);
}

/* ---- auth -------------------------------------------------------------- */

/* The body must be JSON that decodes back to exactly the credentials. */
static void check_auth_body(const char *user, const char *pass) {
  char *body = pt_auth_body(user, pass);
  assert_non_null(body);
  char err[128];
  yajl_val v = yajl_tree_parse(body, err, sizeof(err));
  if (v == NULL)
    fail_msg("not JSON: %s (%s)", body, err);
  /* The field names of Portainer's own authenticate payload. */
  const char *upath[] = {"Username", NULL};
  const char *ppath[] = {"Password", NULL};
  yajl_val u = yajl_tree_get(v, upath, yajl_t_string);
  yajl_val pw = yajl_tree_get(v, ppath, yajl_t_string);
  assert_non_null(u);
  assert_non_null(pw);
  assert_string_equal(YAJL_GET_STRING(u), user != NULL ? user : "");
  assert_string_equal(YAJL_GET_STRING(pw), pass != NULL ? pass : "");
  assert_int_equal(v->u.object.len, 2);
  /* No raw control characters in the body. */
  for (const char *c = body; *c != '\0'; c++)
    assert_true((unsigned char)*c >= 0x20);
  yajl_tree_free(v);
  free(body);
}

static void test_auth_body(void **state) {
  (void)state;
  char *body = pt_auth_body("admin", "secret");
  assert_string_equal(body, "{\"Username\":\"admin\",\"Password\":\"secret\"}");
  free(body);
  body = pt_auth_body("a\"b", "c\\d\n");
  assert_string_equal(body,
                      "{\"Username\":\"a\\\"b\",\"Password\":\"c\\\\d\\n\"}");
  free(body);
  check_auth_body("admin", "p@ss\"w\\o/rd");
  check_auth_body("\"},\"username\":\"root", "x");
  check_auth_body("tab\tcr\rnl\nbs\bff\f", "\x01\x02\x1f\x7f end");
  check_auth_body("j\xc3\xbcrgen", "\xe2\x82\xac\xf0\x9f\x94\x91");
  check_auth_body("", "");
  check_auth_body(NULL, NULL);
}

static void test_auth_parse_jwt(void **state) {
  (void)state;
  static const char ok[] =
      "{\"jwt\":\"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6MX0.abc-_DEF\"}";
  char *jwt = pt_auth_parse_jwt(ok, strlen(ok));
  assert_non_null(jwt);
  assert_string_equal(jwt, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6MX0."
                           "abc-_DEF");
  free(jwt);
  /* Extra fields, whitespace, a newline after. */
  static const char ok2[] =
      " {\"other\":{\"jwt\":\"no\"},\"jwt\" : \"a.b.c\" }\n";
  jwt = pt_auth_parse_jwt(ok2, strlen(ok2));
  assert_non_null(jwt);
  assert_string_equal(jwt, "a.b.c");
  free(jwt);
  /* Only len bytes. */
  jwt = pt_auth_parse_jwt("{\"jwt\":\"a.b.c\"}xyz", 15);
  assert_non_null(jwt);
  free(jwt);

  static const char *const bad[] = {
      "{\"message\":\"Invalid credentials\",\"details\":\"Unauthorized\"}",
      "{\"jwt\":42}",
      "{\"jwt\":null}",
      "{\"jwt\":\"\"}",
      "{\"jwt\":[\"a.b.c\"]}",
      "[{\"jwt\":\"a.b.c\"}]",
      "{\"jwt\":\"a.b.c\"", /* truncated */
      "{\"jwt\":\"a.b.c\\r\\nX-Injected: 1\"}",
      "{\"jwt\":\"a b\"}",
      "{\"jwt\":\"a.b.c\\u0001\"}",
      "jwt",
      "",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    jwt = pt_auth_parse_jwt(bad[i], strlen(bad[i]));
    if (jwt != NULL)
      fail_msg("body %zu gave a token \"%s\"", i, jwt);
  }
  assert_null(pt_auth_parse_jwt(NULL, 10));
  /* A token too long to be real is refused rather than cut. */
  char *big = malloc(2 * JSON_MAX_STRING);
  assert_non_null(big);
  strcpy(big, "{\"jwt\":\"");
  memset(big + 8, 'a', JSON_MAX_STRING + 10);
  strcpy(big + 8 + JSON_MAX_STRING + 10, "\"}");
  assert_null(pt_auth_parse_jwt(big, strlen(big)));
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_endpoints),
      cmocka_unit_test(test_is_docker),
      cmocka_unit_test(test_endpoints_fixture),
      cmocka_unit_test(test_endpoints_chunked_and_truncated),
      cmocka_unit_test(test_endpoints_big_snapshots),
      cmocka_unit_test(test_endpoints_tags),
      cmocka_unit_test(test_endpoints_wrong_types),
      cmocka_unit_test(test_endpoints_nesting_and_long_names),
      cmocka_unit_test(test_endpoints_edge_fields),
      cmocka_unit_test(test_edge_state),
      cmocka_unit_test(test_snapshot_fixture),
      cmocka_unit_test(test_snapshot_shapes),
      cmocka_unit_test(test_auth_body),
      cmocka_unit_test(test_auth_parse_jwt),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
