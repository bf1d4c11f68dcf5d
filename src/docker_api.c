/**
 * docker_api.c: paths and streaming parsers for the Docker Engine API
 * (container list, inspect, events) and its error bodies.
 */
#include "docker_api.h"
#include "json_stream_impl.h"
#include "secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- paths ------------------------------------------------------------- */

static bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

int docker_path_inspect(char *buf, size_t size, const char *id) {
  if (buf == NULL || size == 0 || id == NULL)
    return -1;
  buf[0] = '\0';
  /* Ids and names are [a-zA-Z0-9][a-zA-Z0-9_.-]*: the first character rules
   * out "." and ".." (path traversal), the rest anything needing escapes. */
  if (!is_alnum(id[0]))
    return -1;
  for (const char *p = id; *p != '\0'; p++)
    if (!is_alnum(*p) && *p != '_' && *p != '.' && *p != '-')
      return -1;
  int n = snprintf(buf, size, "/containers/%s/json", id);
  if (n < 0 || (size_t)n >= size) {
    buf[0] = '\0';
    return -1;
  }
  return 0;
}

int docker_path_events(char *buf, size_t size, int64_t since, int64_t until) {
  if (buf == NULL || size == 0)
    return -1;
  /* filters={"type":["container"]}, URL-encoded. */
  int n = snprintf(buf, size,
                   "/events?since=%" PRId64 "&until=%" PRId64
                   "&filters=%%7B%%22type%%22%%3A%%5B%%22container%%22%%5D%%7D",
                   since, until);
  if (n < 0 || (size_t)n >= size) {
    buf[0] = '\0';
    return -1;
  }
  return 0;
}

/* ---- container list ---------------------------------------------------- */

/* Member ids.  Which ones apply depends on the depth (see the key hooks). */
enum {
  K_OTHER = 0,
  K_ID,
  K_NAMES,
  K_IMAGE,
  K_STATE,
  K_STATUS,
  K_LABELS,
  K_LABEL, /* the configured label, inside Labels */
  K_HEALTH,
  K_FAILING,
  K_PORTAINER,
  K_AGENT,
  K_NODENAME,
  K_RESTARTS,
  K_OOM,
  K_EXITCODE,
  K_STARTED,
  K_FINISHED,
  K_TYPE,
  K_STATUS_OLD, /* events: "status" */
  K_ID_OLD,     /* events: "id" */
  K_ACTION,
  K_ACTOR,
  K_TIME,
  K_TIMENANO,
};

typedef struct {
  json_stream_t base;
  char *label_key;
  docker_container_cb cb;
  void *ud;
  container_t *cur; /* the item being read, NULL between items */
  container_state_t state;
  int health; /* Health.Status, -1 when absent or invalid */
  int64_t failing;
  bool have_failing;
  bool have_name; /* the first string of Names was taken */
} list_parser_t;

static const js_key_def_t item_keys[] = {
    {"Id", K_ID},         {"Names", K_NAMES},         {"Image", K_IMAGE},
    {"State", K_STATE},   {"Status", K_STATUS},       {"Labels", K_LABELS},
    {"Health", K_HEALTH}, {"Portainer", K_PORTAINER},
};
static const js_key_def_t health_keys[] = {
    {"Status", K_STATUS},
    {"FailingStreak", K_FAILING},
};

static int list_key(json_stream_t *js, const char *k, size_t len) {
  list_parser_t *p = (list_parser_t *)js;
  switch (js->depth) {
  case 2:
    return JS_KEYS(item_keys, k, len);
  case 3:
    switch (js_key_at(js, 2)) {
    case K_LABELS:
      return p->label_key != NULL && js_key_is(k, len, p->label_key) ? K_LABEL
                                                                     : K_OTHER;
    case K_HEALTH:
      return JS_KEYS(health_keys, k, len);
    case K_PORTAINER:
      return js_key_is(k, len, "Agent") ? K_AGENT : K_OTHER;
    }
    return K_OTHER;
  case 4:
    if (js_key_at(js, 2) == K_PORTAINER && js_key_at(js, 3) == K_AGENT &&
        js_key_is(k, len, "NodeName"))
      return K_NODENAME;
    return K_OTHER;
  }
  return K_OTHER;
}

static int list_open(json_stream_t *js, bool is_map) {
  list_parser_t *p = (list_parser_t *)js;
  switch (js->depth) {
  case 1: /* the top-level array */
    return JS_DESCEND;
  case 2: /* an item; anything but an object is skipped */
    if (!is_map)
      return JS_SKIP;
    container_free(p->cur);
    p->cur = container_new();
    if (p->cur == NULL) {
      js_fail(js, "out of memory");
      return JS_ABORT;
    }
    p->state = CSTATE_UNKNOWN;
    p->health = -1;
    p->failing = 0;
    p->have_failing = false;
    p->have_name = false;
    return JS_DESCEND;
  case 3:
    switch (js_key_at(js, 2)) {
    case K_NAMES:
      if (is_map)
        return JS_SKIP;
      p->have_name = false; /* the last Names array counts */
      return JS_DESCEND;
    case K_HEALTH:
      if (!is_map)
        return JS_SKIP;
      p->health = -1; /* the last Health object counts */
      p->have_failing = false;
      return JS_DESCEND;
    case K_LABELS:
    case K_PORTAINER:
      return is_map ? JS_DESCEND : JS_SKIP;
    }
    return JS_SKIP;
  case 4:
    return is_map && js_key_at(js, 3) == K_AGENT ? JS_DESCEND : JS_SKIP;
  }
  return JS_SKIP;
}

static int list_scalar(json_stream_t *js, const js_value_t *v) {
  list_parser_t *p = (list_parser_t *)js;
  container_t *c = p->cur;
  if (c == NULL) /* a scalar item of the top-level array */
    return 1;
  bool str = v->type == JS_STRING;
  switch (js->depth) {
  case 2:
    if (!str)
      return 1; /* every item field read here is a string */
    switch (js_key_at(js, 2)) {
    case K_ID:
      return js_set_string(js, &c->id, v->str, v->len) == 0;
    case K_IMAGE:
      return js_set_string(js, &c->image, v->str, v->len) == 0;
    case K_STATUS:
      return js_set_string(js, &c->status, v->str, v->len) == 0;
    case K_STATE:
      p->state = container_state_from_string(v->str, v->len);
      return 1;
    }
    return 1;
  case 3:
    switch (js_key_at(js, 2)) {
    case K_NAMES: /* the first string of the array */
      if (!str || p->have_name)
        return 1;
      p->have_name = true;
      if (v->len > 0 && v->str[0] == '/')
        return js_set_string(js, &c->name, v->str + 1, v->len - 1) == 0;
      return js_set_string(js, &c->name, v->str, v->len) == 0;
    case K_LABELS:
      if (str && js_key_at(js, 3) == K_LABEL)
        return js_set_string(js, &c->label, v->str, v->len) == 0;
      return 1;
    case K_HEALTH:
      if (js_key_at(js, 3) == K_STATUS && str)
        p->health = container_health_from_string(v->str, v->len);
      else if (js_key_at(js, 3) == K_FAILING && v->type == JS_NUMBER)
        p->have_failing = js_number_to_int64(v->str, v->len, &p->failing) == 0;
      return 1;
    }
    return 1;
  case 4:
    if (str && js_key_at(js, 4) == K_NODENAME)
      return js_set_string(js, &c->node, v->str, v->len) == 0;
    return 1;
  }
  return 1;
}

/* The state a Status string implies (for engines without a State field). */
static container_state_t state_from_status(const char *s) {
  size_t len = strlen(s);
  if (strcmp(s, "Up") == 0 || strncmp(s, "Up ", 3) == 0)
    return len >= 9 && strcmp(s + len - 9, " (Paused)") == 0 ? CSTATE_PAUSED
                                                             : CSTATE_RUNNING;
  if (strncmp(s, "Exited", 6) == 0 && (s[6] == ' ' || s[6] == '\0'))
    return CSTATE_EXITED;
  if (strncmp(s, "Restarting", 10) == 0 && (s[10] == ' ' || s[10] == '\0'))
    return CSTATE_RESTARTING;
  if (strcmp(s, "Created") == 0)
    return CSTATE_CREATED;
  if (strcmp(s, "Dead") == 0)
    return CSTATE_DEAD;
  if (strcmp(s, "Removal In Progress") == 0)
    return CSTATE_REMOVING;
  return CSTATE_UNKNOWN;
}

static char *dup_n(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p != NULL) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* Completes the item that just closed and hands it out. */
static int list_item_done(list_parser_t *p) {
  container_t *c = p->cur;
  p->cur = NULL;
  if (c->id == NULL || c->id[0] == '\0') {
    container_free(c); /* no usable Id: skipped */
    return 1;
  }
  if (c->name == NULL || c->name[0] == '\0') {
    free(c->name);
    c->name = dup_n(c->id, strnlen(c->id, 12));
  }
  if (c->image == NULL)
    c->image = dup_n("", 0);
  if (c->status == NULL)
    c->status = dup_n("", 0);
  if (c->name == NULL || c->image == NULL || c->status == NULL) {
    container_free(c);
    js_fail(&p->base, "out of memory");
    return 0;
  }
  /* State, or failing that what Status says. */
  c->state =
      p->state != CSTATE_UNKNOWN ? p->state : state_from_status(c->status);
  /* Health: the API 1.52 object, or failing that the Status suffix. */
  if (p->health >= 0) {
    c->list_health_known = true;
    c->list_health = (container_health_t)p->health;
    c->list_failing_streak = p->have_failing ? p->failing : -1;
  } else {
    container_status_t st;
    container_status_parse(c->status, &st);
    c->list_health_known = st.health_known;
    c->list_health = st.health_known ? st.health : CHEALTH_NONE;
    c->list_failing_streak = -1;
  }
  p->cb(p->ud, c);
  return 1;
}

static int list_close(json_stream_t *js, bool is_map) {
  list_parser_t *p = (list_parser_t *)js;
  if (js->depth == 2 && is_map && p->cur != NULL)
    return list_item_done(p);
  return 1;
}

static void list_destroy(json_stream_t *js) {
  list_parser_t *p = (list_parser_t *)js;
  container_free(p->cur);
  free(p->label_key);
}

static const json_stream_ops_t list_ops = {
    .top = JS_TOP_ARRAY,
    .key = list_key,
    .scalar = list_scalar,
    .open = list_open,
    .close = list_close,
    .destroy = list_destroy,
};

json_stream_t *docker_list_parser_new(const char *label_key,
                                      docker_container_cb cb, void *ud) {
  if (cb == NULL)
    return NULL;
  list_parser_t *p = (list_parser_t *)js_alloc(sizeof(*p), &list_ops);
  if (p == NULL)
    return NULL;
  p->cb = cb;
  p->ud = ud;
  if (label_key != NULL) {
    p->label_key = strdup(label_key);
    if (p->label_key == NULL) {
      json_stream_free(&p->base);
      return NULL;
    }
  }
  return &p->base;
}

/* ---- inspect ----------------------------------------------------------- */

typedef struct {
  json_stream_t base;
  container_t *c;
  bool have_state; /* a State object was seen */
  /* The fields reported from inspect, seen with the right type. */
  bool have_restarts, have_exit_code, have_oom;
  /* What goes into c at a successful finish. */
  int64_t restart_count;
  int64_t exit_code;
  bool oom_killed;
  int64_t started_at;
  int64_t finished_at;
  int health; /* -1: no Health object with a valid Status */
  int64_t failing_streak;
  container_state_t state;
} inspect_parser_t;

static const js_key_def_t inspect_state_keys[] = {
    {"Status", K_STATUS},       {"OOMKilled", K_OOM},
    {"ExitCode", K_EXITCODE},   {"StartedAt", K_STARTED},
    {"FinishedAt", K_FINISHED}, {"Health", K_HEALTH},
};

static int inspect_key(json_stream_t *js, const char *k, size_t len) {
  switch (js->depth) {
  case 1:
    if (js_key_is(k, len, "RestartCount"))
      return K_RESTARTS;
    return js_key_is(k, len, "State") ? K_STATE : K_OTHER;
  case 2:
    return js_key_at(js, 1) == K_STATE ? JS_KEYS(inspect_state_keys, k, len)
                                       : K_OTHER;
  case 3:
    return js_key_at(js, 2) == K_HEALTH ? JS_KEYS(health_keys, k, len)
                                        : K_OTHER;
  }
  return K_OTHER;
}

static int inspect_open(json_stream_t *js, bool is_map) {
  inspect_parser_t *p = (inspect_parser_t *)js;
  if (!is_map) /* the top level is an object (checked by the base) */
    return JS_SKIP;
  switch (js->depth) {
  case 1:
    return JS_DESCEND;
  case 2:
    if (js_key_at(js, 1) != K_STATE)
      return JS_SKIP;
    p->have_state = true;
    return JS_DESCEND;
  case 3:
    if (js_key_at(js, 2) != K_HEALTH)
      return JS_SKIP;
    p->health = -1; /* the last Health object counts */
    p->failing_streak = 0;
    return JS_DESCEND;
  }
  return JS_SKIP;
}

static int inspect_scalar(json_stream_t *js, const js_value_t *v) {
  inspect_parser_t *p = (inspect_parser_t *)js;
  bool str = v->type == JS_STRING, num = v->type == JS_NUMBER;
  int64_t n = 0;
  switch (js->depth) {
  case 1:
    if (js_key_at(js, 1) == K_RESTARTS && num &&
        js_number_to_int64(v->str, v->len, &n) == 0 && n >= 0) {
      p->restart_count = n;
      p->have_restarts = true;
    }
    return 1;
  case 2:
    switch (js_key_at(js, 2)) {
    case K_STATUS:
      if (str)
        p->state = container_state_from_string(v->str, v->len);
      break;
    case K_OOM:
      if (v->type == JS_BOOL) {
        p->oom_killed = v->boolean;
        p->have_oom = true;
      }
      break;
    case K_EXITCODE:
      if (num && js_number_to_int64(v->str, v->len, &n) == 0) {
        p->exit_code = n;
        p->have_exit_code = true;
      }
      break;
    case K_STARTED:
      if (str)
        p->started_at = container_parse_time(v->str, v->len);
      break;
    case K_FINISHED:
      if (str)
        p->finished_at = container_parse_time(v->str, v->len);
      break;
    }
    return 1;
  case 3:
    if (js_key_at(js, 3) == K_STATUS && str)
      p->health = container_health_from_string(v->str, v->len);
    else if (js_key_at(js, 3) == K_FAILING && num &&
             js_number_to_int64(v->str, v->len, &n) == 0)
      p->failing_streak = n;
    return 1;
  }
  return 1;
}

static int inspect_finish(json_stream_t *js) {
  inspect_parser_t *p = (inspect_parser_t *)js;
  if (!p->have_state) {
    js_fail(js, "no State object in the inspect document");
    return -1;
  }
  /* A default is never reported as if the daemon had said it. */
  if (!p->have_restarts || !p->have_exit_code || !p->have_oom) {
    js_fail(js, !p->have_restarts ? "RestartCount missing or not a count"
                : !p->have_exit_code
                    ? "State.ExitCode missing or not an integer"
                    : "State.OOMKilled missing or not a boolean");
    return -1;
  }
  container_t *c = p->c;
  c->restart_count = p->restart_count;
  c->exit_code = p->exit_code;
  c->oom_killed = p->oom_killed;
  c->started_at = p->started_at;
  c->finished_at = p->finished_at;
  c->has_healthcheck = p->health >= 0;
  c->inspect_health =
      p->health >= 0 ? (container_health_t)p->health : CHEALTH_NONE;
  c->failing_streak = p->health >= 0 ? p->failing_streak : 0;
  c->inspect_state = p->state;
  c->inspected = true;
  return 0;
}

static const json_stream_ops_t inspect_ops = {
    .top = JS_TOP_OBJECT,
    .key = inspect_key,
    .scalar = inspect_scalar,
    .open = inspect_open,
    .finish = inspect_finish,
};

json_stream_t *docker_inspect_parser_new(container_t *c) {
  if (c == NULL)
    return NULL;
  inspect_parser_t *p = (inspect_parser_t *)js_alloc(sizeof(*p), &inspect_ops);
  if (p == NULL)
    return NULL;
  p->c = c;
  p->health = -1;
  p->state = CSTATE_UNKNOWN;
  return &p->base;
}

/* ---- events ------------------------------------------------------------ */

typedef struct {
  json_stream_t base;
  docker_event_cb cb;
  void *ud;
  /* The event being read. */
  bool have_type, is_container;
  char *status, *id, *action, *actor_id;
  bool have_time, have_time_nano;
  int64_t time, time_nano;
} events_parser_t;

static const js_key_def_t event_keys[] = {
    {"Type", K_TYPE},         {"status", K_STATUS_OLD}, {"id", K_ID_OLD},
    {"Action", K_ACTION},     {"Actor", K_ACTOR},       {"time", K_TIME},
    {"timeNano", K_TIMENANO},
};

static void event_reset(events_parser_t *p) {
  free(p->status);
  free(p->id);
  free(p->action);
  free(p->actor_id);
  p->status = p->id = p->action = p->actor_id = NULL;
  p->have_type = p->is_container = false;
  p->have_time = p->have_time_nano = false;
  p->time = p->time_nano = 0;
}

static int events_key(json_stream_t *js, const char *k, size_t len) {
  if (js->depth == 1)
    return JS_KEYS(event_keys, k, len);
  if (js->depth == 2 && js_key_at(js, 1) == K_ACTOR && js_key_is(k, len, "ID"))
    return K_ID;
  return K_OTHER;
}

static int events_open(json_stream_t *js, bool is_map) {
  events_parser_t *p = (events_parser_t *)js;
  if (!is_map)
    return JS_SKIP;
  if (js->depth == 1) {
    event_reset(p);
    return JS_DESCEND;
  }
  return js->depth == 2 && js_key_at(js, 1) == K_ACTOR ? JS_DESCEND : JS_SKIP;
}

static int events_scalar(json_stream_t *js, const js_value_t *v) {
  events_parser_t *p = (events_parser_t *)js;
  bool str = v->type == JS_STRING, num = v->type == JS_NUMBER;
  if (js->depth == 2) {
    if (str && js_key_at(js, 2) == K_ID)
      return js_set_string(js, &p->actor_id, v->str, v->len) == 0;
    return 1;
  }
  if (js->depth != 1)
    return 1;
  switch (js_key_at(js, 1)) {
  case K_TYPE:
    if (str) {
      p->have_type = true;
      p->is_container = js_key_is(v->str, v->len, "container");
    }
    return 1;
  case K_STATUS_OLD:
    return !str || js_set_string(js, &p->status, v->str, v->len) == 0;
  case K_ID_OLD:
    return !str || js_set_string(js, &p->id, v->str, v->len) == 0;
  case K_ACTION:
    return !str || js_set_string(js, &p->action, v->str, v->len) == 0;
  case K_TIME:
    if (num)
      p->have_time = js_number_to_int64(v->str, v->len, &p->time) == 0;
    return 1;
  case K_TIMENANO:
    if (num)
      p->have_time_nano =
          js_number_to_int64(v->str, v->len, &p->time_nano) == 0;
    return 1;
  }
  return 1;
}

static int events_close(json_stream_t *js, bool is_map) {
  events_parser_t *p = (events_parser_t *)js;
  if (js->depth != 1 || !is_map)
    return 1;
  /* Container events; old APIs had no Type but a "status". */
  bool container = p->have_type ? p->is_container : p->status != NULL;
  const char *id = p->actor_id != NULL ? p->actor_id : p->id;
  const char *action = p->action != NULL ? p->action : p->status;
  if (container && id != NULL && id[0] != '\0' && action != NULL) {
    docker_event_t ev = {.id = id, .action = action, .time_nano = 0};
    if (p->have_time_nano)
      ev.time_nano = p->time_nano;
    else if (p->have_time && p->time > -9000000000LL && p->time < 9000000000LL)
      ev.time_nano = p->time * 1000000000LL;
    p->cb(p->ud, &ev);
  }
  event_reset(p);
  return 1;
}

static void events_destroy(json_stream_t *js) {
  event_reset((events_parser_t *)js);
}

static const json_stream_ops_t events_ops = {
    .top = JS_TOP_VALUES,
    .key = events_key,
    .scalar = events_scalar,
    .open = events_open,
    .close = events_close,
    .destroy = events_destroy,
};

json_stream_t *docker_events_parser_new(docker_event_cb cb, void *ud) {
  if (cb == NULL)
    return NULL;
  events_parser_t *p = (events_parser_t *)js_alloc(sizeof(*p), &events_ops);
  if (p == NULL)
    return NULL;
  p->cb = cb;
  p->ud = ud;
  return &p->base;
}

/* ---- error bodies ------------------------------------------------------ */

static bool maybe_cut(const char *s) {
  /* js_strdup cuts at JSON_MAX_STRING bytes, backing off over at most 3
   * bytes of a UTF-8 sequence. */
  return s != NULL && strlen(s) + 3 >= JSON_MAX_STRING;
}

void api_error_parse(const char *body, size_t len, api_error_t *out) {
  memset(out, 0, sizeof(*out));
  if (body == NULL || len == 0)
    return;
  static const char *const names[] = {"message", "details", "err"};
  char *v[3];
  /* A body cut short (error bodies are capped) still gives the strings it
   * holds whole; yajl never hands out a string cut by the cap. */
  (void)js_read_top_strings(body, len, names, v, 3);
  bool use_message = v[0] != NULL && v[0][0] != '\0';
  out->message = use_message ? v[0] : v[2];
  secret_free(use_message ? v[2] : v[0]);
  if (v[1] != NULL && v[1][0] != '\0' &&
      (out->message == NULL || strcmp(out->message, v[1]) != 0))
    out->details = v[1];
  else
    secret_free(v[1]);
  out->message_cut = maybe_cut(out->message);
  out->details_cut = maybe_cut(out->details);
}

void api_error_free(api_error_t *e) {
  secret_free(e->message);
  secret_free(e->details);
  memset(e, 0, sizeof(*e));
}
