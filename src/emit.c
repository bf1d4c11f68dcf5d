/**
 * emit.c: see emit.h.  The only place, with portainer.c, that knows collectd.
 */
#include "emit.h"

#include "utils/common/common.h"

#include "identity.h"

#include <time.h>

typedef struct {
  value_list_t vl;
  size_t count;
} emitter_t;

static void put(emitter_t *em, const char *type, const char *type_instance,
                value_t value) {
  em->vl.values = &value;
  em->vl.values_len = 1;
  sstrncpy(em->vl.type, type, sizeof(em->vl.type));
  sstrncpy(em->vl.type_instance, type_instance != NULL ? type_instance : "",
           sizeof(em->vl.type_instance));
  if (plugin_dispatch_values(&em->vl) == 0)
    em->count++;
  em->vl.values = NULL;
  em->vl.values_len = 0;
}

static void gauge(emitter_t *em, const char *type, const char *ti, double v) {
  put(em, type, ti, (value_t){.gauge = v});
}

static void derive(emitter_t *em, const char *type, const char *ti,
                   uint64_t v) {
  put(em, type, ti, (value_t){.derive = (derive_t)v});
}

static bool stopped(container_state_t st) {
  return st == CSTATE_EXITED || st == CSTATE_DEAD || st == CSTATE_RESTARTING;
}

static void emit_container(emitter_t *em, const container_t *c,
                           const identity_t *id, unsigned collect,
                           int64_t now) {
  container_state_t st = container_state(c);
  const char *ti = id->type_instance;
  sstrncpy(em->vl.plugin_instance, id->plugin_instance,
           sizeof(em->vl.plugin_instance));

  if (collect & COLLECT_STATE)
    gauge(em, "state", ti, (double)st);
  if (collect & COLLECT_HEALTH)
    gauge(em, "health", ti, (double)container_health(c));
  if ((collect & COLLECT_RESTART_COUNT) && c->inspected)
    gauge(em, "restart_count", ti, (double)c->restart_count);

  if (stopped(st)) {
    if (collect & COLLECT_EXIT_CODE) {
      if (c->inspected) {
        gauge(em, "exit_code", ti, (double)c->exit_code);
      } else { /* the list's "Exited (N)" is all there is */
        container_status_t cs;
        container_status_parse(c->status, &cs);
        if (cs.exit_code_known)
          gauge(em, "exit_code", ti, (double)cs.exit_code);
      }
    }
    if ((collect & COLLECT_OOM_KILLED) && c->inspected)
      gauge(em, "oom_killed", ti, c->oom_killed ? 1.0 : 0.0);
  }

  if ((collect & COLLECT_UPTIME) && c->inspected && c->started_at > 0 &&
      (st == CSTATE_RUNNING || st == CSTATE_PAUSED)) {
    int64_t up = now - c->started_at;
    gauge(em, "uptime", ti, (double)(up > 0 ? up : 0));
  }

  if (collect & COLLECT_FAILING_STREAK) {
    if (c->inspected && c->has_healthcheck)
      gauge(em, "failing_streak", ti, (double)c->failing_streak);
    else if (c->list_failing_streak >= 0 && c->list_health_known &&
             c->list_health != CHEALTH_NONE)
      gauge(em, "failing_streak", ti, (double)c->list_failing_streak);
  }
}

static void emit_env(emitter_t *em, const source_t *s, const inv_env_t *e,
                     int64_t now) {
  const source_conf_t *conf = source_conf(s);

  /* Self: is this Docker host answering? */
  /* The environment's name is data from the API: sanitized and fitted like
   * the container identities. */
  identity_field(em->vl.host, e->name, NULL);
  sstrncpy(em->vl.plugin, "portainer", sizeof(em->vl.plugin));
  sstrncpy(em->vl.plugin_instance, conf->name, sizeof(em->vl.plugin_instance));
  gauge(em, "up", "environment", e->up ? 1.0 : 0.0);
  /* Async Edge: how old Portainer's snapshot is, stale or not. */
  if (e->snapshot_only && e->snapshot_age >= 0)
    gauge(em, "snapshot_age", "", (double)e->snapshot_age);
  if (!e->up)
    return; /* no container values: nothing fresh to tell */
  gauge(em, "containers", "", (double)e->cs_num);

  if (e->cs_num == 0)
    return;
  identity_t *ids = calloc(e->cs_num, sizeof(*ids));
  if (ids == NULL)
    return;
  identity_assign(e->cs, e->cs_num, conf->ti_mode, ids);
  sstrncpy(em->vl.plugin, "container", sizeof(em->vl.plugin));
  for (size_t i = 0; i < e->cs_num; i++)
    emit_container(em, e->cs[i], &ids[i], conf->collect, now);
  free(ids);
}

size_t emit_source(const source_t *s, const char *hostname, cdtime_t interval) {
  emitter_t em = {.vl = VALUE_LIST_INIT};
  const source_conf_t *conf = source_conf(s);
  const source_stats_t *st = source_stats(s);
  const inventory_t *inv = source_inventory(s);
  int64_t now = (int64_t)time(NULL);

  em.vl.interval = interval;
  em.vl.time = cdtime();

  for (size_t i = 0; i < inv->envs_num; i++)
    emit_env(&em, s, inv->envs[i], now);

  /* Self: the source itself. */
  sstrncpy(em.vl.host, hostname, sizeof(em.vl.host));
  sstrncpy(em.vl.plugin, "portainer", sizeof(em.vl.plugin));
  sstrncpy(em.vl.plugin_instance, conf->name, sizeof(em.vl.plugin_instance));
  gauge(&em, "up", "api", st->up ? 1.0 : 0.0);
  if (st->last_success > 0)
    gauge(&em, "last_success", "", (double)st->last_success);
  gauge(&em, "poll_duration", "", st->poll_seconds);
  derive(&em, "api_requests", "", st->requests);
  for (int k = 0; k < ERR_KINDS_NUM; k++)
    derive(&em, "api_errors", source_err_kind_name((source_err_kind_t)k),
           st->errors[k]);
  return em.count;
}
