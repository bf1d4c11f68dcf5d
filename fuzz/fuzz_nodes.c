/**
 * fuzz_nodes.c: GET /nodes (docker_nodes_parser_new), the Swarm's node list
 * a manager answers through an agent environment.
 *
 * The input is the response body, parsed whole and in chunks; every plan
 * must hand out the same nodes and reach the same outcome.
 */
#include "fuzz_common.h"

#include "docker_api.h"

typedef struct {
  fuzz_transcript_t *tr;
  size_t count;
} ctx_t;

static void on_node(void *ud, const docker_node_t *n) {
  ctx_t *x = ud;
  FUZZ_CHECK(n != NULL, "NULL node");
  if (n->hostname != NULL)
    fuzz_check_capped(n->hostname, "node hostname");
  if (n->availability != NULL)
    fuzz_check_capped(n->availability, "node availability");
  x->count++;
  fuzz_tr_printf(x->tr, "#%zu:", x->count);
  fuzz_tr_str(x->tr, "host", n->hostname != NULL ? n->hostname : "(none)");
  fuzz_tr_str(x->tr, "avail",
              n->availability != NULL ? n->availability : "(none)");
  fuzz_tr_printf(x->tr, "\n");
}

static void run(const uint8_t *data, size_t size, fuzz_plan_t plan,
                fuzz_transcript_t *tr) {
  ctx_t x = {.tr = tr};
  fuzz_tr_reset(tr);
  json_stream_t *js = docker_nodes_parser_new(on_node, &x);
  FUZZ_CHECK(js != NULL, "parser_new failed");
  int fin = fuzz_parse_checked(js, data, size, plan, "[]");
  fuzz_tr_printf(tr, "outcome=%d\n", fin == 0 ? 0 : -1);
  json_stream_free(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_every_plan(data, size, run);
  return 0;
}
