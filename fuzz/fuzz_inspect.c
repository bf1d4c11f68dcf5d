/**
 * fuzz_inspect.c: GET /containers/{id}/json (docker_inspect_parser_new).
 *
 * The input is the response body, parsed whole and in chunks; every plan
 * must leave the container in the same state.  A failed parse must leave the
 * container as it was (not inspected, list fields untouched).
 */
#include "fuzz_common.h"

#include "container.h"
#include "docker_api.h"

static void check_after(const container_t *c, int fin) {
  /* The list fields belong to the caller: never touched. */
  FUZZ_CHECK(c->id != NULL && strcmp(c->id, "abc123") == 0, "id touched");
  FUZZ_CHECK(c->name != NULL && strcmp(c->name, "web") == 0, "name touched");
  FUZZ_CHECK(c->state == CSTATE_RUNNING, "list state touched");
  if (fin != 0) {
    FUZZ_CHECK(!c->inspected, "inspected after a failed parse");
    FUZZ_CHECK(c->restart_count == 0 && c->exit_code == 0 && !c->oom_killed &&
                   c->started_at == 0 && c->finished_at == 0 &&
                   !c->has_healthcheck && c->failing_streak == 0 &&
                   c->inspect_state == CSTATE_UNKNOWN &&
                   c->inspect_health == CHEALTH_NONE,
               "a failed parse changed the container");
    return;
  }
  FUZZ_CHECK(c->inspected, "not inspected after a successful parse");
  FUZZ_CHECK(c->inspect_state >= CSTATE_EXITED &&
                 c->inspect_state <= CSTATE_REMOVING,
             "inspect_state %d out of range", (int)c->inspect_state);
  FUZZ_CHECK(c->inspect_health >= CHEALTH_NONE &&
                 c->inspect_health <= CHEALTH_STARTING,
             "inspect_health %d out of range", (int)c->inspect_health);
  FUZZ_CHECK(c->has_healthcheck || c->inspect_health == CHEALTH_NONE,
             "health without a healthcheck");
  FUZZ_CHECK(c->started_at >= 0 && c->finished_at >= 0,
             "negative time (%lld, %lld)", (long long)c->started_at,
             (long long)c->finished_at);
  container_health_t h = container_health(c);
  FUZZ_CHECK(h >= CHEALTH_NONE && h <= CHEALTH_STARTING, "health view");
  FUZZ_CHECK(container_state_name(container_state(c)) != NULL, "state view");
}

static void run(const uint8_t *data, size_t size, fuzz_plan_t plan,
                fuzz_transcript_t *tr) {
  fuzz_tr_reset(tr);
  container_t *c = container_new();
  FUZZ_CHECK(c != NULL, "out of memory");
  c->id = strdup("abc123");
  c->name = strdup("web");
  c->state = CSTATE_RUNNING;
  FUZZ_CHECK(c->id != NULL && c->name != NULL, "out of memory");
  json_stream_t *js = docker_inspect_parser_new(c);
  FUZZ_CHECK(js != NULL, "parser_new failed");
  int fin = fuzz_parse_checked(js, data, size, plan, "{}");
  json_stream_free(js);
  check_after(c, fin);
  fuzz_tr_printf(tr,
                 "outcome=%d;insp=%d;rc=%lld;ec=%lld;oom=%d;sa=%lld;fa=%lld;"
                 "hc=%d;h=%d;fs=%lld;st=%d\n",
                 fin == 0 ? 0 : -1, (int)c->inspected,
                 (long long)c->restart_count, (long long)c->exit_code,
                 (int)c->oom_killed, (long long)c->started_at,
                 (long long)c->finished_at, (int)c->has_healthcheck,
                 (int)c->inspect_health, (long long)c->failing_streak,
                 (int)c->inspect_state);
  container_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_every_plan(data, size, run);
  return 0;
}
