/**
 * container.c: the container model, state and health names, Docker's Status
 * strings and RFC 3339 times.
 */
#include "container.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- names ------------------------------------------------------------- */

static const struct {
  const char *name;
  container_state_t state;
} state_names[] = {
    {"exited", CSTATE_EXITED},
    {"running", CSTATE_RUNNING},
    {"paused", CSTATE_PAUSED},
    {"created", CSTATE_CREATED},
    {"restarting", CSTATE_RESTARTING},
    {"dead", CSTATE_DEAD},
    {"removing", CSTATE_REMOVING},
    /* Podman's own names, in case its compat API passes them through. */
    {"configured", CSTATE_CREATED},
    {"stopped", CSTATE_EXITED},
};

/* s (len bytes, not NUL-terminated) equals lit, ignoring ASCII case. */
static bool equals_nocase(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return len == n && strncasecmp(s, lit, n) == 0;
}

container_state_t container_state_from_string(const char *s, size_t len) {
  if (s == NULL)
    return CSTATE_UNKNOWN;
  for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
    if (equals_nocase(s, len, state_names[i].name))
      return state_names[i].state;
  return CSTATE_UNKNOWN;
}

const char *container_state_name(container_state_t st) {
  switch (st) {
  case CSTATE_EXITED:
    return "exited";
  case CSTATE_RUNNING:
    return "running";
  case CSTATE_PAUSED:
    return "paused";
  case CSTATE_CREATED:
    return "created";
  case CSTATE_RESTARTING:
    return "restarting";
  case CSTATE_DEAD:
    return "dead";
  case CSTATE_REMOVING:
    return "removing";
  case CSTATE_UNKNOWN:
    break;
  }
  return "unknown";
}

int container_health_from_string(const char *s, size_t len) {
  if (s == NULL)
    return -1;
  if (equals_nocase(s, len, "healthy"))
    return CHEALTH_HEALTHY;
  if (equals_nocase(s, len, "unhealthy"))
    return CHEALTH_UNHEALTHY;
  if (equals_nocase(s, len, "starting"))
    return CHEALTH_STARTING;
  if (equals_nocase(s, len, "none"))
    return CHEALTH_NONE;
  return -1;
}

const char *container_health_name(container_health_t h) {
  switch (h) {
  case CHEALTH_HEALTHY:
    return "healthy";
  case CHEALTH_UNHEALTHY:
    return "unhealthy";
  case CHEALTH_STARTING:
    return "starting";
  case CHEALTH_NONE:
    break;
  }
  return "none";
}

/* ---- Status strings ---------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);
  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* "(<int>)" at s: stores the number and returns true. */
static bool parse_paren_int(const char *s, int *out) {
  if (*s++ != '(')
    return false;
  bool neg = false;
  if (*s == '-') {
    neg = true;
    s++;
  }
  if (*s < '0' || *s > '9')
    return false;
  long long v = 0;
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s++ - '0');
    if (v > 2147483648LL)
      return false;
  }
  if (*s != ')')
    return false;
  v = neg ? -v : v;
  if (v > 2147483647LL)
    return false;
  *out = (int)v;
  return true;
}

/* Docker's daemon/container/state.go String():
 *   "Up <dur>[ (healthy)| (unhealthy)| (health: starting)| (Paused)]",
 *   "Restarting (<code>) <dur> ago", "Exited (<code>) <dur> ago",
 *   "Created", "Removal In Progress", "Dead", "". */
void container_status_parse(const char *status, container_status_t *out) {
  if (out == NULL)
    return;
  memset(out, 0, sizeof(*out));
  out->health = CHEALTH_NONE;
  if (status == NULL)
    return;
  size_t len = strlen(status);

  if (starts_with(status, "Up ") || strcmp(status, "Up") == 0) {
    if (ends_with(status, len, " (Paused)")) {
      out->paused = true;
    } else if (ends_with(status, len, " (healthy)")) {
      out->health_known = true;
      out->health = CHEALTH_HEALTHY;
    } else if (ends_with(status, len, " (unhealthy)")) {
      out->health_known = true;
      out->health = CHEALTH_UNHEALTHY;
    } else if (ends_with(status, len, " (health: starting)")) {
      out->health_known = true;
      out->health = CHEALTH_STARTING;
    }
    return;
  }
  if (starts_with(status, "Exited "))
    out->exit_code_known = parse_paren_int(status + 7, &out->exit_code);
  else if (starts_with(status, "Restarting "))
    out->exit_code_known = parse_paren_int(status + 11, &out->exit_code);
  if (!out->exit_code_known)
    out->exit_code = 0;
}

/* ---- the model --------------------------------------------------------- */

container_health_t container_health(const container_t *c) {
  /* Health checks run only in running containers.  dockerd marks the health
   * of a container it stops or pauses "unhealthy" as it ends the checks,
   * which says nothing about the service: not running, health 0. */
  if (c == NULL || container_state(c) != CSTATE_RUNNING)
    return CHEALTH_NONE;
  if (c->list_health_known)
    return c->list_health;
  if (c->inspected && c->has_healthcheck)
    return c->inspect_health;
  return CHEALTH_NONE;
}

container_state_t container_state(const container_t *c) {
  if (c == NULL)
    return CSTATE_UNKNOWN;
  /* The list said nothing usable: an inspect may still know. */
  if (c->state == CSTATE_UNKNOWN && c->inspected)
    return c->inspect_state;
  return c->state;
}

container_t *container_new(void) {
  container_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->state = CSTATE_UNKNOWN;
  c->list_health = CHEALTH_NONE;
  c->list_failing_streak = -1;
  c->inspect_health = CHEALTH_NONE;
  c->inspect_state = CSTATE_UNKNOWN;
  return c;
}

void container_free(container_t *c) {
  if (c == NULL)
    return;
  free(c->id);
  free(c->name);
  free(c->image);
  free(c->label);
  free(c->node);
  free(c->status);
  free(c->id_suffix);
  free(c);
}

/* ---- times ------------------------------------------------------------- */

/* n digits at s[*i] as an int; false when not all digits. */
static bool take_digits(const char *s, size_t len, size_t *i, int n, int *out) {
  if (*i + (size_t)n > len)
    return false;
  int v = 0;
  for (int k = 0; k < n; k++) {
    char ch = s[*i + (size_t)k];
    if (ch < '0' || ch > '9')
      return false;
    v = v * 10 + (ch - '0');
  }
  *i += (size_t)n;
  *out = v;
  return true;
}

static bool take_char(const char *s, size_t len, size_t *i, const char *set) {
  if (*i >= len || s[*i] == '\0' || strchr(set, s[*i]) == NULL)
    return false;
  (*i)++;
  return true;
}

static int days_in_month(int year, int mon) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return mon == 2 && leap ? 29 : days[mon - 1];
}

/* YYYY-MM-DD[Tt ]hh:mm:ss[.frac](Z|z|+hh:mm|-hh:mm) */
int64_t container_parse_time(const char *s, size_t len) {
  if (s == NULL)
    return 0;
  size_t i = 0;
  int year, mon, day, hour, min, sec;
  if (!take_digits(s, len, &i, 4, &year) || !take_char(s, len, &i, "-") ||
      !take_digits(s, len, &i, 2, &mon) || !take_char(s, len, &i, "-") ||
      !take_digits(s, len, &i, 2, &day) || !take_char(s, len, &i, "Tt ") ||
      !take_digits(s, len, &i, 2, &hour) || !take_char(s, len, &i, ":") ||
      !take_digits(s, len, &i, 2, &min) || !take_char(s, len, &i, ":") ||
      !take_digits(s, len, &i, 2, &sec))
    return 0;
  if (i < len && s[i] == '.') {
    size_t start = ++i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == start)
      return 0;
  }
  int offset = 0; /* seconds east of UTC */
  if (take_char(s, len, &i, "Zz")) {
    offset = 0;
  } else if (i < len && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i++] == '-' ? -1 : 1;
    int oh, om;
    if (!take_digits(s, len, &i, 2, &oh) || !take_char(s, len, &i, ":") ||
        !take_digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
      return 0;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return 0;
  }
  if (i != len)
    return 0;
  /* Go's zero time (year 1) and anything before the epoch mean "never". */
  if (year < 1970 || mon < 1 || mon > 12 || day < 1 ||
      day > days_in_month(year, mon) || hour > 23 || min > 59 || sec > 60)
    return 0;
  struct tm tm = {
      .tm_year = year - 1900,
      .tm_mon = mon - 1,
      .tm_mday = day,
      .tm_hour = hour,
      .tm_min = min,
      .tm_sec = sec,
  };
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return 0;
  int64_t r = (int64_t)t - offset;
  return r > 0 ? r : 0;
}
