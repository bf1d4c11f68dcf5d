/**
 * inventory.h: what a source remembers between polls.
 *
 * One inv_env_t per Docker host (a Portainer environment, or the single host
 * of a Docker source), holding its containers sorted by id.  Each poll builds
 * a fresh list from the container list response; committing it carries over
 * what the previous inspects learnt for containers that did not change and
 * marks the others for an inspect.
 */
#ifndef PORTAINER_INVENTORY_H
#define PORTAINER_INVENTORY_H

#include "container.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A small sorted set of names (Swarm nodes), at most INV_NAMES_MAX. */
#define INV_NAMES_MAX 4096
typedef struct {
  char **v;
  size_t num, cap;
} inv_names_t;

/* Adds a copy of name (a no-op when present); -1 when out of memory or
 * full. */
int inv_names_add(inv_names_t *s, const char *name);
bool inv_names_has(const inv_names_t *s, const char *name);
void inv_names_clear(inv_names_t *s);

/* Last up/down recorded by the notification pass (transition.c). */
typedef enum {
  NOTIFIED_UNKNOWN = 0, /* nothing recorded yet: the next is a baseline */
  NOTIFIED_DOWN,
  NOTIFIED_UP,
} notified_up_t;

typedef struct {
  int64_t id;           /* environment id; 0 for a Docker source */
  char *name;           /* host field of its values */
  int type;             /* Portainer environment type; 0 for a Docker source */
  bool listed;          /* present in the latest environment list */
  bool up;              /* its containers were listed in the latest poll */
  int64_t polls;        /* successful lists so far */
  int64_t events_until; /* daemon clock (s) the last events window ended */

  /* This poll: the list is in and waits for its events requests. */
  int events_pending;
  bool events_failed;
  bool poll_full;
  int64_t list_date;   /* Date of the list response (daemon clock); 0 unknown */
  double list_asked;   /* collector's monotonic clock (s): list queued */
  double list_arrived; /* collector's monotonic clock (s): its answer in */

  /* The daemon's clock, as the last committed list told it: its Date
   * (0: that list had none) and when that answer arrived (collector's
   * monotonic clock, s).  Uptime and the restart check are on this clock. */
  int64_t clock_date;
  double clock_mono;

  container_t **cs; /* current containers, sorted by id */
  size_t cs_num;
  bool *needs_inspect; /* parallel to cs, after commit */

  container_t **next; /* list being built this poll */
  size_t next_num, next_cap;

  char **dirty; /* ids named by events this poll */
  size_t dirty_num, dirty_cap;

  /* Last faults logged, so that a fault is logged once, not every poll:
   * of the list, of the events requests, of the inspects. */
  char fault[256];
  char events_fault[256];
  char inspect_fault[256];
  bool inspect_failed; /* an inspect failed this poll */

  /* Scheduling: its list (or snapshot) waited past the http client's lease
   * for an answer last time, so it is asked after the others; its inspects
   * handed to the http client and not done yet. */
  bool slow;
  int inspects_running;

  /* Edge agents (Portainer type 4), from the latest environment list. */
  bool snapshot_only;       /* async: values from Portainer's snapshot */
  int64_t snapshot_age;     /* s on Portainer's clock; -1 unknown */
  int64_t snapshot_max_age; /* older is stale (pt_edge_snapshot_max_age) */
  char edge_fault[256];     /* why it is not asked (offline...), logged once */

  notified_up_t notified_up; /* written by transition.c only */

  /* Swarm agent environments (nodes.c): the nodes (NodeName) in this poll's
   * list; those seen in any list since start, expected to answer; those
   * expected and missing from this poll's list; the Swarm's own node list
   * while it is asked (GET /nodes); its faults, logged once. */
  inv_names_t nodes_seen, nodes_known, nodes_missing, nodes_swarm;
  int nodes_pending;
  char nodes_fault[256];
  char nodes_missing_fault[256];
} inv_env_t;

typedef struct {
  inv_env_t **envs;
  size_t envs_num;
  notified_up_t notified_up; /* the source's; written by transition.c only */
} inventory_t;

inventory_t *inventory_new(void);
void inventory_free(inventory_t *inv);

/* Finds the environment with this id, or adds it (name copied); NULL on
 * allocation failure.  The name is updated when it changed. */
inv_env_t *inventory_env(inventory_t *inv, int64_t id, const char *name);
inv_env_t *inventory_find(const inventory_t *inv, int64_t id);
/* Drops environments whose listed flag is false. */
void inventory_prune_unlisted(inventory_t *inv);

/* Building this poll's list: begin, add (takes ownership, also on failure),
 * then commit or abort. */
void inv_env_list_begin(inv_env_t *e);
int inv_env_list_add(inv_env_t *e, container_t *c);
/* Events named this container id: re-inspect it. */
int inv_env_mark_dirty(inv_env_t *e, const char *id);
/* Its containers were listed this poll, from every Swarm node expected to
 * answer: what its "up" value says. */
bool inv_env_complete(const inv_env_t *e);
/* Replaces the containers with the new list.  A container is marked for an
 * inspect when it is new, never inspected, named by an event, changed state
 * or Status class, looks restarted, is a running container with a
 * healthcheck whose health the list does not show (Podman), or when
 * full is true.  "Looks restarted" compares the list's "Up ..." with the
 * known start on the daemon's clock: the list's Date (list_date), or now
 * (the collector's clock, unix seconds) when the list had none.  The list's
 * clock (list_date, list_arrived) becomes the committed one (clock_date,
 * clock_mono).  A container of the last list missing
 * from this one because its Swarm node is in nodes_missing is kept, marked
 * absent and not inspected: it keeps its identity's suffix, and is reported
 * again (after an inspect) when its node is back. */
void inv_env_list_commit(inv_env_t *e, bool full, int64_t now);
/* The list failed: forget the partial list; keep the containers (and what
 * was learnt of them) for the next successful poll. */
void inv_env_list_abort(inv_env_t *e);
/* Removes the containers marked vanished (gone between list and inspect). */
void inv_env_drop_vanished(inv_env_t *e);

/* --- the daemon's clock ------------------------------------------------
 *
 * Times in a daemon's documents (StartedAt, FinishedAt, events) are on that
 * daemon's clock, which may be far from the collector's: every comparison
 * with them is made on the daemon's clock, read from the Date header of its
 * list answer and carried forward with the collector's monotonic clock. */

/* Seconds of slack for the daemon's clock running at another rate than the
 * collector's between two lists (and the Date header's whole seconds). */
#define INV_CLOCK_STEP_SLACK 2

/* The collector's monotonic clock, in seconds. */
double inv_monotonic(void);
/* The daemon's clock now, unix seconds: the committed list's Date plus the
 * time elapsed since its answer arrived (mono_now: inv_monotonic()); the
 * collector's clock (wall_now) when that list had no Date header. */
int64_t inv_env_daemon_now(const inv_env_t *e, double mono_now,
                           int64_t wall_now);
/* Did the daemon's clock step back since the last committed list?  date:
 * this list's Date (0 unknown), asked: when this list was queued
 * (inv_monotonic()).  True when the events window would run backwards (date
 * before events_until), or when date is earlier than the last list's Date
 * plus the time that surely passed between the two answers
 * (INV_CLOCK_STEP_SLACK allowed): events stamped in between may fall
 * outside every window. */
bool inv_env_clock_went_back(const inv_env_t *e, int64_t date, double asked);

/* Lower and upper bounds, in seconds, of the duration in a Status string
 * such as "Up 3 minutes" (the part after "Up "); -1 when there is none. */
int status_uptime_bounds(const char *status, int64_t *lo, int64_t *hi);

#endif
