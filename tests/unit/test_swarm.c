/* Unit tests of whole polls for issue 8: Swarm agent environments (a
 * targeted inspect that fails, a node missing from the merged list, the
 * Swarm's node list) and the failing streak of containers whose checks
 * fail, against canned answers from mini_server on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "docker_api.h"
#include "identity.h"
#include "mini_server.h"
#include "source.h"
#include "testlog.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENDPOINTS                                                              \
  "[{\"Id\":7,\"Name\":\"swarm\",\"Type\":2,\"Status\":1,\"Snapshots\":[]}]"
#define PAGE  "/api/endpoints?start=1&limit=100&excludeSnapshots=true"
#define LIST  "/api/endpoints/7/docker/containers/json?all=1"
#define NODES "/api/endpoints/7/docker/nodes"

/* An item of the agent's merged list. */
#define ITEM(id, name, node)                                                   \
  "{\"Id\":\"" id "\",\"Names\":[\"/" name "\"],\"Image\":\"nginx\","          \
  "\"State\":\"running\",\"Status\":\"Up 3 weeks\",\"Portainer\":{\"Agent\":"  \
  "{\"NodeName\":\"" node "\"}}}"
#define BOTH_NODES                                                             \
  "[" ITEM("ddd4", "web", "node-a") "," ITEM(                                  \
      "eee5", "web", "node-b") "," ITEM("fff6", "solo", "node-b") "]"
#define NODE_A_ONLY "[" ITEM("ddd4", "web", "node-a") "]"

/* GET /nodes, as a manager answers it (moby's Node objects, cut short). */
#define NODE(host, avail, state)                                               \
  "{\"ID\":\"" host                                                            \
  "-id\",\"Version\":{\"Index\":10},\"Spec\":{\"Labels\":{},"                  \
  "\"Role\":\"worker\",\"Availability\":\"" avail "\"},\"Description\":{"      \
  "\"Hostname\":\"" host "\",\"Platform\":{\"Architecture\":\"x86_64\","       \
  "\"OS\":\"linux\"}},\"Status\":{\"State\":\"" state "\",\"Addr\":"           \
  "\"10.0.0.2\"}}"
#define SWARM_BOTH                                                             \
  "[" NODE("node-a", "active", "ready") "," NODE("node-b", "active", "down") "]"

static const char *INSPECT =
    "{\"RestartCount\":1,\"State\":{\"Status\":\"running\",\"ExitCode\":0,"
    "\"OOMKilled\":false,\"StartedAt\":\"0001-01-01T00:00:00Z\"}}";
static const char *NO_SUCH = "{\"message\":\"No such container: eee5\"}";

/* The canned Portainer: its list, its answer to GET /nodes, and whether
 * eee5's targeted inspect answers 404. */
static void routes(mini_server_t *ms, const char *list, int nodes_status,
                   const char *nodes, bool eee5_404) {
  ms_route_t r[] = {
      {.path = PAGE, .headers = "X-Total-Count: 1\r\n", .body = ENDPOINTS},
      {.path = LIST, .headers = date_header(), .body = list},
      {.path = "/api/endpoints/7/docker/events?", .prefix = true, .body = ""},
      {.path = NODES, .status = nodes_status, .body = nodes},
      {.path = "/api/endpoints/7/docker/containers/eee5/json",
       .status = eee5_404 ? 404 : 200,
       .body = eee5_404 ? NO_SUCH : INSPECT},
      {.path = "/api/endpoints/7/docker/containers/",
       .prefix = true,
       .body = INSPECT},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

/* A source on the canned server's port: Portainer (token) or Docker. */
static source_t *new_source(mini_server_t *ms, source_kind_t kind) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = kind;
  conf.name = strdup(kind == SOURCE_PORTAINER ? "main" : "d");
  conf.url = strdup(ms_url(ms));
  if (kind == SOURCE_PORTAINER)
    conf.token = strdup("ptr_unit");
  conf.interval = 10;
  conf.timeout_ms = 2000;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_non_null(s);
  return s;
}

static const container_t *find(const inv_env_t *e, const char *id) {
  for (size_t i = 0; i < e->cs_num; i++)
    if (strcmp(e->cs[i]->id, id) == 0)
      return e->cs[i];
  return NULL;
}

static const char *pi(const container_t *c) {
  static identity_t id;
  identity_of(c, TYPE_INSTANCE_IMAGE, &id);
  return id.plugin_instance;
}

/* The next poll, a second later (a new second of the daemon's clock). */
static const inv_env_t *poll_again(source_t *s, mini_server_t *ms,
                                   const char *list, int nodes_status,
                                   const char *nodes) {
  sleep(1);
  routes(ms, list, nodes_status, nodes, false);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  const inv_env_t *e = inventory_find(source_inventory(s), 7);
  assert_non_null(e);
  return e;
}

/* 7: two Swarm nodes share a hostname, so the inspect routed by NodeName
 * reaches the wrong one and answers 404: the container the list shows is
 * kept with what the list tells. */
static void test_targeted_404_keeps_container(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  routes(ms, BOTH_NODES, 200, SWARM_BOTH, true);
  source_t *s = new_source(ms, SOURCE_PORTAINER);
  for (int poll = 0; poll < 3; poll++) {
    if (poll > 0) {
      sleep(1);
      routes(ms, BOTH_NODES, 200, SWARM_BOTH, true);
    }
    assert_int_equal(source_poll(s), 0);
    const inv_env_t *e = inventory_find(source_inventory(s), 7);
    assert_int_equal(e->cs_num, 3);
    const container_t *c = find(e, "eee5");
    assert_non_null(c);
    assert_false(c->inspected); /* list facts only */
    assert_true(find(e, "ddd4")->inspected);
    assert_true(inv_env_complete(e));
  }
  /* Said once, not every poll; counted each time. */
  assert_int_equal(logs_matching("inspect of container \"web\" failed: HTTP "
                                 "404: No such container: eee5"),
                   1);
  assert_int_equal(source_stats(s)->errors[ERR_NOT_FOUND], 3);
  source_free(s);
  ms_stop(ms);
}

/* 7: a node left out of the agent's merged list is a fault of the
 * environment, not containers removed; names do not flap. */
static void test_node_missing(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  routes(ms, BOTH_NODES, 200, SWARM_BOTH, false);
  source_t *s = new_source(ms, SOURCE_PORTAINER);
  assert_int_equal(source_poll(s), 0);
  const inv_env_t *e = inventory_find(source_inventory(s), 7);
  assert_true(inv_env_complete(e));
  assert_string_equal(pi(find(e, "ddd4")), "web@node-a");
  assert_string_equal(pi(find(e, "eee5")), "web@node-b");
  assert_int_equal(ms_count_path(ms, NULL, NODES), 0); /* nothing missing */

  for (int poll = 0; poll < 2; poll++) {
    e = poll_again(s, ms, NODE_A_ONLY, 200, SWARM_BOTH);
    assert_false(inv_env_complete(e));
    assert_true(e->up); /* node-a's list is in, and fresh */
    assert_int_equal(ms_count_path(ms, NULL, NODES), 1);
    assert_int_equal(e->cs_num, 3);
    assert_true(find(e, "eee5")->absent);
    assert_true(find(e, "fff6")->absent);
    assert_false(find(e, "ddd4")->absent);
    assert_string_equal(pi(find(e, "ddd4")), "web@node-a");
    /* Nothing is asked of the absent ones. */
    assert_int_equal(
        ms_count_path(ms, NULL, "/api/endpoints/7/docker/containers/eee5/json"),
        0);
  }
  assert_int_equal(logs_matching("source \"main\": environment \"swarm\" (id "
                                 "7): Swarm node \"node-b\" missing"),
                   1);

  /* Back: complete, under the same names, inspected again. */
  e = poll_again(s, ms, BOTH_NODES, 200, SWARM_BOTH);
  assert_true(inv_env_complete(e));
  assert_false(find(e, "eee5")->absent);
  assert_string_equal(pi(find(e, "eee5")), "web@node-b");
  assert_string_equal(pi(find(e, "ddd4")), "web@node-a");
  assert_int_equal(
      ms_count_path(ms, NULL, "/api/endpoints/7/docker/containers/eee5/json"),
      1);
  assert_int_equal(ms_count_path(ms, NULL, NODES), 0);
  assert_int_equal(logs_matching("every Swarm node is answering again"), 1);

  /* node-b leaves the Swarm: its containers are gone, up is 1; web on
   * node-a keeps its name. */
  e = poll_again(s, ms, NODE_A_ONLY, 200,
                 "[" NODE("node-a", "active", "ready") "]");
  assert_true(inv_env_complete(e));
  assert_int_equal(e->cs_num, 1);
  assert_string_equal(pi(find(e, "ddd4")), "web@node-a");
  e = poll_again(s, ms, NODE_A_ONLY, 200, SWARM_BOTH);
  assert_true(inv_env_complete(e)); /* forgotten: no longer expected */
  assert_int_equal(ms_count_path(ms, NULL, NODES), 0);
  assert_int_equal(logs_matching("missing"), 1);
  source_free(s);
  ms_stop(ms);
}

/* What GET /nodes says decides whether a missing node counts. */
static void test_node_list_answers(void **state) {
  (void)state;
  static const struct {
    int status;
    const char *nodes;
    bool complete; /* after node-b drops out */
    const char *log;
  } cases[] = {
      /* Drained: no agent runs there any more. */
      {200,
       "[" NODE("node-a", "active", "ready") "," NODE("node-b", "drain",
                                                      "ready") "]",
       true, NULL},
      /* The manager cannot be reached: every known node still counts. */
      {500,
       "{\"message\":\"The agent was unable to contact any other agent "
       "located on a manager node\"}",
       false, "Swarm node list request failed"},
      /* Names that match no node of the list cannot be trusted. */
      {200, "[" NODE("other-1", "active", "ready") "]", false, NULL},
      /* Not a node list. */
      {200, "{\"nodes\":[]}", false, "invalid JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    logs_num = 0;
    mini_server_t *ms = ms_start(NULL);
    routes(ms, BOTH_NODES, 200, SWARM_BOTH, false);
    source_t *s = new_source(ms, SOURCE_PORTAINER);
    assert_int_equal(source_poll(s), 0);
    const inv_env_t *e =
        poll_again(s, ms, NODE_A_ONLY, cases[i].status, cases[i].nodes);
    if (inv_env_complete(e) != cases[i].complete)
      fail_msg("case %zu: complete %d", i, (int)inv_env_complete(e));
    assert_int_equal(logs_matching("Swarm node \"node-b\" missing"),
                     cases[i].complete ? 0 : 1);
    if (cases[i].log != NULL)
      assert_int_equal(logs_matching(cases[i].log), 1);
    source_free(s);
    ms_stop(ms);
  }
}

/* 4: API < 1.52 lists carry no failing streak: a running container whose
 * checks fail is inspected every poll; the others only when they change. */
static void test_failing_checks_inspected_every_poll(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
#define DITEM(id, status)                                                      \
  "{\"Id\":\"" id "\",\"Names\":[\"/" id "\"],\"Image\":\"bb\","               \
  "\"State\":\"running\",\"Status\":\"" status "\"}"
  static const char *list = "[" DITEM(
      "c1starting",
      "Up 1 minute (health: "
      "starting)") "," DITEM("c2healthy",
                             "Up 1 minute (healthy)") "," DITEM("c3unhealth"
                                                                "y",
                                                                "Up 1 "
                                                                "minute "
                                                                "(unhealthy"
                                                                ")") "," DITEM("c4plain",
                                                                               "Up 1 "
                                                                               "minute") "," DITEM("c5wobbly",
                                                                                                   "Up 1 minute (healthy)") "]";
#define HINSPECT(status, streak)                                               \
  "{\"RestartCount\":0,\"State\":{\"Status\":\"running\",\"ExitCode\":0,"      \
  "\"OOMKilled\":false,\"StartedAt\":\"0001-01-01T00:00:00Z\",\"Health\":"     \
  "{\"Status\":\"" status "\",\"FailingStreak\":" streak "}}}"
  for (int poll = 0; poll < 3; poll++) {
    ms_route_t r[] = {
        {.path = "/containers/json?all=1",
         .headers = date_header(),
         .body = list},
        {.path = "/events?", .prefix = true, .body = ""},
        {.path = "/containers/c5wobbly/json", .body = HINSPECT("healthy", "1")},
        {.path = "/containers/c2healthy/json",
         .body = HINSPECT("healthy", "0")},
        {.path = "/containers/", .prefix = true, .body = INSPECT},
    };
    ms_set_routes(ms, r, sizeof(r) / sizeof(r[0]));
    ms_clear_requests(ms);
    static source_t *s;
    if (poll == 0) {
      s = new_source(ms, SOURCE_DOCKER);
    }
    assert_int_equal(source_poll(s), 0);
    size_t c1 = ms_count_path(ms, NULL, "/containers/c1starting/json");
    size_t c2 = ms_count_path(ms, NULL, "/containers/c2healthy/json");
    size_t c3 = ms_count_path(ms, NULL, "/containers/c3unhealthy/json");
    size_t c4 = ms_count_path(ms, NULL, "/containers/c4plain/json");
    size_t c5 = ms_count_path(ms, NULL, "/containers/c5wobbly/json");
    assert_int_equal(c1, 1);
    assert_int_equal(c3, 1);
    assert_int_equal(c5, 1); /* healthy, but its last streak was 1 */
    assert_int_equal(c2, poll == 0 ? 1 : 0);
    assert_int_equal(c4, poll == 0 ? 1 : 0);
    if (poll == 2)
      source_free(s);
    else
      sleep(1);
  }
  ms_stop(ms);
}

/* 4: with API >= 1.52 the list's Health carries the streak: no inspect. */
static void test_list_streak_needs_no_inspect(void **state) {
  (void)state;
  mini_server_t *ms = ms_start(NULL);
  static const char *list =
      "[{\"Id\":\"c1\",\"Names\":[\"/c1\"],\"Image\":\"bb\",\"State\":"
      "\"running\",\"Status\":\"Up 1 minute (health: starting)\",\"Health\":"
      "{\"Status\":\"starting\",\"FailingStreak\":4}}]";
  source_t *s = new_source(ms, SOURCE_DOCKER);
  for (int poll = 0; poll < 2; poll++) {
    ms_route_t r[] = {
        {.path = "/containers/json?all=1",
         .headers = date_header(),
         .body = list},
        {.path = "/events?", .prefix = true, .body = ""},
        {.path = "/containers/", .prefix = true, .body = INSPECT},
    };
    ms_set_routes(ms, r, sizeof(r) / sizeof(r[0]));
    ms_clear_requests(ms);
    assert_int_equal(source_poll(s), 0);
    assert_int_equal(ms_count_path(ms, NULL, "/containers/c1/json"),
                     poll == 0 ? 1 : 0);
    sleep(1);
  }
  source_free(s);
  ms_stop(ms);
}

/* GET /nodes as a manager sends it (tests/fixtures/swarm_nodes.json, in
 * moby's Node shape), in pieces, and fields of the wrong type. */
typedef struct {
  char names[8][64];
  char avail[8][16];
  size_t n;
} nodes_seen_t;

static void on_node(void *ud, const docker_node_t *node) {
  nodes_seen_t *x = ud;
  if (x->n >= 8)
    return;
  snprintf(x->names[x->n], sizeof(x->names[0]), "%s",
           node->hostname != NULL ? node->hostname : "(null)");
  snprintf(x->avail[x->n], sizeof(x->avail[0]), "%s",
           node->availability != NULL ? node->availability : "(null)");
  x->n++;
}

static void test_nodes_parser(void **state) {
  (void)state;
  size_t len = 0;
  char *doc = read_fixture("swarm_nodes.json", &len);
  assert_non_null(doc);
  nodes_seen_t x = {0};
  json_stream_t *js = docker_nodes_parser_new(on_node, &x);
  for (size_t i = 0; i < len; i += 7) /* in small pieces */
    assert_int_equal(json_stream_feed(js, doc + i, len - i < 7 ? len - i : 7),
                     0);
  assert_int_equal(json_stream_finish(js), 0);
  json_stream_free(js);
  free(doc);
  assert_int_equal(x.n, 3);
  assert_string_equal(x.names[0], "node-a");
  assert_string_equal(x.avail[0], "active");
  assert_string_equal(x.names[2], "node-c");
  assert_string_equal(x.avail[2], "drain");

  static const char *odd = "[{\"Spec\":{\"Availability\":3},\"Description\":"
                           "{\"Hostname\":[\"a\"]}},7,{\"Description\":"
                           "{\"Hostname\":\"n1\"},\"Spec\":null}]";
  memset(&x, 0, sizeof(x));
  js = docker_nodes_parser_new(on_node, &x);
  assert_int_equal(json_stream_feed(js, odd, strlen(odd)), 0);
  assert_int_equal(json_stream_finish(js), 0);
  json_stream_free(js);
  assert_int_equal(x.n, 2);
  assert_string_equal(x.names[0], "(null)");
  assert_string_equal(x.avail[0], "(null)");
  assert_string_equal(x.names[1], "n1");
  js = docker_nodes_parser_new(on_node, &x);
  assert_int_equal(json_stream_feed(js, "{}", 2), -1); /* not a list */
  json_stream_free(js);
  assert_null(docker_nodes_parser_new(NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nodes_parser),
      cmocka_unit_test(test_targeted_404_keeps_container),
      cmocka_unit_test(test_node_missing),
      cmocka_unit_test(test_node_list_answers),
      cmocka_unit_test(test_failing_checks_inspected_every_poll),
      cmocka_unit_test(test_list_streak_needs_no_inspect),
  };
  return cmocka_run_group_tests_name("swarm", tests, NULL, NULL);
}
