/**
 * notify.c: see notify.h.  With portainer.c, config.c and emit.c, one of
 * the files that know collectd.
 */
#include "notify.h"

#include "utils/common/common.h"

#include "identity.h"
#include "transition.h"

#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

/* Names in a message are cut to this many bytes (the identity fields carry
 * them whole): a message holds NOTIF_MAX_MSG_LEN bytes. */
#define NAME_IN_MSG 64

typedef struct {
  source_t *s;
  const source_conf_t *conf;
  const char *hostname;
  size_t count;
} notifier_t;

/* collectd turns '/' into '_' in the identities of values: the same here,
 * so that a notification names the series it is about. */
static void set_field(char *dst, size_t size, const char *src) {
  sstrncpy(dst, src, size);
  for (char *c = dst; *c != 0; c++)
    if (*c == '/')
      *c = '_';
}

/* src (valid UTF-8) cut to NAME_IN_MSG bytes on a character boundary. */
static const char *short_name(char *buf, const char *src) {
  size_t len = strlen(src);
  if (len < NAME_IN_MSG) {
    memcpy(buf, src, len + 1);
    return buf;
  }
  len = NAME_IN_MSG - 4;
  while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
    len--;
  memcpy(buf, src, len);
  memcpy(buf + len, "...", 4);
  return buf;
}

/* A message, cut to the size of the field when it is longer (names are
 * already cut to NAME_IN_MSG, so the facts that follow them fit). */
__attribute__((format(printf, 3, 4))) static void
message(char *msg, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, size, fmt, ap);
  va_end(ap);
}

static void format_time(char *buf, size_t size, int64_t t) {
  struct tm tm;
  time_t tt = (time_t)t;
  if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
      strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    sstrncpy(buf, "an unknown time", size);
}

static void dispatch(notifier_t *nt, notification_t *n, int severity) {
  n->severity = severity;
  n->time = cdtime();
  if (plugin_dispatch_notification(n) == 0)
    nt->count++;
}

/* ---- containers ---------------------------------------------------------- */

static int container_message(char *msg, size_t size, const transition_t *t,
                             const char *who, const char *at) {
  switch (t->kind) {
  case TRANS_OOM_KILLED:
    message(msg, size,
            "%s was killed by the kernel's OOM killer %s (exit code "
            "%" PRId64 ")",
            who, at, t->exit_code);
    return NOTIF_FAILURE;
  case TRANS_EXITED:
    if (!t->exit_code_known) {
      message(msg, size, "%s %s (no exit code known)", who,
              t->state == CSTATE_DEAD ? "is dead" : "exited");
      return NOTIF_FAILURE;
    }
    message(msg, size, "%s %s with exit code %" PRId64 "%s %s", who,
            t->state == CSTATE_DEAD ? "died" : "exited", t->exit_code,
            t->oom_killed       ? " (killed by the OOM killer)"
            : t->exit_code == 0 ? " (success)"
                                : "",
            at);
    return t->exit_code == 0 && t->state != CSTATE_DEAD ? NOTIF_OKAY
                                                        : NOTIF_FAILURE;
  case TRANS_RESTARTED: {
    char last[64] = "";
    if (t->exit_code_known)
      message(last, sizeof(last), "; last exit code %" PRId64 "%s",
              t->exit_code, t->oom_killed ? " (OOM-killed)" : "");
    message(msg, size,
            "%s was restarted by its restart policy: restart count "
            "%" PRId64 " (was %" PRId64 ")%s; now %s",
            who, t->restart_count, t->restart_count_was, last,
            container_state_name(t->state));
    return NOTIF_WARNING;
  }
  case TRANS_UNHEALTHY:
    if (t->failing_streak > 0)
      message(msg, size,
              "%s is unhealthy: %" PRId64 " failed health checks in a row", who,
              t->failing_streak);
    else
      message(msg, size, "%s is unhealthy", who);
    return NOTIF_FAILURE;
  case TRANS_HEALTHY:
    message(msg, size, "%s is healthy again", who);
    return NOTIF_OKAY;
  default:
    return 0;
  }
}

static const char *container_type(transition_kind_t k) {
  switch (k) {
  case TRANS_OOM_KILLED:
    return "oom_killed";
  case TRANS_RESTARTED:
    return "restart_count";
  case TRANS_UNHEALTHY:
  case TRANS_HEALTHY:
    return "health";
  default:
    return "exit_code";
  }
}

static void notify_container(notifier_t *nt, const inv_env_t *e,
                             const identity_t *id, const transition_t *t) {
  notification_t n = {0};
  char who[3 * NAME_IN_MSG], when[32], at[40], name[NAME_IN_MSG],
      host[NAME_IN_MSG], hostfield[IDENTITY_SIZE];
  identity_field(hostfield, e->name, NULL);
  message(who, sizeof(who), "container \"%s\" on \"%s\"",
          short_name(name, id->plugin_instance), short_name(host, hostfield));
  /* "at" the time inspect tells; else "by" now (the list alone says only
   * that it happened since the last poll). */
  format_time(when, sizeof(when), t->at > 0 ? t->at : (int64_t)time(NULL));
  snprintf(at, sizeof(at), "%s %s", t->at > 0 ? "at" : "by", when);
  int severity = container_message(n.message, sizeof(n.message), t, who, at);
  set_field(n.host, sizeof(n.host), hostfield);
  set_field(n.plugin, sizeof(n.plugin), "container");
  set_field(n.plugin_instance, sizeof(n.plugin_instance), id->plugin_instance);
  set_field(n.type, sizeof(n.type), container_type(t->kind));
  set_field(n.type_instance, sizeof(n.type_instance), id->type_instance);
  dispatch(nt, &n, severity);
}

static void notify_containers(notifier_t *nt, inv_env_t *e) {
  identity_t *ids = NULL; /* computed once, when a container has news */
  for (size_t i = 0; i < e->cs_num; i++) {
    transition_t ts[TRANSITIONS_MAX];
    size_t n =
        transition_container(e->cs[i], e->polls > 1, nt->conf->notify, ts);
    if (n == 0)
      continue;
    if (ids == NULL) {
      ids = calloc(e->cs_num, sizeof(*ids));
      if (ids == NULL)
        continue; /* recorded, not told: no memory */
      identity_assign(e->cs, e->cs_num, nt->conf->ti_mode, ids);
    }
    for (size_t j = 0; j < n; j++)
      notify_container(nt, e, &ids[i], &ts[j]);
  }
  free(ids);
}

/* ---- environments and the source ------------------------------------------
 */

static void notify_up(notifier_t *nt, const char *host, const char *ti,
                      const char *what, const transition_t *t) {
  notification_t n = {0};
  char at[32];
  format_time(at, sizeof(at), (int64_t)time(NULL));
  if (t->kind == TRANS_DOWN)
    message(n.message, sizeof(n.message),
            "%s is down since %s: %s (the plugin's log line names the "
            "cause); no values are sent for it meanwhile",
            what, at,
            strcmp(ti, "api") == 0 ? "its API does not answer"
                                   : "its containers could not be listed");
  else
    message(n.message, sizeof(n.message), "%s is answering again (%s)", what,
            at);
  set_field(n.host, sizeof(n.host), host);
  set_field(n.plugin, sizeof(n.plugin), "portainer");
  set_field(n.plugin_instance, sizeof(n.plugin_instance), nt->conf->name);
  set_field(n.type, sizeof(n.type), "up");
  set_field(n.type_instance, sizeof(n.type_instance), ti);
  dispatch(nt, &n, t->kind == TRANS_DOWN ? NOTIF_FAILURE : NOTIF_OKAY);
}

static void notify_env(notifier_t *nt, inv_env_t *e) {
  transition_t t;
  char host[IDENTITY_SIZE], what[256], name[NAME_IN_MSG], src[NAME_IN_MSG];
  if (!transition_up(&e->notified_up, e->up, &t) ||
      !(nt->conf->notify & NOTIFY_DOWN))
    return;
  identity_field(host, e->name, NULL);
  short_name(name, host);
  short_name(src, nt->conf->name);
  if (nt->conf->kind == SOURCE_PORTAINER)
    message(what, sizeof(what),
            "environment \"%s\" (id %" PRId64 ") of source \"%s\"", name, e->id,
            src);
  else
    message(what, sizeof(what), "Docker host \"%s\" of source \"%s\"", name,
            src);
  notify_up(nt, host, "environment", what, &t);
}

size_t notify_source(source_t *s, const char *hostname) {
  notifier_t nt = {.s = s, .conf = source_conf(s), .hostname = hostname};
  inventory_t *inv = source_inventory_notify(s);
  bool up = source_stats(s)->up;
  if (nt.conf->notify == 0)
    return 0;

  if (nt.conf->kind == SOURCE_PORTAINER) {
    transition_t t;
    char what[128], src[NAME_IN_MSG];
    if (transition_up(&inv->notified_up, up, &t) &&
        (nt.conf->notify & NOTIFY_DOWN)) {
      message(what, sizeof(what), "Portainer source \"%s\"",
              short_name(src, nt.conf->name));
      notify_up(&nt, hostname, "api", what, &t);
    }
  }
  for (size_t i = 0; i < inv->envs_num; i++) {
    inv_env_t *e = inv->envs[i];
    /* With the source's API down, its environments' up says nothing new
     * about them: they are neither told down nor recorded. */
    if (up || nt.conf->kind == SOURCE_DOCKER)
      notify_env(&nt, e);
    /* Only what was listed in this poll: nothing stale is told as news. */
    if (e->up)
      notify_containers(&nt, e);
  }
  return nt.count;
}
