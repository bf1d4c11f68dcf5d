/**
 * fuzz_list.c: GET /containers/json (docker_list_parser_new).
 *
 * The input is the response body.  It is parsed whole and in chunks (see
 * fuzz_common.h); every plan must hand out the same containers and reach the
 * same outcome.  Each container handed out is checked against the promises
 * of docker_api.h and container.h, and the containers of the whole parse go
 * through identity_assign as one host's.
 */
#include "fuzz_common.h"

#include "container.h"
#include "docker_api.h"
#include "identity.h"

#define MAX_KEPT 512 /* containers kept for identity_assign */

typedef struct {
  fuzz_transcript_t *tr;
  container_t *kept[MAX_KEPT];
  size_t kept_num;
  size_t count;
} ctx_t;

static void check_container(const container_t *c) {
  fuzz_check_capped(c->id, "id");
  FUZZ_CHECK(c->id[0] != '\0', "empty id handed out");
  fuzz_check_capped(c->name, "name");
  FUZZ_CHECK(c->name[0] != '\0', "empty name handed out");
  fuzz_check_capped(c->image, "image");
  fuzz_check_capped(c->status, "status");
  if (c->label != NULL)
    fuzz_check_capped(c->label, "label");
  if (c->node != NULL)
    fuzz_check_capped(c->node, "node");
  FUZZ_CHECK(c->state >= CSTATE_EXITED && c->state <= CSTATE_REMOVING,
             "state %d out of range", (int)c->state);
  FUZZ_CHECK(c->list_health >= CHEALTH_NONE &&
                 c->list_health <= CHEALTH_STARTING,
             "list_health %d out of range", (int)c->list_health);
  FUZZ_CHECK(c->list_health_known || c->list_health == CHEALTH_NONE,
             "health set but not known");
  FUZZ_CHECK(!c->inspected, "a list item claims to be inspected");
  /* The derived views must be total. */
  container_health_t h = container_health(c);
  FUZZ_CHECK(h >= CHEALTH_NONE && h <= CHEALTH_STARTING, "health view");
  container_state_t s = container_state(c);
  FUZZ_CHECK(container_state_name(s) != NULL, "state name");
  FUZZ_CHECK(container_health_name(h) != NULL, "health name");
}

static void on_container(void *ud, container_t *c) {
  ctx_t *x = ud;
  FUZZ_CHECK(c != NULL, "NULL container handed out");
  check_container(c);
  x->count++;
  fuzz_transcript_t *t = x->tr;
  fuzz_tr_printf(t, "#%zu:", x->count);
  fuzz_tr_str(t, "id", c->id);
  fuzz_tr_str(t, "name", c->name);
  fuzz_tr_str(t, "image", c->image);
  fuzz_tr_str(t, "status", c->status);
  fuzz_tr_str(t, "label", c->label);
  fuzz_tr_str(t, "node", c->node);
  fuzz_tr_printf(t, "state=%d;hk=%d;h=%d;fs=%lld\n", (int)c->state,
                 (int)c->list_health_known, (int)c->list_health,
                 (long long)c->list_failing_streak);
  if (x->kept_num < MAX_KEPT)
    x->kept[x->kept_num++] = c; /* ownership: ours */
  else
    container_free(c);
}

static void release(ctx_t *x) {
  for (size_t i = 0; i < x->kept_num; i++)
    container_free(x->kept[i]);
  x->kept_num = 0;
}

/* One parse following plan; the transcript ends with the outcome. */
/* The label asked for, chosen per input; identities are checked on the
 * whole-input run. */
static const char *label_key;

static void run(const uint8_t *data, size_t size, fuzz_plan_t plan,
                fuzz_transcript_t *tr) {
  bool identities = plan == FUZZ_PLAN_WHOLE;
  ctx_t x = {.tr = tr};
  fuzz_tr_reset(tr);
  json_stream_t *js = docker_list_parser_new(label_key, on_container, &x);
  FUZZ_CHECK(js != NULL, "parser_new failed");
  int fin = fuzz_parse_checked(js, data, size, plan, "[]");
  fuzz_tr_printf(tr, "outcome=%d\n", fin == 0 ? 0 : -1);
  json_stream_free(js);

  if (identities && x.kept_num > 0) {
    identity_t *ids = calloc(x.kept_num, sizeof(*ids));
    FUZZ_CHECK(ids != NULL, "out of memory");
    identity_assign(
        x.kept, x.kept_num,
        label_key != NULL ? TYPE_INSTANCE_LABEL : TYPE_INSTANCE_IMAGE, ids);
    for (size_t i = 0; i < x.kept_num; i++) {
      FUZZ_CHECK(strnlen(ids[i].plugin_instance, IDENTITY_SIZE) < IDENTITY_SIZE,
                 "plugin_instance not terminated");
      FUZZ_CHECK(strnlen(ids[i].type_instance, IDENTITY_SIZE) < IDENTITY_SIZE,
                 "type_instance not terminated");
    }
    free(ids);
  }
  release(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const label_keys[] = {NULL, "com.example.team", "",
                                           "Agent"};
  label_key = label_keys[fuzz_hash(data, size) % 4];
  fuzz_every_plan(data, size, run);
  return 0;
}
