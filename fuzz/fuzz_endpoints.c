/**
 * fuzz_endpoints.c: GET /api/endpoints (pt_endpoints_parser_new).
 *
 * The input is the response body, parsed whole and in chunks; every plan
 * must hand out the same environments and reach the same outcome.
 */
#include "fuzz_common.h"

#include "portainer_api.h"

typedef struct {
  fuzz_transcript_t *tr;
  size_t count;
} ctx_t;

static void on_endpoint(void *ud, pt_endpoint_t *e) {
  ctx_t *x = ud;
  FUZZ_CHECK(e != NULL, "NULL environment");
  fuzz_check_capped(e->name, "environment name");
  FUZZ_CHECK(e->tag_ids_num <= 256, "%zu tag ids kept", e->tag_ids_num);
  FUZZ_CHECK(e->tag_ids_num == 0 || e->tag_ids != NULL,
             "tag_ids_num without tag_ids");
  x->count++;
  fuzz_transcript_t *t = x->tr;
  fuzz_tr_printf(t, "#%zu:id=%lld;", x->count, (long long)e->id);
  fuzz_tr_str(t, "name", e->name);
  fuzz_tr_printf(t, "type=%d;status=%d;group=%lld;docker=%d;tags=%zu:", e->type,
                 e->status, (long long)e->group_id,
                 (int)pt_endpoint_is_docker(e), e->tag_ids_num);
  for (size_t i = 0; i < e->tag_ids_num; i++) /* every one is read */
    fuzz_tr_printf(t, "%lld,", (long long)e->tag_ids[i]);
  fuzz_tr_add(t, "\n", 1);
  pt_endpoint_free(e);
}

static void run(const uint8_t *data, size_t size, fuzz_plan_t plan,
                fuzz_transcript_t *tr) {
  ctx_t x = {.tr = tr};
  fuzz_tr_reset(tr);
  json_stream_t *js = pt_endpoints_parser_new(on_endpoint, &x);
  FUZZ_CHECK(js != NULL, "parser_new failed");
  int rc = fuzz_feed(js, data, size, plan);
  int fin = json_stream_finish(js);
  const char *err = json_stream_error(js);
  fuzz_check_error_text(err);
  if (rc != 0)
    FUZZ_CHECK(fin != 0, "finish succeeded after a failed feed");
  FUZZ_CHECK((fin == 0) == (err[0] == '\0'), "outcome %d but error text \"%s\"",
             fin, err);
  FUZZ_CHECK(json_stream_finish(js) == fin, "second finish differs");
  FUZZ_CHECK(json_stream_feed(js, "[]", 2) == -1, "feed after finish");
  fuzz_tr_printf(tr, "outcome=%d\n", fin == 0 ? 0 : -1);
  json_stream_free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_transcript_t whole = {0}, other = {0};
  run(data, size, FUZZ_PLAN_WHOLE, &whole);
  for (int p = FUZZ_PLAN_WHOLE + 1; p < FUZZ_PLANS_NUM; p++) {
    if (!fuzz_plan_applies((fuzz_plan_t)p, size))
      continue;
    run(data, size, (fuzz_plan_t)p, &other);
    fuzz_tr_compare(&whole, &other, fuzz_plan_name((fuzz_plan_t)p));
  }
  fuzz_tr_free(&whole);
  fuzz_tr_free(&other);
  return 0;
}
