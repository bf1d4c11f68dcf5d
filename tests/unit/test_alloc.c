/**
 * test_alloc.c: every allocation of a whole poll fails in turn.
 *
 * The test is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=strdup,--wrap=strndup,--wrap=vasprintf (Makefile.am): every call the
 * project's own objects make goes through the wrappers below, which fail the
 * Nth allocation of the armed thread (the poll's) and let every other one
 * through.  libcurl's and yajl's own allocations are outside (they are
 * shared libraries); so is the mini_server's thread.
 *
 * For a Portainer source (login, three pages, a skipped environment, a
 * plain and a Swarm agent environment, lists, events per node, inspects, a
 * container gone between list and inspect) and for a Docker source, cold
 * (first poll) and warm (a poll with events), and for each N until the poll
 * has fewer than N allocations:
 *   - the poll with the Nth allocation failing does not crash;
 *   - it either reports the fault — the source's up is 0, an environment's
 *     up is 0, or an error is counted — or it ends exactly as a clean poll
 *     does (a failure with nothing lost: a log-once list, say); a silently
 *     different result (a missing container, a container without its
 *     inspect values, and no error counted) fails the test;
 *   - the next poll, without injection, ends exactly as a clean one;
 *   - nothing leaks (built with --enable-sanitizers: LeakSanitizer checks
 *     after every N, the source being still alive and reachable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mini_server.h"
#include "source.h"

#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

/* --- the failing allocator --------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);

/* volatile: the compiler takes malloc() and strdup() for the C library's,
 * which read no program state, and would move these stores past them. */
static _Thread_local volatile bool fa_armed;
static _Thread_local volatile long fa_seen;    /* allocations while armed */
static _Thread_local volatile long fa_fail_at; /* 1-based; 0: none */
static _Thread_local volatile bool fa_fired;

static void fa_arm(long n) {
  fa_seen = 0;
  fa_fail_at = n;
  fa_fired = false;
  fa_armed = true;
}

/* Disarms; returns whether the Nth allocation happened (and failed). */
static bool fa_disarm(void) {
  fa_armed = false;
  return fa_fired;
}

static bool fa_fail(void) {
  if (!fa_armed)
    return false;
  if (++fa_seen == fa_fail_at) {
    fa_fired = true;
    if (getenv("ALLOC_TRACE") != NULL) { /* where it failed, for debugging */
      void *frames[16];
      fa_armed = false;
      fprintf(stderr, "ALLOC %ld failed here:\n", fa_seen);
      backtrace_symbols_fd(frames, backtrace(frames, 8), 2);
      fa_armed = true;
    }
    return true;
  }
  return false;
}

void *__wrap_malloc(size_t n) {
  return fa_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
  return fa_fail() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
  return fa_fail() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s) {
  return fa_fail() ? NULL : __real_strdup(s);
}
char *__wrap_strndup(const char *s, size_t n) {
  return fa_fail() ? NULL : __real_strndup(s, n);
}
int __wrap_vasprintf(char **out, const char *fmt, va_list ap) {
  if (fa_fail())
    return -1; /* as glibc says it: *out is then undefined */
  return __real_vasprintf(out, fmt, ap);
}

/* --- the world ----------------------------------------------------------- */

#define DATE "Date: Sun, 22 Nov 2026 10:00:00 GMT\r\n"

/* The world of test_source.c, with an environment that has tags and a
 * container with the TypeInstance label (more to parse, more to allocate). */
#include "canned_docs.h"

static const char *const ENDPOINTS_P1_TAGGED =
    "[{\"Id\":1,\"Name\":\"local\",\"Type\":1,\"Status\":1,\"TagIds\":[1,2],"
    "\"GroupId\":1}]";
static const char *const LIST_LOCAL_LABELLED =
    "[{\"Id\":\"aaa1\",\"Names\":[\"/web\"],\"Image\":\"nginx:1.27\","
    "\"State\":\"running\",\"Status\":\"Up 3 weeks (healthy)\","
    "\"Labels\":{\"tier\":\"front\"}},"
    "{\"Id\":\"bbb2\",\"Names\":[\"/job\"],\"Image\":\"bb\","
    "\"State\":\"exited\",\"Status\":\"Exited (42) 3 weeks ago\"},"
    "{\"Id\":\"ccc3\",\"Names\":[\"/gone\"],\"Image\":\"bb\","
    "\"State\":\"running\",\"Status\":\"Up 1 second\"}]";
/* Events: aaa1 died (inspected again on a warm poll); a health check's
 * exec changes nothing. */
static const char *EVENTS =
    "{\"Type\":\"container\",\"Action\":\"exec_start: true\","
    "\"Actor\":{\"ID\":\"bbb2\"},\"time\":1,\"timeNano\":1}\n"
    "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"aaa1\","
    "\"Attributes\":{\"name\":\"web\"}},\"time\":1,\"timeNano\":1}\n";

static void portainer_routes(mini_server_t *ms) {
  ms_route_t r[] = {
      {.method = "POST", .path = "/api/auth", .body = "{\"jwt\":\"JWT1\"}"},
      {.path = "/api/endpoints/1/docker/events?",
       .prefix = true,
       .body = EVENTS},
      {.path = "/api/endpoints/7/docker/events?",
       .prefix = true,
       .body = EVENTS},
      {.path = "/api/endpoints?start=1&limit=1&excludeSnapshots=true",
       .headers = "X-Total-Count: 3\r\n",
       .body = ENDPOINTS_P1_TAGGED},
      {.path = "/api/endpoints?start=2&limit=1&excludeSnapshots=true",
       .headers = "X-Total-Count: 3\r\n",
       .body = ENDPOINTS_P2},
      {.path = "/api/endpoints?start=3&limit=1&excludeSnapshots=true",
       .headers = "X-Total-Count: 3\r\n",
       .body = ENDPOINTS_P3},
      {.path = "/api/endpoints/1/docker/containers/json?all=1",
       .headers = DATE,
       .body = LIST_LOCAL_LABELLED},
      {.path = "/api/endpoints/1/docker/containers/aaa1/json",
       .body = INSPECT_WEB},
      {.path = "/api/endpoints/1/docker/containers/bbb2/json",
       .body = INSPECT_JOB},
      {.path = "/api/endpoints/1/docker/containers/ccc3/json",
       .status = 404,
       .body = GONE},
      {.path = "/api/endpoints/7/docker/containers/json?all=1",
       .headers = DATE,
       .body = LIST_SWARM},
      {.path = "/api/endpoints/7/docker/containers/",
       .prefix = true,
       .body = INSPECT_ANY},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

static void docker_routes(mini_server_t *ms) {
  ms_route_t r[] = {
      {.path = "/events?", .prefix = true, .body = EVENTS},
      {.path = "/containers/json?all=1",
       .headers = DATE,
       .body = LIST_LOCAL_LABELLED},
      {.path = "/containers/aaa1/json", .body = INSPECT_WEB},
      {.path = "/containers/bbb2/json", .body = INSPECT_JOB},
      {.path = "/containers/ccc3/json", .status = 404, .body = GONE},
  };
  assert_int_equal(ms_set_routes(ms, r, sizeof(r) / sizeof(r[0])), 0);
}

static size_t logs_num;
static void log_cb(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  (void)msg;
  logs_num++;
}

static source_t *new_source(mini_server_t *ms, source_kind_t kind) {
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = kind;
  conf.name = strdup(kind == SOURCE_PORTAINER ? "main" : "dock");
  conf.url = strdup(ms_url(ms));
  if (kind == SOURCE_PORTAINER) {
    conf.username = strdup("admin");
    conf.password = strdup("hunter2");
    conf.page_size = 1;
  } else {
    conf.host = strdup("dockhost");
  }
  conf.ti_mode = TYPE_INSTANCE_LABEL;
  conf.ti_label = strdup("tier");
  conf.interval = 30;
  conf.timeout_ms = 5000;
  conf.max_in_flight = 1; /* one request at a time: the same order each poll */
  conf.full_inspect_every = 1000000;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_non_null(s);
  return s;
}

/* --- what a poll left ---------------------------------------------------- */

/* Everything the values are made of, in a stable order (environments by
 * id; containers are kept sorted by id). */
static void snapshot(const source_t *s, char *buf, size_t size) {
  const inventory_t *inv = source_inventory(s);
  size_t n = (size_t)snprintf(buf, size, "up=%d envs=%zu\n",
                              source_stats(s)->up, inv->envs_num);
  int64_t last = INT64_MIN;
  for (size_t k = 0; k < inv->envs_num && n < size; k++) {
    const inv_env_t *e = NULL;
    for (size_t i = 0; i < inv->envs_num; i++)
      if (inv->envs[i]->id > last && (e == NULL || inv->envs[i]->id < e->id))
        e = inv->envs[i];
    if (e == NULL)
      break;
    last = e->id;
    n += (size_t)snprintf(buf + n, size - n, "env %lld %s up=%d cs=%zu\n",
                          (long long)e->id, e->name, e->up, e->cs_num);
    for (size_t j = 0; j < e->cs_num && n < size; j++) {
      const container_t *c = e->cs[j];
      n += (size_t)snprintf(
          buf + n, size - n,
          "  %s %s %s %s st=%d '%s' lh=%d/%d lfs=%lld ins=%d rc=%lld "
          "ec=%lld oom=%d start=%lld fin=%lld hc=%d ih=%d fs=%lld ist=%d\n",
          c->id, c->name, c->image, c->label ? c->label : "-", (int)c->state,
          c->status, c->list_health_known, (int)c->list_health,
          (long long)c->list_failing_streak, c->inspected,
          (long long)c->restart_count, (long long)c->exit_code, c->oom_killed,
          (long long)c->started_at, (long long)c->finished_at,
          c->has_healthcheck, (int)c->inspect_health,
          (long long)c->failing_streak, (int)c->inspect_state);
    }
  }
}

static uint64_t errors_total(const source_t *s) {
  uint64_t t = 0;
  for (int k = 0; k < ERR_KINDS_NUM; k++)
    t += source_stats(s)->errors[k];
  return t;
}

static bool some_env_down(const source_t *s, const char *clean) {
  const inventory_t *inv = source_inventory(s);
  size_t clean_envs = 0;
  for (const char *p = clean; (p = strstr(p, "\nenv ")) != NULL; p++)
    clean_envs++;
  if (inv->envs_num < clean_envs)
    return true; /* an environment not reached is "up 0" in the values */
  for (size_t i = 0; i < inv->envs_num; i++)
    if (!inv->envs[i]->up)
      return true;
  return false;
}

#define SNAP 16384

typedef struct {
  long polls_injected; /* N for which the failure happened */
  long reported;       /* ... and the poll reported it */
  long harmless;       /* ... and the poll ended as a clean one */
} tally_t;

/* ALLOC_KEEP_GOING=1 lists every problem instead of stopping at the first
 * (for debugging; the test still fails at the end). */
static long problems;
static void problem(void) {
  problems++;
  if (getenv("ALLOC_KEEP_GOING") == NULL)
    fail();
}

/* Fails allocation n of one poll of s; checks the poll and the next. */
static bool inject(source_t *s, long n, const char *clean, tally_t *t,
                   const char *what) {
  char got[SNAP];
  uint64_t errs = errors_total(s);
  int64_t t0 = (int64_t)time(NULL);
  fa_arm(n);
  int rc = source_poll(s);
  bool fired = fa_disarm();
  if (getenv("ALLOC_TRACE") != NULL && time(NULL) - t0 > 1)
    fprintf(stderr, "%s: allocation %ld: the poll took %lld s\n", what, n,
            (long long)(time(NULL) - t0));
  if (!fired)
    return false; /* fewer than n allocations: done */
  t->polls_injected++;
  snapshot(s, got, sizeof(got));
  bool reported =
      rc != SOURCE_POLL_UP || some_env_down(s, clean) || errors_total(s) > errs;
  if (reported) {
    t->reported++;
  } else if (strcmp(got, clean) == 0) {
    t->harmless++;
  } else {
    fprintf(stderr,
            "%s: allocation %ld failed silently: the poll differs from a "
            "clean one and reports nothing.\nclean:\n%s\ngot:\n%s\n",
            what, n, clean, got);
    problem();
  }
  /* The next poll recovers to exactly the clean inventory. */
  int rc2 = source_poll(s);
  snapshot(s, got, sizeof(got));
  if (rc2 != SOURCE_POLL_UP || strcmp(got, clean) != 0) {
    fprintf(stderr,
            "%s: after allocation %ld failed, the next poll did not "
            "recover.\nclean:\n%s\ngot:\n%s\n",
            what, n, clean, got);
    problem();
  }
  if (LEAK_CHECK() != 0) {
    fprintf(stderr, "%s: leak after allocation %ld failed\n", what, n);
    problem();
  }
  return true;
}

#define MAX_ALLOCS 100000 /* a bound on N; a poll here makes a few hundred */

static void run_kind(source_kind_t kind) {
  const char *what = kind == SOURCE_PORTAINER ? "portainer" : "docker";
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  if (kind == SOURCE_PORTAINER)
    portainer_routes(ms);
  else
    docker_routes(ms);

  /* The clean polls: cold, then warm (events, aaa1 inspected again). */
  char cold[SNAP], warm[SNAP];
  source_t *s = new_source(ms, kind);
  assert_int_equal(source_poll(s), SOURCE_POLL_UP);
  snapshot(s, cold, sizeof(cold));
  size_t before = ms_request_count(ms);
  assert_int_equal(source_poll(s), SOURCE_POLL_UP);
  snapshot(s, warm, sizeof(warm));
  assert_string_equal(cold, warm); /* the same world */
  assert_int_equal(errors_total(s), 0);
  bool events = false, inspect = false;
  for (size_t i = before; i < ms_request_count(ms); i++) {
    events |= strstr(ms_request(ms, i)->path, "/events?") != NULL;
    inspect |= strstr(ms_request(ms, i)->path, "/aaa1/json") != NULL;
  }
  assert_true(events && inspect); /* a warm poll: events, then an inspect */

  /* Warm polls: one source, a failure in each poll in turn. */
  tally_t warm_t = {0};
  long n = 1;
  while (n < MAX_ALLOCS && inject(s, n, warm, &warm_t, what))
    n++;
  source_free(s);
  long warm_allocs = n - 1;

  /* Cold polls: a fresh source each time (login, first inspects). */
  tally_t cold_t = {0};
  for (n = 1; n < MAX_ALLOCS; n++) {
    s = new_source(ms, kind);
    bool more = inject(s, n, cold, &cold_t, what);
    source_free(s);
    if (!more)
      break;
  }
  long cold_allocs = n - 1;
  fprintf(stderr,
          "%s: warm poll: %ld allocations failed in turn (%ld reported, %ld "
          "harmless); cold poll: %ld (%ld reported, %ld harmless)\n",
          what, warm_allocs, warm_t.reported, warm_t.harmless, cold_allocs,
          cold_t.reported, cold_t.harmless);
  assert_true(warm_allocs > 20 && cold_allocs > 20);
  assert_int_equal(problems, 0);
  assert_int_equal(warm_t.polls_injected, warm_allocs);
  assert_int_equal(cold_t.polls_injected, cold_allocs);
  ms_stop(ms);
}

static void test_portainer_every_allocation(void **state) {
  (void)state;
  run_kind(SOURCE_PORTAINER);
}

static void test_docker_every_allocation(void **state) {
  (void)state;
  run_kind(SOURCE_DOCKER);
}

/* The wrapper itself: the Nth allocation fails, the others do not. */
static void test_wrapper(void **state) {
  (void)state;
  fa_arm(2);
  char *a = strdup("a");
  char *b = strdup("b");
  void *c = malloc(1);
  bool fired = fa_disarm();
  assert_non_null(a);
  assert_null(b);
  assert_non_null(c);
  assert_true(fired);
  free(a);
  free(c);
  fa_arm(1);
  void *d = calloc(1, 1);
  fa_disarm();
  assert_null(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wrapper),
      cmocka_unit_test(test_docker_every_allocation),
      cmocka_unit_test(test_portainer_every_allocation),
  };
  return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
