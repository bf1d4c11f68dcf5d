/**
 * fuzz_endpoints.c: GET /api/endpoints (pt_endpoints_parser_new) with the
 * Edge rules (pt_edge_state), and GET /api/endpoints/{id}
 * (pt_snapshot_parser_new: its containers through the Docker list parser).
 *
 * The input is the response body, parsed whole and in chunks by both
 * parsers; every plan must hand out the same environments and containers
 * and reach the same outcomes.
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
  int64_t iv = pt_edge_checkin_interval(e);
  FUZZ_CHECK(iv > 0, "check-in interval %lld", (long long)iv);
  fuzz_tr_printf(t,
                 "edge=%d,%d,%d,%lld,%lld,%lld,%d:", (int)pt_edge_state(e, 0),
                 (int)pt_edge_state(e, INT64_MAX), e->heartbeat,
                 (long long)e->last_check_in, (long long)iv,
                 (long long)pt_edge_snapshot_max_age(e), (int)e->async);
  for (size_t i = 0; i < e->tag_ids_num; i++) /* every one is read */
    fuzz_tr_printf(t, "%lld,", (long long)e->tag_ids[i]);
  fuzz_tr_add(t, "\n", 1);
  pt_endpoint_free(e);
}

static void on_container(void *ud, container_t *c) {
  ctx_t *x = ud;
  FUZZ_CHECK(c != NULL && c->id != NULL && c->id[0] != '\0', "container");
  fuzz_check_capped(c->name, "container name");
  x->count++;
  fuzz_tr_printf(x->tr, "c#%zu:state=%d;", x->count, (int)c->state);
  fuzz_tr_str(x->tr, "id", c->id);
  fuzz_tr_add(x->tr, "\n", 1);
  container_free(c);
}

static void run(const uint8_t *data, size_t size, fuzz_plan_t plan,
                fuzz_transcript_t *tr) {
  ctx_t x = {.tr = tr};
  fuzz_tr_reset(tr);
  json_stream_t *js = pt_endpoints_parser_new(on_endpoint, &x);
  FUZZ_CHECK(js != NULL, "parser_new failed");
  int fin = fuzz_parse_checked(js, data, size, plan, "[]");
  fuzz_tr_printf(tr, "outcome=%d\n", fin == 0 ? 0 : -1);
  json_stream_free(js);

  pt_snapshot_t snap;
  x.count = 0;
  js = pt_snapshot_parser_new("com.docker.compose.project", on_container, &x,
                              &snap);
  FUZZ_CHECK(js != NULL, "snapshot parser_new failed");
  fin = fuzz_parse_checked(js, data, size, plan, "{}");
  fuzz_tr_printf(tr, "snapshot=%d,%d,%lld;outcome=%d\n", (int)snap.present,
                 (int)snap.containers, (long long)snap.time, fin == 0 ? 0 : -1);
  json_stream_free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_every_plan(data, size, run);
  return 0;
}
