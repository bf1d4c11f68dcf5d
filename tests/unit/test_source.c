/* Unit tests of source.c: a whole poll against a canned Portainer (and a
 * canned Docker socket) served by mini_server on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mini_server.h"
#include "source.h"
#include "testlog.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "ptr_unit_test_secret"

/* --- canned documents: canned_docs.h ------------------------------------ */

#include "canned_docs.h"

static void no_secret_logged(void) {
  assert_int_equal(logs_matching(TOKEN), 0);
  assert_int_equal(logs_matching("hunter2"), 0);
}

static const char *events_body = "";

static void portainer_routes(mini_server_t *ms, int list_status) {
  ms_route_t r[] = {
      {.path = "/api/endpoints/1/docker/events?",
       .prefix = true,
       .body = events_body},
      {.path = "/api/endpoints/7/docker/events?", .prefix = true, .body = ""},
      {.path = "/api/endpoints?start=1&limit=1&excludeSnapshots=true",
       .headers = "X-Total-Count: 3\r\n",
       .body = ENDPOINTS_P1},
      {.path = "/api/endpoints?start=2&limit=1&excludeSnapshots=true",
       .headers = "X-Total-Count: 3\r\n",
       .body = ENDPOINTS_P2},
      {.path = "/api/endpoints?start=3&limit=1&excludeSnapshots=true",
       .headers = "X-Total-Count: 3\r\n",
       .body = ENDPOINTS_P3},
      {.path = "/api/endpoints/1/docker/containers/json?all=1",
       .headers = date_header(),
       .status = list_status,
       .body = list_status == 502 ? NULL : LIST_LOCAL},
      {.path = "/api/endpoints/1/docker/containers/aaa1/json",
       .body = INSPECT_WEB},
      {.path = "/api/endpoints/1/docker/containers/bbb2/json",
       .body = INSPECT_JOB},
      {.path = "/api/endpoints/1/docker/containers/ccc3/json",
       .status = 404,
       .body = GONE},
      {.path = "/api/endpoints/7/docker/containers/json?all=1",
       .headers = date_header(),
       .body = LIST_SWARM},
      {.path = "/api/endpoints/7/docker/containers/",
       .prefix = true,
       .body = INSPECT_ANY},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

static source_t *portainer_source(mini_server_t *ms) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("main");
  conf.url = strdup(ms_url(ms));
  conf.token = strdup(TOKEN);
  conf.page_size = 1;
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

static void test_portainer_poll(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  portainer_routes(ms, 200);
  source_t *s = portainer_source(ms);

  assert_int_equal(source_poll(s), 0);
  const source_stats_t *st = source_stats(s);
  assert_true(st->up);
  assert_true(st->last_success > 0);
  const inventory_t *inv = source_inventory(s);
  assert_int_equal(inv->envs_num, 2); /* kube skipped */
  const inv_env_t *local = inventory_find(inv, 1);
  assert_non_null(local);
  assert_true(local->up);
  assert_int_equal(local->cs_num, 2); /* ccc3 vanished: dropped */
  const container_t *web = find(local, "aaa1");
  assert_non_null(web);
  assert_true(web->inspected);
  assert_int_equal(web->restart_count, 3);
  const container_t *job = find(local, "bbb2");
  assert_int_equal(job->exit_code, 42);
  assert_int_equal(logs_matching("kube"), 1);
  assert_int_equal(logs_matching("ccc3"), 0); /* vanishing is quiet */
  assert_int_equal(logs_matching("gone"), 0);

  /* Every request carried the API key; none a bearer token. */
  for (size_t i = 0; i < ms_request_count(ms); i++) {
    char v[256];
    assert_true(ms_header(ms_request(ms, i), "X-API-Key", v, sizeof(v)));
    assert_string_equal(v, TOKEN);
    assert_false(ms_header(ms_request(ms, i), "Authorization", v, sizeof(v)));
  }
  /* Swarm: the inspect of each container names its node. */
  size_t targeted = 0;
  for (size_t i = 0; i < ms_request_count(ms); i++) {
    const ms_request_t *r = ms_request(ms, i);
    char v[256];
    if (strncmp(r->path, "/api/endpoints/7/docker/containers/ddd4", 39) == 0) {
      assert_true(ms_header(r, "X-PortainerAgent-Target", v, sizeof(v)));
      assert_string_equal(v, "node-a");
      targeted++;
    }
    if (strncmp(r->path, "/api/endpoints/7/docker/containers/eee5", 39) == 0) {
      assert_true(ms_header(r, "X-PortainerAgent-Target", v, sizeof(v)));
      assert_string_equal(v, "node-b");
      targeted++;
    }
  }
  assert_int_equal(targeted, 2);

  /* Steady state: nothing changed, so no inspect at all; one events
   * request per Docker host (two Swarm nodes behind environment 7). */
  sleep(1); /* a new second of the daemon's clock */
  portainer_routes(ms, 200);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  size_t events = 0;
  for (size_t i = 0; i < ms_request_count(ms); i++) {
    const ms_request_t *r = ms_request(ms, i);
    if (getenv("DEBUG_SOURCE"))
      fprintf(stderr, "steady: %s\n", r->path);
    /* (ccc3 is still listed but answers 404: asked again, quietly.) */
    if (strstr(r->path, "/containers/ccc3/") == NULL &&
        strstr(r->path, "/json?all=1") == NULL)
      assert_null(strstr(r->path, "/containers/"));
    if (strstr(r->path, "/events?since=") != NULL)
      events++;
  }
  assert_int_equal(events, 3);
  assert_int_equal(
      ms_count_path(ms, NULL, "/api/endpoints/1/docker/containers/json?all=1"),
      1);

  /* An event names aaa1: only aaa1 is inspected again; exec events (health
   * checks) change nothing. */
  events_body = "{\"Type\":\"container\",\"Action\":\"exec_start: true\","
                "\"Actor\":{\"ID\":\"bbb2\"},\"time\":1,\"timeNano\":1}"
                "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":"
                "\"aaa1\"},\"time\":1,\"timeNano\":1}\n";
  sleep(1);
  portainer_routes(ms, 200);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(
      ms_count_path(ms, NULL, "/api/endpoints/1/docker/containers/aaa1/json"),
      1);
  assert_int_equal(
      ms_count_path(ms, NULL, "/api/endpoints/1/docker/containers/bbb2/json"),
      0);
  events_body = "";
  assert_int_equal(logs_matching("kube"), 1); /* skipped: logged once */
  no_secret_logged();
  source_free(s);
  ms_stop(ms);
}

static void test_env_down_others_fine(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  portainer_routes(ms, 502);
  source_t *s = portainer_source(ms);
  for (int poll = 0; poll < 3; poll++) {
    assert_int_equal(source_poll(s), 0); /* the API itself answers */
    const inv_env_t *local = inventory_find(source_inventory(s), 1);
    const inv_env_t *swarm = inventory_find(source_inventory(s), 7);
    assert_false(local->up);
    assert_true(swarm->up);
    assert_int_equal(swarm->cs_num, 2);
  }
  /* One line for the fault, however many polls it lasts. */
  assert_int_equal(logs_matching("environment \"local\" (id 1): HTTP 502 "
                                 "(empty body)"),
                   1);
  assert_int_equal(source_stats(s)->errors[ERR_HTTP_5XX], 3);
  /* Recovery: values next poll, and one line saying so. */
  portainer_routes(ms, 200);
  assert_int_equal(source_poll(s), 0);
  assert_true(inventory_find(source_inventory(s), 1)->up);
  assert_int_equal(
      logs_matching("\"local\" (id 1): its container list is answering again"),
      1);
  no_secret_logged();
  source_free(s);
  ms_stop(ms);
}

static void test_jwt_login_and_relogin(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  ms_route_t r[] = {
      {.method = "POST", .path = "/api/auth", .body = "{\"jwt\":\"JWT1\"}"},
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .headers = "X-Total-Count: 1\r\n",
       .body = ENDPOINTS_P1},
      {.path = "/api/endpoints/1/docker/containers/json?all=1", .body = "[]"},
  };
  ms_set_routes(ms, r, 3);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("jwt");
  conf.url = strdup(ms_url(ms));
  conf.username = strdup("admin");
  conf.password = strdup("hunter2");
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(ms_count_path(ms, "POST", "/api/auth"), 1);
  const ms_request_t *login = ms_request(ms, 0);
  assert_non_null(strcasestr(login->body, "\"Username\":\"admin\""));
  char v[256];
  const ms_request_t *page = ms_request(ms, 1);
  assert_true(ms_header(page, "Authorization", v, sizeof(v)));
  assert_string_equal(v, "Bearer JWT1");
  assert_false(ms_header(page, "X-API-Key", v, sizeof(v)));

  /* Portainer restarted: the JWT is refused once, the plugin logs in
   * again within the same poll. */
  ms_route_t r2[] = {
      {.method = "POST", .path = "/api/auth", .body = "{\"jwt\":\"JWT2\"}"},
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .status = 401,
       .body = "{\"message\":\"Invalid JWT token\",\"details\":"
               "\"Unauthorized\"}"},
  };
  ms_set_routes(ms, r2, 2);
  ms_clear_requests(ms);
  /* The second page request (with JWT2) gets 401 again: one retry only. */
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(ms_count_path(ms, "POST", "/api/auth"), 1);
  assert_int_equal(logs_matching("Invalid JWT token"), 1);
  ms_set_routes(ms, r, 3);
  assert_int_equal(source_poll(s), 0);
  no_secret_logged();
  source_free(s);
  ms_stop(ms);
}

static void test_bad_credentials(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  ms_route_t r[] = {{.method = "POST",
                     .path = "/api/auth",
                     .status = 422,
                     .body = "{\"message\":\"Invalid credentials\","
                             "\"details\":\"Unauthorized\"}"}};
  ms_set_routes(ms, r, 1);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("bad");
  conf.url = strdup(ms_url(ms));
  conf.username = strdup("admin");
  conf.password = strdup("hunter2");
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(logs_matching("HTTP 422: Invalid credentials: "
                                 "Unauthorized"),
                   1);
  assert_int_equal(source_stats(s)->errors[ERR_AUTH], 2);
  no_secret_logged();
  source_free(s);
  ms_stop(ms);
}

static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static void test_unreachable(void **state) {
  (void)state;
  logs_num = 0;
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("off");
  conf.url = strdup(url);
  conf.token = strdup(TOKEN);
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(source_poll(s), -1);
  assert_false(source_stats(s)->up);
  assert_int_equal(source_stats(s)->errors[ERR_CONNECT], 2);
  assert_int_equal(logs_matching("source \"off\": connect"), 1);
  no_secret_logged();
  source_free(s);
}

static void test_docker_socket(void **state) {
  (void)state;
  logs_num = 0;
  char path[] = "/tmp/pt-unit-XXXXXX";
  assert_non_null(mkdtemp(path));
  char sock[128];
  snprintf(sock, sizeof(sock), "%s/docker.sock", path);
  mini_server_t *ms = ms_start(sock);
  assert_non_null(ms);
  size_t len = 0;
  char *list = read_fixture("list_all.json", &len);
  assert_non_null(list);
  ms_route_t r[] = {
      {.path = "/containers/json?all=1", .body = list, .body_len = len},
      {.path = "/containers/", .prefix = true, .body = INSPECT_ANY},
  };
  ms_set_routes(ms, r, 2);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_DOCKER;
  conf.name = strdup("local");
  conf.socket = strdup(sock);
  conf.interval = 10;
  source_t *s = source_new(&conf, "myhost", log_cb, NULL);
  assert_int_equal(source_poll(s), 0);
  const inv_env_t *e = inventory_find(source_inventory(s), 0);
  assert_non_null(e);
  assert_string_equal(e->name, "myhost");
  assert_true(e->cs_num >= 10);
  for (size_t i = 0; i < e->cs_num; i++)
    assert_true(e->cs[i]->inspected);
  source_free(s);
  ms_stop(ms);
  free(list);
  rmdir(path);
}

/* A Docker source on the canned server's TCP port, with options set by the
 * caller before source_new(). */
static source_conf_t docker_conf(mini_server_t *ms, const char *name) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_DOCKER;
  conf.name = strdup(name);
  conf.url = strdup(ms_url(ms));
  conf.interval = 10;
  conf.timeout_ms = 2000;
  return conf;
}

static void test_events_paths(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  char big[64 * 1024] = "";
  for (int i = 0; i < 250; i++) /* more than the daemon keeps */
    strcat(big, "{\"Type\":\"container\",\"Action\":\"start\","
                "\"Actor\":{\"ID\":\"zzz\"},\"time\":1}");
  ms_route_t r[] = {
      {.path = "/events?",
       .prefix = true,
       .status = 500,
       .body = "{\"message\":\"events broke\"}"},
      {.path = "/containers/json?all=1",
       .headers = date_header(),
       .body = LIST_LOCAL},
      {.path = "/containers/", .prefix = true, .body = INSPECT_ANY},
  };
  ms_set_routes(ms, r, 3);
  source_conf_t conf = docker_conf(ms, "ev");
  source_t *s = source_new(&conf, "h", log_cb, NULL);
  assert_int_equal(source_poll(s), 0); /* cold: everything inspected */
  sleep(1);
  r[1].headers = date_header();
  ms_set_routes(ms, r, 3);
  ms_clear_requests(ms);
  /* The events request fails: one line, and every container inspected. */
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(logs_matching("events request failed"), 1);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/aaa1/json"), 1);
  /* 250 events: the window may have lost some, inspect everything. */
  r[0].status = 200;
  r[0].body = big;
  sleep(1);
  r[1].headers = date_header();
  ms_set_routes(ms, r, 3);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/aaa1/json"), 1);
  assert_int_equal(logs_matching("its events are answering again"), 1);
  source_free(s);
  ms_stop(ms);
}

static void test_odd_answers(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  /* A redirect is not followed: counted, logged, nothing reported. */
  ms_route_t r[] = {{.path = "/containers/json?all=1",
                     .status = 302,
                     .headers = "Location: http://127.0.0.1:1/\r\n"}};
  ms_set_routes(ms, r, 1);
  source_conf_t conf = docker_conf(ms, "odd");
  source_t *s = source_new(&conf, "h", log_cb, NULL);
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(logs_matching("HTTP 302"), 1);
  source_free(s);

  /* Collect "state" "exit_code": only a container whose Status has no code
   * ("Dead") is inspected; ContainerExclude drops one. */
  ms_route_t r2[] = {
      {.path = "/containers/json?all=1",
       .body = "[{\"Id\":\"d1\",\"Names\":[\"/dead\"],\"State\":\"dead\","
               "\"Status\":\"Dead\"},{\"Id\":\"e1\",\"Names\":[\"/ex\"],"
               "\"State\":\"exited\",\"Status\":\"Exited (2) 1 second ago\"},"
               "{\"Id\":\"t1\",\"Names\":[\"/tmp-x\"],\"State\":\"running\","
               "\"Status\":\"Up 1 second\"}]"},
      {.path = "/containers/", .prefix = true, .body = INSPECT_ANY},
  };
  ms_set_routes(ms, r2, 2);
  ms_clear_requests(ms);
  conf = docker_conf(ms, "col");
  conf.collect = COLLECT_STATE | COLLECT_EXIT_CODE;
  assert_int_equal(regcomp(&conf.ct_exclude.re, "^tmp-", REG_EXTENDED), 0);
  conf.ct_exclude.set = true;
  s = source_new(&conf, "h", log_cb, NULL);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(inventory_find(source_inventory(s), 0)->cs_num, 2);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/d1/json"), 1);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/e1/json"), 0);
  source_free(s);
  ms_stop(ms);
}

static void test_pages_without_total_and_bad_login(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  /* No X-Total-Count: full pages are followed one after another. */
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=1&excludeSnapshots=true",
       .body = ENDPOINTS_P1},
      {.path = "/api/endpoints?start=2&limit=1&excludeSnapshots=true",
       .body = ENDPOINTS_P3},
      {.path = "/api/endpoints?start=3&limit=1&excludeSnapshots=true",
       .body = "[]"},
      {.path = "/api/endpoints/", .prefix = true, .body = "[]"},
      {.method = "POST", .path = "/api/auth", .body = "{\"token\":\"x\"}"},
  };
  ms_set_routes(ms, r, 5);
  source_t *s = portainer_source(ms);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(source_inventory(s)->envs_num, 2);
  assert_int_equal(ms_count_path(ms, NULL,
                                 "/api/endpoints?start=3&limit=1&"
                                 "excludeSnapshots=true"),
                   1);
  source_free(s);

  /* A login answer without a usable jwt. */
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("nojwt");
  conf.url = strdup(ms_url(ms));
  conf.username = strdup("admin");
  conf.password = strdup("hunter2");
  conf.interval = 10;
  s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(logs_matching("without a usable \"jwt\""), 1);
  source_free(s);
  ms_stop(ms);
}

static void test_short_secret_echoed(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  ms_route_t r[] = {{.path = "/api/endpoints?",
                     .prefix = true,
                     .status = 401,
                     .body = "{\"message\":\"bad key abcde\",\"details\":"
                             "\"abcde\"}"}};
  ms_set_routes(ms, r, 1);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("echo");
  conf.url = strdup(ms_url(ms));
  conf.token = strdup("abcde");
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), -1);
  assert_int_equal(logs_matching("abcde"), 0);
  assert_int_equal(logs_matching("bad key <secret>"), 1);
  source_free(s);
  ms_stop(ms);
}

static void test_deadline_bounds_poll(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  ms_route_t r[] = {
      {.path = "/containers/json?all=1", .delay_ms = 3000, .body = "[]"}};
  ms_set_routes(ms, r, 1);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_DOCKER;
  conf.name = strdup("slow");
  conf.url = strdup(ms_url(ms));
  conf.interval = 1; /* deadline: 1 s */
  conf.timeout_ms = 10000;
  source_t *s = source_new(&conf, "h", log_cb, NULL);
  assert_int_equal(source_poll(s), -1);
  assert_true(source_stats(s)->poll_seconds < 2.0);
  assert_int_equal(source_stats(s)->errors[ERR_TIMEOUT], 1);
  source_free(s);
  ms_stop(ms);
}

static void test_group_tag_shard_filters(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .headers = "X-Total-Count: 4\r\n",
       .body = "[{\"Id\":1,\"Name\":\"a\",\"Type\":1,\"GroupId\":1,"
               "\"TagIds\":[]},"
               "{\"Id\":2,\"Name\":\"b\",\"Type\":1,\"GroupId\":2,"
               "\"TagIds\":[7,9]},"
               "{\"Id\":3,\"Name\":\"c\",\"Type\":1,\"GroupId\":2,"
               "\"TagIds\":[8]},"
               "{\"Id\":4,\"Name\":\"d\",\"Type\":5,\"GroupId\":2,"
               "\"TagIds\":[9]}]"},
      {.path = "/api/endpoints/", .prefix = true, .body = "[]"},
  };
  ms_set_routes(ms, r, 2);
  /* Group 2 and tag 9: only "b" (and "d", which is not Docker). */
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("filt");
  conf.url = strdup(ms_url(ms));
  conf.token = strdup(TOKEN);
  conf.interval = 10;
  conf.group_ids = calloc(1, sizeof(int64_t));
  conf.group_ids[0] = 2;
  conf.group_ids_num = 1;
  conf.tag_ids = calloc(1, sizeof(int64_t));
  conf.tag_ids[0] = 9;
  conf.tag_ids_num = 1;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), 0);
  const inventory_t *inv = source_inventory(s);
  assert_int_equal(inv->envs_num, 1);
  assert_non_null(inventory_find(inv, 2));
  assert_int_equal(logs_matching("\"d\" (id 4) is of type 5"), 1);
  assert_int_equal(logs_matching("\"a\""), 0); /* filtered: silent */
  source_free(s);

  /* Shard 2/2 keeps the odd ids... */
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("shard");
  conf.url = strdup(ms_url(ms));
  conf.token = strdup(TOKEN);
  conf.interval = 10;
  conf.shard_index = 2;
  conf.shard_count = 2;
  s = source_new(&conf, "collector", log_cb, NULL);
  assert_int_equal(source_poll(s), 0);
  inv = source_inventory(s);
  assert_int_equal(inv->envs_num, 2);
  assert_non_null(inventory_find(inv, 1));
  assert_non_null(inventory_find(inv, 3));
  source_free(s);
  ms_stop(ms);
}

/* --- Edge agents, async snapshots, scheduling ------------------------------
 */

/* Formats into a fresh buffer of a small ring (mini_server copies routes). */
static const char *fmt(const char *f, ...) {
  static char ring[8][8192];
  static int next;
  char *b = ring[next++ % 8];
  va_list ap;
  va_start(ap, f);
  vsnprintf(b, sizeof(ring[0]), f, ap);
  va_end(ap);
  return b;
}

/* "[" + item(first) + "," ... + item(last) + tail into buf; item is a
 * format taking the number twice. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral" /* item: the test's own   \
                                                      */
static void json_items(char *buf, size_t size, int first, int last,
                       const char *item, const char *tail) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int i = first; i <= last && used < size; i++) {
    if (i > first)
      used += (size_t)snprintf(buf + used, size - used, ",");
    if (used < size)
      used += (size_t)snprintf(buf + used, size - used, item, i, i);
  }
  if (used < size)
    snprintf(buf + used, size - used, "%s", tail);
  assert_true(used < size);
}
#pragma GCC diagnostic pop

static size_t requests_under(mini_server_t *ms, const char *prefix) {
  size_t n = 0;
  for (size_t i = 0; i < ms_request_count(ms); i++)
    if (strncmp(ms_request(ms, i)->path, prefix, strlen(prefix)) == 0)
      n++;
  return n;
}

/* An Edge item of the environment list: heartbeat, last check-in (seconds
 * before QueryDate; < 0: never), EdgeID or not. */
static const char *edge_item(int id, const char *name, bool heartbeat, long ago,
                             bool edge_id, long long now) {
  return fmt(
      "{\"Id\":%d,\"Name\":\"%s\",\"Type\":4,\"Status\":1,%s"
      "\"EdgeCheckinInterval\":5,\"LastCheckInDate\":%lld,"
      "\"QueryDate\":%lld,\"Heartbeat\":%s,\"Edge\":{\"AsyncMode\":false,"
      "\"PingInterval\":0,\"SnapshotInterval\":0,\"CommandInterval\":0}}",
      id, name, edge_id ? "\"EdgeID\":\"e-1\"," : "", ago < 0 ? 0LL : now - ago,
      now, heartbeat ? "true" : "false");
}

static void edge_routes(mini_server_t *ms, const char *list) {
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .headers = "X-Total-Count: 5\r\n",
       .body = list},
      {.path = "/api/endpoints/4/docker/containers/json?all=1",
       .headers = date_header(),
       .body = "[]"},
      {.path = "/api/endpoints/5/docker/containers/json?all=1",
       .headers = date_header(),
       .body = "[]"},
      {.path = "/api/endpoints/1/docker/containers/json?all=1",
       .headers = date_header(),
       .body = "[]"},
      {.path = "/api/endpoints/", .prefix = true, .body = ""},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

static source_t *edge_source(mini_server_t *ms, int max_in_flight,
                             long timeout_ms, double interval) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup("pt");
  conf.url = strdup(ms_url(ms));
  conf.token = strdup(TOKEN);
  conf.interval = interval;
  conf.timeout_ms = timeout_ms;
  conf.max_in_flight = max_in_flight;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_non_null(s);
  return s;
}

static void test_edge_offline_not_asked(void **state) {
  (void)state;
  logs_num = 0;
  long long now = (long long)time(NULL);
  mini_server_t *ms = ms_start(NULL);
  char list[4096];
  snprintf(list, sizeof(list), "[%s,",
           edge_item(1, "edge-off", false, 3600, true, now));
  strcat(list, edge_item(2, "edge-late", true, 31, true, now));
  strcat(list, ",");
  strcat(list, edge_item(3, "edge-new", false, -1, false, now));
  strcat(list, ",");
  strcat(list, edge_item(4, "edge-on", true, 2, true, now));
  strcat(list, ",{\"Id\":5,\"Name\":\"local\",\"Type\":1,\"Status\":1}]");
  edge_routes(ms, list);
  source_t *s = edge_source(ms, 16, 2000, 10);
  for (int poll = 0; poll < 2; poll++) {
    assert_int_equal(source_poll(s), 0);
    const inventory_t *inv = source_inventory(s);
    assert_false(inventory_find(inv, 1)->up);
    assert_false(inventory_find(inv, 2)->up);
    assert_false(inventory_find(inv, 3)->up);
    assert_true(inventory_find(inv, 4)->up);
    assert_true(inventory_find(inv, 5)->up);
  }
  /* Nothing was asked of the offline ones; each said so once. */
  assert_int_equal(requests_under(ms, "/api/endpoints/1/"), 0);
  assert_int_equal(requests_under(ms, "/api/endpoints/2/"), 0);
  assert_int_equal(requests_under(ms, "/api/endpoints/3/"), 0);
  assert_int_equal(
      requests_under(ms, "/api/endpoints/4/docker/containers/json"), 2);
  char when[64], want[256];
  time_t t = (time_t)(now - 3600);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
  snprintf(want, sizeof(want),
           "source \"pt\": environment \"edge-off\" (id 1): Edge agent offline "
           "(last check-in %s, 3600 s ago; Portainer expects one every 5 s)",
           when);
  assert_int_equal(logs_matching(want), 1);
  assert_int_equal(
      logs_matching("\"edge-late\" (id 2): Edge agent offline (last check-in"),
      1);
  assert_int_equal(logs_matching("\"edge-late\" (id 2)"), 1);
  assert_int_equal(logs_matching("\"edge-new\" (id 3): no Edge agent"), 1);
  assert_int_equal(logs_matching("edge-on"), 0);
  assert_int_equal(source_stats(s)->errors[ERR_HTTP_5XX], 0);

  /* edge-off checks in: asked in the very next poll, back said once. */
  now = (long long)time(NULL);
  snprintf(list, sizeof(list), "[%s,",
           edge_item(1, "edge-off", true, 1, true, now));
  strcat(list, edge_item(2, "edge-late", true, 31, true, now));
  strcat(list, ",");
  strcat(list, edge_item(3, "edge-new", false, -1, false, now));
  strcat(list, ",");
  strcat(list, edge_item(4, "edge-on", true, 2, true, now));
  strcat(list, ",{\"Id\":5,\"Name\":\"local\",\"Type\":1,\"Status\":1}]");
  edge_routes(ms, list);
  for (int poll = 0; poll < 2; poll++) {
    assert_int_equal(source_poll(s), 0);
    assert_true(inventory_find(source_inventory(s), 1)->up);
  }
  assert_int_equal(
      requests_under(ms, "/api/endpoints/1/docker/containers/json"), 2);
  assert_int_equal(logs_matching("\"edge-off\" (id 1): Edge agent checking in "
                                 "again (last check-in"),
                   1);
  assert_int_equal(logs_matching("\"edge-late\" (id 2)"), 1);
  source_free(s);
  ms_stop(ms);
}

static const char *SNAP_CONTAINERS =
    "[{\"Id\":\"s1\",\"Names\":[\"/web\"],\"Image\":\"nginx\",\"State\":"
    "\"running\",\"Status\":\"Up 2 hours (unhealthy)\"},"
    "{\"Id\":\"s2\",\"Names\":[\"/job\"],\"Image\":\"bb\",\"State\":\"exited\","
    "\"Status\":\"Exited (3) 1 hour ago\"}]";

static void async_routes(mini_server_t *ms, long long now, const char *snap) {
  const char *list =
      fmt("[{\"Id\":6,\"Name\":\"edge-async\",\"Type\":4,\"EdgeID\":\"e-6\","
          "\"Snapshots\":[],\"LastCheckInDate\":%lld,\"QueryDate\":%lld,"
          "\"Heartbeat\":true,\"Edge\":{\"AsyncMode\":true,\"PingInterval\":0,"
          "\"SnapshotInterval\":10,\"CommandInterval\":0}}]",
          now - 3, now);
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .headers = "X-Total-Count: 1\r\n",
       .body = list},
      {.path = "/api/endpoints/6", .headers = date_header(), .body = snap},
      {.path = "/api/endpoints/",
       .prefix = true,
       .status = 500,
       .body = "{\"message\":\"Unable to get the active tunnel\",\"details\":"
               "\"Cannot open a tunnel for async edge environments\"}"},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

static const char *snapshot_doc(long long time_) {
  return fmt(
      "{\"Id\":6,\"Name\":\"edge-async\",\"Snapshots\":[{\"Time\":%lld,"
      "\"DockerVersion\":\"20.10\",\"DockerSnapshotRaw\":{\"Containers\":"
      "%s,\"Images\":[],\"Info\":{}}}],\"Heartbeat\":true}",
      time_, SNAP_CONTAINERS);
}

static void test_async_edge_snapshot(void **state) {
  (void)state;
  logs_num = 0;
  long long now = (long long)time(NULL);
  mini_server_t *ms = ms_start(NULL);
  async_routes(ms, now, snapshot_doc(now - 5));
  source_t *s = edge_source(ms, 16, 2000, 10);
  assert_int_equal(source_poll(s), 0);
  const inv_env_t *e = inventory_find(source_inventory(s), 6);
  assert_non_null(e);
  assert_true(e->up);
  assert_true(e->snapshot_only);
  assert_true(e->snapshot_age >= 4 && e->snapshot_age <= 8);
  assert_int_equal(e->cs_num, 2);
  const container_t *web = find(e, "s1"), *job = find(e, "s2");
  assert_int_equal(container_state(web), CSTATE_RUNNING);
  assert_int_equal(container_health(web), CHEALTH_UNHEALTHY);
  assert_false(web->inspected);
  assert_int_equal(container_state(job), CSTATE_EXITED);
  assert_string_equal(job->status, "Exited (3) 1 hour ago");
  /* Never proxied, never inspected. */
  assert_int_equal(requests_under(ms, "/api/endpoints/6/"), 0);
  assert_int_equal(source_stats(s)->inspects, 0);
  assert_int_equal(logs_num, 0);

  /* The agent stops sending snapshots: stale past 2 x 10 + 20 s. */
  now = (long long)time(NULL);
  async_routes(ms, now, snapshot_doc(now - 100));
  for (int poll = 0; poll < 2; poll++) {
    assert_int_equal(source_poll(s), 0);
    e = inventory_find(source_inventory(s), 6);
    assert_false(e->up);
    assert_true(e->snapshot_age >= 99 && e->snapshot_age <= 104);
  }
  assert_int_equal(logs_matching("\"edge-async\" (id 6): async Edge agent: "
                                 "Portainer's snapshot is "),
                   1);
  assert_int_equal(logs_matching("fresh means at most 40 s): up 0"), 1);
  /* A fresh one again; then none at all. */
  async_routes(ms, now, snapshot_doc((long long)time(NULL) - 1));
  assert_int_equal(source_poll(s), 0);
  assert_true(inventory_find(source_inventory(s), 6)->up);
  assert_int_equal(logs_matching("async Edge agent: a fresh snapshot again"),
                   1);
  async_routes(ms, now, "{\"Id\":6,\"Snapshots\":[]}");
  assert_int_equal(source_poll(s), 0);
  e = inventory_find(source_inventory(s), 6);
  assert_false(e->up);
  assert_int_equal(e->snapshot_age, -1);
  assert_int_equal(logs_matching("Portainer has no snapshot of its containers"),
                   1);
  assert_int_equal(requests_under(ms, "/api/endpoints/6/"), 0);
  source_free(s);
  ms_stop(ms);
}

/* Twenty agents that accept and never answer, listed before a healthy
 * environment: four slots of 2.5 s each would need 12.5 s, past the 4.5 s
 * deadline; the healthy one reports on every poll, the first included, and
 * from the second poll on it is asked first. */
static void test_slow_envs_do_not_delay(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  char list[8192];
  json_items(list, sizeof(list), 1, 20,
             "{\"Id\":%d,\"Name\":\"hole-%d\",\"Type\":2,\"Status\":1}",
             ",{\"Id\":21,\"Name\":\"fine\",\"Type\":1,\"Status\":1}]");
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .headers = "X-Total-Count: 21\r\n",
       .body = list},
      {.path = "/api/endpoints/21/docker/containers/json?all=1",
       .headers = date_header(),
       .body = LIST_LOCAL},
      {.path = "/api/endpoints/21/docker/", .prefix = true, .body = "{}"},
      {.path = "/api/endpoints/", .prefix = true, .delay_ms = 6000},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
  source_t *s = edge_source(ms, 4, 2500, 5);
  bool fine_slow = false;
  for (int poll = 0; poll < 2; poll++) {
    ms_clear_requests(ms);
    assert_int_equal(source_poll(s), 0);
    const inventory_t *inv = source_inventory(s);
    const inv_env_t *fine = inventory_find(inv, 21);
    assert_true(fine->up);
    assert_int_equal(fine->cs_num, 3);
    for (int id = 1; id <= 20; id++) {
      const inv_env_t *hole = inventory_find(inv, id);
      assert_false(hole->up);
      assert_true(hole->slow);
    }
    /* (A machine too busy to answer it within the lease makes it slow
     * too: then nothing tells them apart.) */
    fine_slow = fine_slow || fine->slow;
    if (poll == 1 && !fine_slow) { /* the slow ones after it */
      size_t at = 0;
      for (size_t i = 0; i < ms_request_count(ms) && at == 0; i++)
        if (strcmp(ms_request(ms, i)->path,
                   "/api/endpoints/21/docker/containers/json?all=1") == 0)
          at = i;
      assert_true(at >= 1 && at <= 4);
    }
  }
  assert_int_equal(source_stats(s)->errors[ERR_TIMEOUT], 40);
  source_free(s);
  ms_stop(ms);
}

/* Two hosts' inspects take turns: the small host's few are not queued
 * behind the big host's many. */
static void test_inspects_take_turns(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  char big[8192];
  json_items(big, sizeof(big), 10, 39,
             "{\"Id\":\"a%d\",\"Names\":[\"/a%d\"],\"Image\":\"x\","
             "\"State\":\"running\",\"Status\":\"Up 1 hour\"}",
             "]");
  ms_route_t r[] = {
      {.path = "/api/endpoints?start=1&limit=100&excludeSnapshots=true",
       .headers = "X-Total-Count: 2\r\n",
       .body = "[{\"Id\":1,\"Name\":\"big\",\"Type\":1},"
               "{\"Id\":2,\"Name\":\"small\",\"Type\":1}]"},
      {.path = "/api/endpoints/1/docker/containers/json?all=1",
       .headers = date_header(),
       .body = big},
      {.path = "/api/endpoints/2/docker/containers/json?all=1",
       .headers = date_header(),
       .delay_ms = 50,
       .body = LIST_LOCAL},
      {.path = "/api/endpoints/",
       .prefix = true,
       .delay_ms = 200,
       .body = INSPECT_ANY},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
  source_t *s = edge_source(ms, 2, 2500, 10);
  assert_int_equal(source_poll(s), 0);
  assert_true(inventory_find(source_inventory(s), 1)->up);
  assert_true(inventory_find(source_inventory(s), 2)->up);
  size_t seen = 0, last_small = 0;
  for (size_t i = 0; i < ms_request_count(ms); i++) {
    const char *p = ms_request(ms, i)->path;
    if (strstr(p, "/containers/json") != NULL ||
        strstr(p, "/containers/") == NULL)
      continue;
    seen++;
    if (strncmp(p, "/api/endpoints/2/", 17) == 0)
      last_small = seen;
  }
  assert_int_equal(seen, 33);
  assert_true(last_small > 0 && last_small <= 12);
  assert_int_equal(source_stats(s)->inspects, 33);
  source_free(s);
  ms_stop(ms);
}

/* A Date header line for unix time t. */
static const char *date_at(char *buf, size_t size, time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, size, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  return buf;
}

/* How many events requests asked exactly this window. */
static size_t events_asked(mini_server_t *ms, long long since,
                           long long until) {
  char want[96];
  size_t n = 0;
  snprintf(want, sizeof(want), "/events?since=%lld&until=%lld&", since, until);
  for (size_t i = 0; i < ms_request_count(ms); i++)
    n += strncmp(ms_request(ms, i)->path, want, strlen(want)) == 0;
  return n;
}

/* The daemon's clock steps back an hour between two polls: its events
 * window would run backwards, so that poll asks no events and inspects
 * every container, with one info line; the next window is on the new
 * clock. */
static void test_clock_steps_back(void **state) {
  (void)state;
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  char date[128];
  ms_route_t r[] = {
      {.path = "/events?", .prefix = true, .body = ""},
      {.path = "/containers/json?all=1", .body = LIST_LOCAL},
      {.path = "/containers/", .prefix = true, .body = INSPECT_ANY},
  };
  source_conf_t conf = docker_conf(ms, "clock");
  conf.full_inspect_every = 1000;
  source_t *s = source_new(&conf, "h", log_cb, NULL);
  time_t t = time(NULL);
  r[1].headers = date_at(date, sizeof(date), t);
  ms_set_routes(ms, r, 3);
  assert_int_equal(source_poll(s), 0); /* cold: everything inspected */

  /* Steady, on the same clock: a window, web not inspected. */
  time_t t2 = time(NULL);
  r[1].headers = date_at(date, sizeof(date), t2);
  ms_set_routes(ms, r, 3);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(events_asked(ms, t - 1, t2), 1);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/aaa1/json"), 0);

  /* An hour back: no window, every container inspected, said once. */
  time_t back = time(NULL) - 3600;
  r[1].headers = date_at(date, sizeof(date), back);
  ms_set_routes(ms, r, 3);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/aaa1/json"), 1);
  for (size_t i = 0; i < ms_request_count(ms); i++)
    assert_null(strstr(ms_request(ms, i)->path, "/events?"));
  assert_int_equal(logs_matching("the Docker daemon's clock went back"), 1);

  /* Then steady again, the window on the new clock. */
  time_t back2 = time(NULL) - 3600;
  r[1].headers = date_at(date, sizeof(date), back2);
  ms_set_routes(ms, r, 3);
  ms_clear_requests(ms);
  assert_int_equal(source_poll(s), 0);
  assert_int_equal(events_asked(ms, back - 1, back2), 1);
  assert_int_equal(ms_count_path(ms, NULL, "/containers/aaa1/json"), 0);
  assert_int_equal(logs_matching("the Docker daemon's clock went back"), 1);
  source_free(s);
  ms_stop(ms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_tag_shard_filters),
      cmocka_unit_test(test_portainer_poll),
      cmocka_unit_test(test_env_down_others_fine),
      cmocka_unit_test(test_jwt_login_and_relogin),
      cmocka_unit_test(test_bad_credentials),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_docker_socket),
      cmocka_unit_test(test_deadline_bounds_poll),
      cmocka_unit_test(test_events_paths),
      cmocka_unit_test(test_odd_answers),
      cmocka_unit_test(test_pages_without_total_and_bad_login),
      cmocka_unit_test(test_short_secret_echoed),
      cmocka_unit_test(test_edge_offline_not_asked),
      cmocka_unit_test(test_async_edge_snapshot),
      cmocka_unit_test(test_slow_envs_do_not_delay),
      cmocka_unit_test(test_inspects_take_turns),
      cmocka_unit_test(test_clock_steps_back),
  };
  http_global_init();
  return cmocka_run_group_tests_name("source", tests, NULL, NULL);
}
