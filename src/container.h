/**
 * container.h: the container model shared by every module.
 *
 * A container_t holds only the fields the plugin reports, filled first from a
 * container list item (docker_api.h) and then from an inspect document.  No
 * collectd types here: this header is plain C.
 */
#ifndef PORTAINER_CONTAINER_H
#define PORTAINER_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values are the seed exporter's codes, plus 7 for "removing". */
typedef enum {
  CSTATE_EXITED = 0,
  CSTATE_RUNNING = 1,
  CSTATE_PAUSED = 2,
  CSTATE_CREATED = 3,
  CSTATE_RESTARTING = 4,
  CSTATE_DEAD = 5,
  CSTATE_UNKNOWN = 6,
  CSTATE_REMOVING = 7,
} container_state_t;

typedef enum {
  CHEALTH_NONE = 0,
  CHEALTH_HEALTHY = 1,
  CHEALTH_UNHEALTHY = 2,
  CHEALTH_STARTING = 3,
} container_health_t;

/* What a list item's "Status" string says, e.g. "Up 7 seconds (healthy)",
 * "Exited (42) 6 seconds ago", "Restarting (3) 1 second ago". */
typedef struct {
  bool health_known;         /* a health suffix was present */
  container_health_t health; /* valid when health_known */
  bool exit_code_known;      /* "Exited (N)" or "Restarting (N)" */
  int exit_code;             /* valid when exit_code_known */
  bool paused;               /* "(Paused)" suffix */
} container_status_t;

/* What the last notification pass recorded of a container (transition.c);
 * the inventory carries it over from poll to poll with the container. */
typedef struct {
  bool known;                /* recorded at least once */
  container_state_t state;   /* state last seen */
  container_health_t health; /* last healthy/unhealthy seen (running) */
  int64_t restart_count;     /* last inspected RestartCount; -1 unknown */
  int64_t finished_at;       /* last inspected FinishedAt; -1: an exit was
                                told from the list alone */
} container_notified_t;

typedef struct container_s {
  /* From the list. */
  char *id;    /* full id, never NULL once parsed */
  char *name;  /* first of Names, without the leading '/', never NULL */
  char *image; /* "Image", "" when absent */
  char *label; /* value of the configured TypeInstance label, or NULL */
  char *node;  /* Portainer.Agent.NodeName, or NULL */
  container_state_t state;
  char *status;           /* raw Status string, "" when absent */
  bool list_health_known; /* list told health (Status suffix or Health) */
  container_health_t list_health;
  int64_t list_failing_streak; /* API >= 1.52 Health.FailingStreak, or -1 */

  /* From inspect; valid when inspected is true. */
  bool inspected;
  int64_t restart_count;
  int64_t exit_code;
  bool oom_killed;
  int64_t started_at;   /* unix seconds, 0 when never started or unknown */
  int64_t finished_at;  /* unix seconds, 0 when never finished or unknown */
  bool has_healthcheck; /* State.Health present */
  container_health_t inspect_health;
  int64_t failing_streak;
  container_state_t inspect_state; /* State.Status */

  /* Set by the poll when an inspect answered 404: gone since the list. */
  bool vanished;
  /* Kept by the inventory while the Swarm node that runs it is missing from
   * the agent's list: it may still exist, so it keeps its identity, but
   * nothing of it is reported (identity.c, inventory.c). */
  bool absent;
  /* The collision suffix of its identity ("@node", "~id"), kept while the
   * container exists so that its series never changes name (identity.c):
   * settled is false until one was chosen; NULL suffix: none. */
  bool id_settled;
  char *id_suffix;
  /* Set by the inventory while a list is built: this object of the last
   * list is listed again unchanged and carried over whole. */
  bool reused;
  /* Carried over by the inventory; written by transition.c only. */
  container_notified_t notified;
} container_t;

/* "running" -> CSTATE_RUNNING ...; anything else -> CSTATE_UNKNOWN.
 * Case-insensitive; s need not be NUL-terminated. */
container_state_t container_state_from_string(const char *s, size_t len);
const char *container_state_name(container_state_t st);

/* "healthy", "unhealthy", "starting", "none"; returns -1 for anything
 * else, otherwise the container_health_t value. */
int container_health_from_string(const char *s, size_t len);
const char *container_health_name(container_health_t h);

/* Parses a Docker Status string; never fails (unknown parts are ignored). */
void container_status_parse(const char *status, container_status_t *out);

/* The health to report: none unless the container is running (checks run
 * only then); else the list's when known, else inspect's when a
 * healthcheck exists, else none. */
container_health_t container_health(const container_t *c);

/* The state to report: the list's State (fresher than a cached inspect). */
container_state_t container_state(const container_t *c);

container_t *container_new(void);
void container_free(container_t *c);

/* Parses RFC 3339 (with optional fraction and offset) into unix seconds.
 * "0001-01-01T00:00:00Z" and anything unparsable give 0. */
int64_t container_parse_time(const char *s, size_t len);

#endif
