/**
 * inventory.c: see inventory.h.
 */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Slack, in seconds, before a shorter "Up ..." than expected is taken for a
 * restart: both sides are on the daemon's clock, but the Date header and
 * StartedAt are whole seconds, and the list is made a moment before its
 * Date is written. */
#define RESTART_SLACK 5

/* --- name sets -------------------------------------------------------------
 */

/* Where name is, or would go, in the sorted set. */
static size_t names_at(const inv_names_t *s, const char *name, bool *found) {
  size_t lo = 0, hi = s->num;
  *found = false;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = strcmp(s->v[mid], name);
    if (r == 0) {
      *found = true;
      return mid;
    }
    if (r < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

bool inv_names_has(const inv_names_t *s, const char *name) {
  bool found;
  (void)names_at(s, name, &found);
  return found;
}

int inv_names_add(inv_names_t *s, const char *name) {
  bool found;
  size_t at = names_at(s, name, &found);
  if (found)
    return 0;
  if (s->num >= INV_NAMES_MAX)
    return -1;
  if (s->num == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 8;
    char **v = realloc(s->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    s->v = v;
    s->cap = cap;
  }
  char *copy = strdup(name);
  if (copy == NULL)
    return -1;
  memmove(s->v + at + 1, s->v + at, (s->num - at) * sizeof(*s->v));
  s->v[at] = copy;
  s->num++;
  return 0;
}

void inv_names_clear(inv_names_t *s) {
  for (size_t i = 0; i < s->num; i++)
    free(s->v[i]);
  s->num = 0;
}

static void names_free(inv_names_t *s) {
  inv_names_clear(s);
  free(s->v);
  s->v = NULL;
  s->cap = 0;
}

/* --- the inventory -----------------------------------------------------------
 */

inventory_t *inventory_new(void) {
  return calloc(1, sizeof(inventory_t));
}

static void free_containers(container_t **cs, size_t n) {
  for (size_t i = 0; i < n; i++)
    container_free(cs[i]);
  free(cs);
}

static void free_dirty(inv_env_t *e) {
  for (size_t i = 0; i < e->dirty_num; i++)
    free(e->dirty[i]);
  free(e->dirty);
  e->dirty = NULL;
  e->dirty_num = e->dirty_cap = 0;
}

static void free_next(inv_env_t *e);

static void env_free(inv_env_t *e) {
  if (e == NULL)
    return;
  free_next(e); /* first: it may hold objects of cs */
  free_containers(e->cs, e->cs_num);
  free(e->needs_inspect);
  free_dirty(e);
  names_free(&e->nodes_seen);
  names_free(&e->nodes_known);
  names_free(&e->nodes_missing);
  names_free(&e->nodes_swarm);
  free(e->name);
  free(e);
}

void inventory_free(inventory_t *inv) {
  if (inv == NULL)
    return;
  for (size_t i = 0; i < inv->envs_num; i++)
    env_free(inv->envs[i]);
  free(inv->envs);
  free(inv);
}

inv_env_t *inventory_find(const inventory_t *inv, int64_t id) {
  for (size_t i = 0; i < inv->envs_num; i++)
    if (inv->envs[i]->id == id)
      return inv->envs[i];
  return NULL;
}

inv_env_t *inventory_env(inventory_t *inv, int64_t id, const char *name) {
  inv_env_t *e = inventory_find(inv, id);
  if (e != NULL) {
    if (name != NULL && strcmp(e->name, name) != 0) {
      char *copy = strdup(name);
      if (copy == NULL)
        return NULL;
      free(e->name);
      e->name = copy;
    }
    return e;
  }
  inv_env_t **envs = realloc(inv->envs, (inv->envs_num + 1) * sizeof(*envs));
  if (envs == NULL)
    return NULL;
  inv->envs = envs;
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  e->id = id;
  e->name = strdup(name != NULL ? name : "");
  if (e->name == NULL) {
    free(e);
    return NULL;
  }
  inv->envs[inv->envs_num++] = e;
  return e;
}

void inventory_prune_unlisted(inventory_t *inv) {
  size_t keep = 0;
  for (size_t i = 0; i < inv->envs_num; i++) {
    if (inv->envs[i]->listed)
      inv->envs[keep++] = inv->envs[i];
    else
      env_free(inv->envs[i]);
  }
  inv->envs_num = keep;
}

static container_t *find_old(container_t **cs, size_t n, const char *id);

/* Frees a list being built; what it took over from the current list stays
 * there. */
static void free_next(inv_env_t *e) {
  for (size_t i = 0; i < e->next_num; i++) {
    if (e->next[i]->reused)
      e->next[i]->reused = false;
    else
      container_free(e->next[i]);
  }
  free(e->next);
}

static bool same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Everything a list item says is the same as last time. */
static bool same_list_facts(const container_t *a, const container_t *b) {
  return a->state == b->state && a->list_health_known == b->list_health_known &&
         a->list_health == b->list_health &&
         a->list_failing_streak == b->list_failing_streak &&
         same_str(a->status, b->status) && same_str(a->name, b->name) &&
         same_str(a->image, b->image) && same_str(a->label, b->label) &&
         same_str(a->node, b->node);
}

void inv_env_list_begin(inv_env_t *e) {
  e->list_date = 0; /* set when the answer is in (lists.c) */
  e->list_arrived = 0;
  free_next(e);
  e->next = NULL;
  e->next_num = e->next_cap = 0;
  free_dirty(e);
  inv_names_clear(&e->nodes_seen);
  inv_names_clear(&e->nodes_missing);
  inv_names_clear(&e->nodes_swarm);
  e->nodes_pending = 0;
}

bool inv_env_complete(const inv_env_t *e) {
  return e->up && e->nodes_missing.num == 0;
}

int inv_env_list_add(inv_env_t *e, container_t *c) {
  /* Unchanged since the last list (the common case): keep the object we
   * have and drop the new one at once, so a steady poll does not hold two
   * copies of the inventory. */
  container_t *old = find_old(e->cs, e->cs_num, c->id);
  if (old != NULL && !old->reused && same_list_facts(old, c)) {
    container_free(c);
    old->reused = true;
    c = old;
  }
  if (e->next_num == e->next_cap) {
    size_t cap = e->next_cap ? e->next_cap * 2 : 64;
    container_t **n = realloc(e->next, cap * sizeof(*n));
    if (n == NULL) {
      if (c->reused)
        c->reused = false; /* still owned by the current list */
      else
        container_free(c);
      return -1;
    }
    e->next = n;
    e->next_cap = cap;
  }
  e->next[e->next_num++] = c;
  return 0;
}

int inv_env_mark_dirty(inv_env_t *e, const char *id) {
  if (e->dirty_num == e->dirty_cap) {
    size_t cap = e->dirty_cap ? e->dirty_cap * 2 : 16;
    char **n = realloc(e->dirty, cap * sizeof(*n));
    if (n == NULL)
      return -1;
    e->dirty = n;
    e->dirty_cap = cap;
  }
  e->dirty[e->dirty_num] = strdup(id);
  if (e->dirty[e->dirty_num] == NULL)
    return -1;
  e->dirty_num++;
  return 0;
}

static int cmp_container(const void *a, const void *b) {
  const container_t *x = *(container_t *const *)a;
  const container_t *y = *(container_t *const *)b;
  return strcmp(x->id, y->id);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static container_t *find_old(container_t **cs, size_t n, const char *id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = strcmp(cs[mid]->id, id);
    if (r == 0)
      return cs[mid];
    if (r < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* Bounds, in seconds, of a go-units HumanDuration ("3 minutes",
 * "About an hour", ...) at d; -1 when d is not one. */
static int duration_bounds(const char *d, int64_t *lo, int64_t *hi) {
  static const struct {
    const char *unit;
    int64_t seconds;
  } units[] = {
      {"second", 1},         {"minute", 60},      {"hour", 3600},
      {"day", 86400},        {"week", 7 * 86400}, {"month", 30 * 86400},
      {"year", 365 * 86400},
  };
  if (strncmp(d, "Less than a second", 18) == 0) {
    *lo = 0, *hi = 1;
    return 0;
  }
  if (strncmp(d, "About a minute", 14) == 0) {
    *lo = 60, *hi = 120;
    return 0;
  }
  if (strncmp(d, "About an hour", 13) == 0) {
    *lo = 3600, *hi = 5400;
    return 0;
  }
  char *end = NULL;
  long long n = strtoll(d, &end, 10);
  if (end == d || n < 0 || n > 100000 || *end != ' ')
    return -1;
  end++;
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    size_t len = strlen(units[i].unit);
    if (strncmp(end, units[i].unit, len) != 0)
      continue;
    int64_t s = units[i].seconds;
    if (s <= 60) {
      *lo = n * s, *hi = (n + 1) * s;
    } else if (s == 3600) { /* Docker rounds hours to the nearest */
      *lo = n * s - 1800, *hi = n * s + 1800;
    } else { /* whole days of rounded hours */
      *lo = n * s - 1800, *hi = (n + 1) * s + 1800;
    }
    return 0;
  }
  return -1;
}

int status_uptime_bounds(const char *status, int64_t *lo, int64_t *hi) {
  if (status == NULL || strncmp(status, "Up ", 3) != 0)
    return -1;
  return duration_bounds(status + 3, lo, hi);
}

/* "Exited (N) <duration> ago", "Restarting (N) <duration> ago". */
static int status_finished_bounds(const char *status, int64_t *lo,
                                  int64_t *hi) {
  if (status == NULL || (strncmp(status, "Exited (", 8) != 0 &&
                         strncmp(status, "Restarting (", 12) != 0))
    return -1;
  const char *p = strstr(status, ") ");
  if (p == NULL)
    return -1;
  return duration_bounds(p + 2, lo, hi);
}

/* Did the container start again since the inspect that told started_at?
 * now: the daemon's clock when it made the list. */
static bool looks_restarted(const container_t *old, const container_t *c,
                            int64_t now) {
  int64_t lo, hi;
  if (!old->inspected || c->status == NULL)
    return false;
  /* Up for less time than since the start we know of: started again. */
  if (old->started_at > 0 && status_uptime_bounds(c->status, &lo, &hi) == 0)
    return hi + RESTART_SLACK < now - old->started_at;
  /* Finished later than the finish we know of: ran and stopped again. */
  if (status_finished_bounds(c->status, &lo, &hi) == 0)
    return now - hi > old->finished_at + RESTART_SLACK;
  return false;
}

static bool status_class_changed(const container_t *old, const container_t *c) {
  container_status_t a, b;
  if (old->state != c->state)
    return true;
  container_status_parse(old->status, &a);
  container_status_parse(c->status, &b);
  return a.paused != b.paused || a.exit_code_known != b.exit_code_known ||
         (a.exit_code_known && a.exit_code != b.exit_code) ||
         a.health_known != b.health_known ||
         (a.health_known && a.health != b.health);
}

static void carry_inspect(container_t *c, const container_t *old) {
  c->inspected = old->inspected;
  c->restart_count = old->restart_count;
  c->exit_code = old->exit_code;
  c->oom_killed = old->oom_killed;
  c->started_at = old->started_at;
  c->finished_at = old->finished_at;
  c->has_healthcheck = old->has_healthcheck;
  c->inspect_health = old->inspect_health;
  c->failing_streak = old->failing_streak;
  c->inspect_state = old->inspect_state;
}

/* What the notification pass recorded stays with the container. */
static void carry_notified(container_t *c, const container_t *old) {
  c->notified = old->notified;
}

/* The identity's suffix stays with the container, whichever object holds
 * it (the old one is freed after the commit). */
static void carry_identity(container_t *c, container_t *old) {
  c->id_settled = old->id_settled;
  c->id_suffix = old->id_suffix;
  old->id_suffix = NULL;
}

/* The containers of the last list whose Swarm node is missing from this one
 * stay, absent: appended to cs (n of them, room for cap), carried over like
 * unchanged ones.  Returns the new count. */
static size_t keep_absent(inv_env_t *e, container_t ***cs, size_t n,
                          size_t *cap) {
  size_t listed = n;
  for (size_t i = 0; i < e->cs_num; i++) {
    container_t *old = e->cs[i];
    if (old->reused || old->node == NULL ||
        !inv_names_has(&e->nodes_missing, old->node) ||
        find_old(*cs, listed, old->id) != NULL)
      continue;
    if (n == *cap) {
      size_t ncap = *cap ? *cap * 2 : 64;
      container_t **m = realloc(*cs, ncap * sizeof(*m));
      if (m == NULL)
        break; /* out of memory: it goes, as if removed */
      *cs = m;
      *cap = ncap;
    }
    old->absent = true;
    old->inspected = false; /* nothing of it is fresh any more */
    old->reused = true;
    (*cs)[n++] = old;
  }
  if (n > listed)
    qsort(*cs, n, sizeof(**cs), cmp_container);
  return n;
}

void inv_env_list_commit(inv_env_t *e, bool full, int64_t now) {
  container_t **cs = e->next;
  size_t n = e->next_num;

  if (n > 1) /* (cs is NULL for an empty list) */
    qsort(cs, n, sizeof(*cs), cmp_container);
  /* The same id twice (a merged list gone wrong): keep one, the carried
   * over object if it is one of them. */
  size_t keep = 0;
  for (size_t i = 0; i < n; i++) {
    if (keep > 0 && strcmp(cs[keep - 1]->id, cs[i]->id) == 0) {
      if (cs[i]->reused) {
        container_t *t = cs[keep - 1];
        cs[keep - 1] = cs[i];
        cs[i] = t;
      }
      container_free(cs[i]);
      continue;
    }
    cs[keep++] = cs[i];
  }
  n = keep;
  for (size_t i = 0; i < n; i++)
    cs[i]->absent = false; /* listed */
  if (e->nodes_missing.num > 0)
    n = keep_absent(e, &cs, n, &e->next_cap);
  bool *needs = calloc(n ? n : 1, sizeof(*needs));
  /* The Status strings were made on the daemon's clock. */
  int64_t daemon_now = e->list_date > 0 ? e->list_date : now;
  if (e->dirty_num > 0)
    qsort(e->dirty, e->dirty_num, sizeof(*e->dirty), cmp_str);

  for (size_t i = 0; i < n; i++) {
    container_t *c = cs[i];
    if (c->absent)
      continue; /* needs[i] false: not inspected, not reported */
    container_t *old = find_old(e->cs, e->cs_num, c->id);
    bool need = full || old == NULL || !old->inspected;
    if (!need && e->dirty_num > 0)
      need = bsearch(&c->id, e->dirty, e->dirty_num, sizeof(*e->dirty),
                     cmp_str) != NULL;
    /* (A carried-over object is its own old self: its list entry did not
     * change, only the time since its known start or finish can tell.) */
    if (!need)
      need = (old != c && status_class_changed(old, c)) ||
             looks_restarted(old, c, daemon_now);
    /* Crash loops change RestartCount without changing the list. */
    if (!need)
      need = c->state == CSTATE_RESTARTING;
    /* Podman: health only in inspect. */
    if (!need)
      need = old->has_healthcheck && !c->list_health_known &&
             c->state == CSTATE_RUNNING;
    if (old != NULL && old != c) {
      carry_inspect(c, old);
      carry_identity(c, old);
      carry_notified(c, old);
    }
    if (needs != NULL)
      needs[i] = need;
    else
      c->inspected = false; /* no memory to track: report list facts only */
  }

  /* The last list's objects not carried over are gone now. */
  for (size_t i = 0; i < e->cs_num; i++)
    if (!e->cs[i]->reused)
      container_free(e->cs[i]);
  free(e->cs);
  for (size_t i = 0; i < n; i++)
    cs[i]->reused = false;
  free(e->needs_inspect);
  e->cs = cs;
  e->cs_num = n;
  e->needs_inspect = needs;
  e->next = NULL;
  e->next_num = e->next_cap = 0;
  free_dirty(e);
  e->clock_date = e->list_date;
  e->clock_mono = e->list_arrived;
  e->up = true;
  e->polls++;
}

void inv_env_list_abort(inv_env_t *e) {
  free_next(e);
  e->next = NULL;
  e->next_num = e->next_cap = 0;
  free_dirty(e);
  e->up = false;
}

void inv_env_drop_vanished(inv_env_t *e) {
  size_t keep = 0;
  for (size_t i = 0; i < e->cs_num; i++) {
    if (e->cs[i]->vanished) {
      container_free(e->cs[i]);
      continue;
    }
    if (e->needs_inspect != NULL)
      e->needs_inspect[keep] = e->needs_inspect[i];
    e->cs[keep++] = e->cs[i];
  }
  e->cs_num = keep;
}

/* --- the daemon's clock -------------------------------------------------- */

double inv_monotonic(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t inv_env_daemon_now(const inv_env_t *e, double mono_now,
                           int64_t wall_now) {
  if (e->clock_date <= 0)
    return wall_now;
  double since = mono_now - e->clock_mono;
  if (since < 0)
    since = 0;
  /* The Date header is the whole second its answer began in: half a second
   * on average is lost, and added back. */
  return e->clock_date + (int64_t)(since + 0.5);
}

bool inv_env_clock_went_back(const inv_env_t *e, int64_t date, double asked) {
  if (date <= 0)
    return false; /* unknown: the poll inspects everything anyway */
  if (e->events_until > 0 && date < e->events_until)
    return true; /* the events window would run backwards */
  if (e->clock_date <= 0 || e->clock_mono <= 0 || asked <= 0)
    return false;
  /* This list was asked after the last answer arrived, so its Date was
   * written at least (asked - clock_mono) later on any clock that did not
   * step back; whole-second Dates lose up to one second. */
  double passed = asked - e->clock_mono;
  return (double)date + 1.0 + INV_CLOCK_STEP_SLACK <=
         (double)e->clock_date + passed;
}
