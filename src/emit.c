/**
 * emit.c: see emit.h.  The only place, with portainer.c, that knows collectd.
 */
#include "emit.h"

#include "utils/common/common.h"

#include "identity.h"

#include <time.h>

#define LOG_PREFIX "portainer plugin: "

typedef struct {
  value_list_t vl;
  size_t count;
  registry_t *reg; /* NULL: no other source to share identities with */
  int writer;      /* this source in reg */
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

/* The failing streak to send, from the freshest source: the list's Health
 * where the engine sends it (API >= 1.52: every poll), else the inspect,
 * which inspects.c redoes every poll while the checks of a running container
 * are failing.  Only while checks run (running containers) and only for
 * containers with a healthcheck; false: none to send. */
static bool failing_streak(const container_t *c, double *v) {
  if (container_state(c) != CSTATE_RUNNING)
    return false;
  if (c->list_failing_streak >= 0 && c->list_health_known) {
    *v = (double)c->list_failing_streak;
    return c->list_health != CHEALTH_NONE;
  }
  *v = (double)c->failing_streak;
  return c->inspected && c->has_healthcheck;
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

  double streak;
  if ((collect & COLLECT_FAILING_STREAK) && failing_streak(c, &streak))
    gauge(em, "failing_streak", ti, streak);
}

/* May this source write this container identity?  Another source of this
 * collectd, configured earlier, may write it already (two Portainers with an
 * environment of the same name): then these values are not sent, and that
 * is said once. */
static bool claim(emitter_t *em, const source_t *s, const inv_env_t *e,
                  const identity_t *id) {
  int owner = -1;
  if (em->reg == NULL ||
      registry_claim(em->reg, em->writer, em->vl.host, id->plugin_instance,
                     id->type_instance, &owner))
    return true;
  if (registry_first_conflict(em->reg, em->writer, owner, em->vl.host)) {
    char line[1024];
    fault_shared_identity(s, e, id->plugin_instance,
                          registry_writer_name(em->reg, owner), line,
                          sizeof(line));
    WARNING(LOG_PREFIX "%s", line);
  }
  return false;
}

/* wall_now, mono_now: the collector's clocks (unix s, inventory.h's
 * monotonic s); uptime is on the daemon's clock. */
static void emit_env(emitter_t *em, const source_t *s, const inv_env_t *e,
                     int64_t wall_now, double mono_now) {
  const source_conf_t *conf = source_conf(s);
  int64_t now = inv_env_daemon_now(e, mono_now, wall_now);

  /* Self: is this Docker host answering? */
  identity_host(em->vl.host, conf->host_prefix, e->name);
  sstrncpy(em->vl.plugin, "portainer", sizeof(em->vl.plugin));
  sstrncpy(em->vl.plugin_instance, conf->name, sizeof(em->vl.plugin_instance));
  gauge(em, "up", "environment", inv_env_complete(e) ? 1.0 : 0.0);
  /* Async Edge: how old Portainer's snapshot is, stale or not. */
  if (e->snapshot_only && e->snapshot_age >= 0)
    gauge(em, "snapshot_age", "", (double)e->snapshot_age);
  if (!e->up)
    return; /* no container values: nothing fresh to tell */
  /* (A Swarm node missing: up is 0, but what the others listed is fresh.) */
  size_t listed = 0;
  for (size_t i = 0; i < e->cs_num; i++)
    listed += e->cs[i]->absent ? 0 : 1;
  gauge(em, "containers", "", (double)listed);

  sstrncpy(em->vl.plugin, "container", sizeof(em->vl.plugin));
  for (size_t i = 0; i < e->cs_num; i++) {
    identity_t id;
    if (e->cs[i]->absent)
      continue; /* its node is missing: nothing of it is fresh */
    identity_of(e->cs[i], conf->ti_mode, &id);
    if (claim(em, s, e, &id))
      emit_container(em, e->cs[i], &id, conf->collect, now);
  }
}

size_t emit_source(const source_t *s, const char *hostname, cdtime_t interval) {
  return emit_source_shared(s, hostname, interval, NULL, -1);
}

size_t emit_source_shared(const source_t *s, const char *hostname,
                          cdtime_t interval, registry_t *reg, int writer) {
  emitter_t em = {.vl = VALUE_LIST_INIT, .reg = reg, .writer = writer};
  const source_conf_t *conf = source_conf(s);
  const source_stats_t *st = source_stats(s);
  const inventory_t *inv = source_inventory(s);
  int64_t now = (int64_t)time(NULL);
  double mono = inv_monotonic();

  em.vl.interval = interval;
  em.vl.time = cdtime();

  if (reg != NULL)
    registry_begin(reg, writer);
  for (size_t i = 0; i < inv->envs_num; i++)
    emit_env(&em, s, inv->envs[i], now, mono);
  if (reg != NULL)
    registry_end(reg, writer);

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
