/**
 * transition.h: what changed since the last notification pass.
 *
 * Plain C, no collectd types.  After each poll, notify.c hands every
 * container of an environment that answered, every environment and the
 * source itself to these functions.  They compare the present with what was
 * recorded at the last pass (container_t.notified, inv_env_t.notified_up,
 * inventory_t.notified_up), record the present, and say which transitions
 * happened in between: one per transition, never one per poll.
 *
 * What is seen for the first time is recorded without a transition (a
 * baseline): the first poll after start-up notifies nothing.  A container
 * that appears in an environment already seen before is compared with a
 * fresh container (created, never run), so one that was started and exited
 * between two polls is told.
 */
#ifndef PORTAINER_TRANSITION_H
#define PORTAINER_TRANSITION_H

#include "container.h"
#include "inventory.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  TRANS_EXITED,     /* exited or died (exit code when known) */
  TRANS_OOM_KILLED, /* exited, killed by the kernel's OOM killer */
  TRANS_RESTARTED,  /* restart count rose: restarted by its policy */
  TRANS_UNHEALTHY,  /* running and turned unhealthy */
  TRANS_HEALTHY,    /* running and healthy again after unhealthy */
  TRANS_DOWN,       /* environment or source stopped answering */
  TRANS_UP,         /* ... and answers again */
} transition_kind_t;

typedef struct {
  transition_kind_t kind;
  container_state_t state; /* the container's state now */
  bool exit_code_known;
  int64_t exit_code;
  bool oom_killed;           /* TRANS_EXITED when OOM is not notified */
  int64_t restart_count;     /* TRANS_RESTARTED: now */
  int64_t restart_count_was; /* ... and at the last pass */
  int64_t failing_streak;    /* TRANS_UNHEALTHY: -1 when unknown */
  int64_t at;                /* unix seconds it happened; 0 unknown */
} transition_t;

/* At most this many transitions per container and pass. */
#define TRANSITIONS_MAX 3

/* c belongs to an environment whose containers were listed in this poll.
 * env_seen_before: that environment was listed in an earlier poll too (a
 * container unknown to the last pass is then new, not a baseline).  kinds
 * are NOTIFY_* bits; transitions of other kinds are recorded, not told.
 * Writes up to TRANSITIONS_MAX transitions to out; returns their number. */
size_t transition_container(container_t *c, bool env_seen_before,
                            unsigned kinds, transition_t *out);

/* An environment's or the source's up of this poll against the recorded
 * one.  Returns true, with TRANS_DOWN or TRANS_UP in *out, when it changed
 * since a previous record. */
bool transition_up(notified_up_t *recorded, bool up, transition_t *out);

#endif
