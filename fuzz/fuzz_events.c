/**
 * fuzz_events.c: GET /events (docker_events_parser_new), a stream of JSON
 * objects.
 *
 * The input is the response body, parsed whole and in chunks; every plan
 * must hand out the same events and reach the same outcome.
 */
#include "fuzz_common.h"

#include "docker_api.h"

typedef struct {
  fuzz_transcript_t *tr;
  size_t count;
} ctx_t;

static void on_event(void *ud, const docker_event_t *ev) {
  ctx_t *x = ud;
  FUZZ_CHECK(ev != NULL, "NULL event");
  fuzz_check_capped(ev->id, "event id");
  FUZZ_CHECK(ev->id[0] != '\0', "event with an empty id");
  fuzz_check_capped(ev->action, "event action");
  x->count++;
  fuzz_tr_printf(x->tr, "#%zu:", x->count);
  fuzz_tr_str(x->tr, "id", ev->id);
  fuzz_tr_str(x->tr, "action", ev->action);
  fuzz_tr_printf(x->tr, "t=%lld\n", (long long)ev->time_nano);
}

static void run(const uint8_t *data, size_t size, fuzz_plan_t plan,
                fuzz_transcript_t *tr) {
  ctx_t x = {.tr = tr};
  fuzz_tr_reset(tr);
  json_stream_t *js = docker_events_parser_new(on_event, &x);
  FUZZ_CHECK(js != NULL, "parser_new failed");
  int fin = fuzz_parse_checked(js, data, size, plan, "{}");
  fuzz_tr_printf(tr, "outcome=%d\n", fin == 0 ? 0 : -1);
  json_stream_free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_every_plan(data, size, run);
  return 0;
}
