/**
 * portainer_api.c: Portainer's own API: the environment list, /api/auth.
 */
#include "portainer_api.h"
#include "json_stream_impl.h"
#include "secret.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many TagIds are kept per environment. */
#define PT_MAX_TAG_IDS 256

void pt_endpoint_free(pt_endpoint_t *e) {
  if (e == NULL)
    return;
  free(e->name);
  free(e->tag_ids);
  free(e);
}

bool pt_endpoint_is_docker(const pt_endpoint_t *e) {
  return e != NULL &&
         (e->type == PT_ENV_DOCKER || e->type == PT_ENV_AGENT_DOCKER ||
          e->type == PT_ENV_EDGE_DOCKER);
}

int pt_path_endpoints(char *buf, size_t size, int64_t start, int64_t limit) {
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';
  if (start < 0 || limit < 0)
    return -1;
  int n = snprintf(buf, size,
                   "/api/endpoints?start=%" PRId64 "&limit=%" PRId64
                   "&excludeSnapshots=true",
                   start, limit);
  if (n < 0 || (size_t)n >= size) {
    buf[0] = '\0';
    return -1;
  }
  return 0;
}

int pt_path_endpoint(char *buf, size_t size, int64_t id) {
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';
  int n = snprintf(buf, size, "/api/endpoints/%" PRId64, id);
  if (id < 0 || n < 0 || (size_t)n >= size) {
    buf[0] = '\0';
    return -1;
  }
  return 0;
}

/* ---- Edge agents ------------------------------------------------------- */

int64_t pt_edge_now(const pt_endpoint_t *e, int64_t date) {
  return e->query_date > 0 ? e->query_date : (date > 0 ? date : 0);
}

int64_t pt_edge_checkin_interval(const pt_endpoint_t *e) {
  if (!e->async)
    return e->checkin_interval > 0 ? e->checkin_interval
                                   : PT_EDGE_CHECKIN_DEFAULT;
  /* The global settings' values are not in the list: their default (60)
   * stands in, which is also the cap of Portainer's rule. */
  int64_t v = PT_EDGE_ASYNC_INTERVAL;
  const int64_t iv[] = {e->ping_interval, e->command_interval,
                        e->snapshot_interval};
  for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++)
    if (iv[i] > 0 && iv[i] < v)
      v = iv[i];
  return v;
}

pt_edge_state_t pt_edge_state(const pt_endpoint_t *e, int64_t date) {
  if (e == NULL || e->type != PT_ENV_EDGE_DOCKER)
    return PT_EDGE_NONE;
  if (!e->has_edge_id)
    return PT_EDGE_NO_AGENT;
  if (e->heartbeat == 0)
    return PT_EDGE_OFFLINE;
  int64_t now = pt_edge_now(e, date);
  if (e->last_check_in >= 0 && now > 0) {
    if (e->last_check_in == 0)
      return PT_EDGE_OFFLINE; /* never checked in */
    int64_t limit = 2 * pt_edge_checkin_interval(e) + PT_EDGE_ONLINE_SLACK;
    if (now - e->last_check_in > limit)
      return PT_EDGE_OFFLINE;
  }
  return PT_EDGE_ONLINE;
}

int64_t pt_edge_snapshot_max_age(const pt_endpoint_t *e) {
  int64_t iv =
      e->snapshot_interval > 0 ? e->snapshot_interval : PT_EDGE_ASYNC_INTERVAL;
  return 2 * iv + PT_EDGE_ONLINE_SLACK;
}

/* ---- GET /api/endpoints ------------------------------------------------ */

enum {
  K_OTHER = 0,
  K_ID,
  K_NAME,
  K_TYPE,
  K_STATUS,
  K_GROUP,
  K_TAGS,
  K_EDGE_ID,
  K_HEARTBEAT,
  K_LAST_CHECK_IN,
  K_QUERY_DATE,
  K_CHECKIN,
  K_EDGE, /* the Edge object, and inside it: */
  K_ASYNC,
  K_PING_IV,
  K_SNAPSHOT_IV,
  K_COMMAND_IV,
};

static const js_key_def_t item_keys[] = {
    {"Id", K_ID},
    {"Name", K_NAME},
    {"Type", K_TYPE},
    {"Status", K_STATUS},
    {"GroupId", K_GROUP},
    {"TagIds", K_TAGS},
    {"EdgeID", K_EDGE_ID},
    {"Heartbeat", K_HEARTBEAT},
    {"LastCheckInDate", K_LAST_CHECK_IN},
    {"QueryDate", K_QUERY_DATE},
    {"EdgeCheckinInterval", K_CHECKIN},
    {"Edge", K_EDGE},
};
static const js_key_def_t edge_keys[] = {
    {"AsyncMode", K_ASYNC},
    {"PingInterval", K_PING_IV},
    {"SnapshotInterval", K_SNAPSHOT_IV},
    {"CommandInterval", K_COMMAND_IV},
};

typedef struct {
  json_stream_t base;
  pt_endpoint_cb cb;
  void *ud;
  pt_endpoint_t *cur; /* the item being read, NULL between items */
  bool have_id;
  size_t tags_cap;
  size_t entries, malformed;
} endpoints_parser_t;

static int ep_key(json_stream_t *js, const char *k, size_t len) {
  if (js->depth == 2)
    return JS_KEYS(item_keys, k, len); /* Snapshots, Kubernetes...: skipped */
  if (js->depth == 3 && js_key_at(js, 2) == K_EDGE)
    return JS_KEYS(edge_keys, k, len);
  return K_OTHER;
}

/* Fields an item starts with, before (or without) the document's. */
static void ep_defaults(pt_endpoint_t *e) {
  e->heartbeat = -1;
  e->last_check_in = -1;
}

static int ep_open(json_stream_t *js, bool is_map) {
  endpoints_parser_t *p = (endpoints_parser_t *)js;
  switch (js->depth) {
  case 1:
    return JS_DESCEND;
  case 2:
    p->entries++;
    if (!is_map) {
      p->malformed++;
      return JS_SKIP;
    }
    pt_endpoint_free(p->cur);
    p->cur = calloc(1, sizeof(*p->cur));
    if (p->cur == NULL) {
      js_fail(js, "out of memory");
      return JS_ABORT;
    }
    ep_defaults(p->cur);
    p->have_id = false;
    p->tags_cap = 0;
    return JS_DESCEND;
  case 3:
    if (!is_map && js_key_at(js, 2) == K_TAGS) {
      p->cur->tag_ids_num = 0; /* the last TagIds counts */
      return JS_DESCEND;
    }
    if (is_map && js_key_at(js, 2) == K_EDGE) {
      pt_endpoint_t *e = p->cur; /* the last Edge object counts */
      e->async = false;
      e->ping_interval = e->snapshot_interval = e->command_interval = 0;
      return JS_DESCEND;
    }
    return JS_SKIP;
  }
  return JS_SKIP;
}

static bool to_int(const js_value_t *v, int *out) {
  int64_t n = 0;
  if (v->type != JS_NUMBER || js_number_to_int64(v->str, v->len, &n) != 0 ||
      n < INT_MIN || n > INT_MAX)
    return false;
  *out = (int)n;
  return true;
}

static int add_tag(endpoints_parser_t *p, int64_t tag) {
  pt_endpoint_t *e = p->cur;
  if (e->tag_ids_num >= PT_MAX_TAG_IDS)
    return 1; /* capped: the rest are ignored */
  if (e->tag_ids_num == p->tags_cap) {
    size_t cap = p->tags_cap == 0 ? 8 : p->tags_cap * 2;
    if (cap > PT_MAX_TAG_IDS)
      cap = PT_MAX_TAG_IDS;
    int64_t *t = realloc(e->tag_ids, cap * sizeof(*t));
    if (t == NULL) {
      js_fail(&p->base, "out of memory");
      return 0;
    }
    e->tag_ids = t;
    p->tags_cap = cap;
  }
  e->tag_ids[e->tag_ids_num++] = tag;
  return 1;
}

/* A member of the Edge object. */
static void edge_scalar(pt_endpoint_t *e, int key, const js_value_t *v,
                        bool num, int64_t n) {
  if (key == K_ASYNC && v->type == JS_BOOL)
    e->async = v->boolean;
  else if (key == K_PING_IV && num)
    e->ping_interval = n;
  else if (key == K_SNAPSHOT_IV && num)
    e->snapshot_interval = n;
  else if (key == K_COMMAND_IV && num)
    e->command_interval = n;
}

static int ep_scalar(json_stream_t *js, const js_value_t *v) {
  endpoints_parser_t *p = (endpoints_parser_t *)js;
  pt_endpoint_t *e = p->cur;
  if (e == NULL) { /* a scalar item of the top-level array */
    if (js->depth == 1) {
      p->entries++;
      p->malformed++;
    }
    return 1;
  }
  int64_t n = 0;
  bool num =
      v->type == JS_NUMBER && js_number_to_int64(v->str, v->len, &n) == 0;
  if (js->depth == 3) { /* inside TagIds or Edge */
    if (js_key_at(js, 2) == K_EDGE) {
      edge_scalar(e, js_key_at(js, 3), v, num, n);
      return 1;
    }
    return num ? add_tag(p, n) : 1;
  }
  if (js->depth != 2)
    return 1;
  switch (js_key_at(js, 2)) {
  case K_EDGE_ID:
    e->has_edge_id = v->type == JS_STRING && v->len > 0;
    return 1;
  case K_HEARTBEAT:
    if (v->type == JS_BOOL)
      e->heartbeat = v->boolean ? 1 : 0;
    return 1;
  case K_LAST_CHECK_IN:
    if (num)
      e->last_check_in = n < 0 ? 0 : n;
    return 1;
  case K_QUERY_DATE:
    if (num)
      e->query_date = n < 0 ? 0 : n;
    return 1;
  case K_CHECKIN:
    if (num)
      e->checkin_interval = n;
    return 1;
  case K_ID:
    if (num) {
      e->id = n;
      p->have_id = true;
    }
    return 1;
  case K_NAME:
    if (v->type == JS_STRING)
      return js_set_string(js, &e->name, v->str, v->len) == 0;
    return 1;
  case K_TYPE:
    (void)to_int(v, &e->type);
    return 1;
  case K_STATUS:
    (void)to_int(v, &e->status);
    return 1;
  case K_GROUP:
    if (num)
      e->group_id = n;
    return 1;
  }
  return 1;
}

static int ep_close(json_stream_t *js, bool is_map) {
  endpoints_parser_t *p = (endpoints_parser_t *)js;
  if (js->depth != 2 || !is_map || p->cur == NULL)
    return 1;
  pt_endpoint_t *e = p->cur;
  p->cur = NULL;
  if (!p->have_id || e->name == NULL) {
    pt_endpoint_free(e); /* not a usable environment */
    p->malformed++;
    return 1;
  }
  if (e->tag_ids_num == 0) {
    free(e->tag_ids);
    e->tag_ids = NULL;
  }
  p->cb(p->ud, e);
  return 1;
}

static void ep_destroy(json_stream_t *js) {
  endpoints_parser_t *p = (endpoints_parser_t *)js;
  pt_endpoint_free(p->cur);
  p->cur = NULL;
}

static const json_stream_ops_t endpoints_ops = {
    .top = JS_TOP_ARRAY,
    .key = ep_key,
    .scalar = ep_scalar,
    .open = ep_open,
    .close = ep_close,
    .destroy = ep_destroy,
};

json_stream_t *pt_endpoints_parser_new(pt_endpoint_cb cb, void *ud) {
  if (cb == NULL)
    return NULL;
  endpoints_parser_t *p =
      (endpoints_parser_t *)js_alloc(sizeof(*p), &endpoints_ops);
  if (p == NULL)
    return NULL;
  p->cb = cb;
  p->ud = ud;
  return &p->base;
}

void pt_endpoints_counts(const json_stream_t *js, size_t *entries,
                         size_t *malformed) {
  const endpoints_parser_t *p = (const endpoints_parser_t *)js;
  *entries = p->entries;
  *malformed = p->malformed;
}

/* ---- GET /api/endpoints/{id}: the snapshot ----------------------------- */

/* Member ids by depth: 1 the environment, 3 Snapshots[0], 4 its raw data. */
enum { S_OTHER = 0, S_SNAPSHOTS, S_TIME, S_RAW, S_CONTAINERS };

typedef struct {
  json_stream_t base;
  pt_snapshot_t *out;
  json_stream_t *containers; /* the Docker list parser they go to */
  int64_t items;             /* items of Snapshots seen */
  bool delegated;            /* Containers went to it once already */
} snapshot_parser_t;

static int snap_key(json_stream_t *js, const char *k, size_t len) {
  switch (js->depth) {
  case 1:
    return js_key_is(k, len, "Snapshots") ? S_SNAPSHOTS : S_OTHER;
  case 3:
    if (js_key_is(k, len, "Time"))
      return S_TIME;
    return js_key_is(k, len, "DockerSnapshotRaw") ? S_RAW : S_OTHER;
  case 4:
    return js_key_is(k, len, "Containers") ? S_CONTAINERS : S_OTHER;
  }
  return S_OTHER;
}

static int snap_open(json_stream_t *js, bool is_map) {
  snapshot_parser_t *p = (snapshot_parser_t *)js;
  switch (js->depth) {
  case 1:
    return JS_DESCEND;
  case 2: /* Snapshots */
    return is_map ? JS_SKIP : JS_DESCEND;
  case 3: /* only Snapshots[0] counts */
    if (p->items++ != 0 || !is_map)
      return JS_SKIP;
    p->out->present = true;
    return JS_DESCEND;
  case 4: /* DockerSnapshotRaw */
    return is_map && js_key_at(js, 3) == S_RAW ? JS_DESCEND : JS_SKIP;
  case 5: /* Containers */
    if (is_map || p->delegated || js_key_at(js, 4) != S_CONTAINERS)
      return JS_SKIP;
    p->delegated = true;
    p->out->containers = true;
    return js_delegate(js, p->containers, is_map) == 0 ? JS_DESCEND : JS_ABORT;
  }
  return JS_SKIP;
}

static int snap_scalar(json_stream_t *js, const js_value_t *v) {
  snapshot_parser_t *p = (snapshot_parser_t *)js;
  int64_t n = 0;
  if (js->depth == 2) { /* a scalar item of Snapshots: not an object */
    p->items++;
    return 1;
  }
  if (js->depth == 3 && p->items == 1 && js_key_at(js, 3) == S_TIME &&
      v->type == JS_NUMBER && js_number_to_int64(v->str, v->len, &n) == 0)
    p->out->time = n > 0 ? n : 0;
  return 1;
}

static void snap_destroy(json_stream_t *js) {
  snapshot_parser_t *p = (snapshot_parser_t *)js;
  json_stream_free(p->containers);
}

static const json_stream_ops_t snapshot_ops = {
    .top = JS_TOP_OBJECT,
    .key = snap_key,
    .scalar = snap_scalar,
    .open = snap_open,
    .destroy = snap_destroy,
};

json_stream_t *pt_snapshot_parser_new(const char *label_key,
                                      docker_container_cb cb, void *ud,
                                      pt_snapshot_t *out) {
  if (cb == NULL || out == NULL)
    return NULL;
  snapshot_parser_t *p =
      (snapshot_parser_t *)js_alloc(sizeof(*p), &snapshot_ops);
  if (p == NULL)
    return NULL;
  memset(out, 0, sizeof(*out));
  p->out = out;
  p->containers = docker_list_parser_new(label_key, cb, ud);
  if (p->containers == NULL) {
    json_stream_free(&p->base);
    return NULL;
  }
  return &p->base;
}

/* ---- POST /api/auth ---------------------------------------------------- */

/* Bytes s needs as the inside of a JSON string (without quotes). */
static size_t json_escaped_len(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\' || *p == '\n' || *p == '\r' || *p == '\t' ||
        *p == '\b' || *p == '\f')
      n += 2;
    else if (*p < 0x20 || *p == 0x7f)
      n += 6; /* \u00XX */
    else
      n += 1;
  }
  return n;
}

static char *json_escape_into(char *out, const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    char esc = 0;
    switch (*p) {
    case '"':
      esc = '"';
      break;
    case '\\':
      esc = '\\';
      break;
    case '\n':
      esc = 'n';
      break;
    case '\r':
      esc = 'r';
      break;
    case '\t':
      esc = 't';
      break;
    case '\b':
      esc = 'b';
      break;
    case '\f':
      esc = 'f';
      break;
    }
    if (esc != 0) {
      *out++ = '\\';
      *out++ = esc;
    } else if (*p < 0x20 || *p == 0x7f) {
      memcpy(out, "\\u00", 4);
      out[4] = hex[*p >> 4];
      out[5] = hex[*p & 0xf];
      out += 6;
    } else {
      *out++ = (char)*p; /* UTF-8 goes through as it is */
    }
  }
  return out;
}

char *pt_auth_body(const char *username, const char *password) {
  if (username == NULL)
    username = "";
  if (password == NULL)
    password = "";
  static const char a[] = "{\"Username\":\"", b[] = "\",\"Password\":\"",
                    c[] = "\"}";
  size_t n = sizeof(a) - 1 + json_escaped_len(username) + sizeof(b) - 1 +
             json_escaped_len(password) + sizeof(c) - 1;
  char *body = malloc(n + 1);
  if (body == NULL)
    return NULL;
  char *p = body;
  memcpy(p, a, sizeof(a) - 1);
  p = json_escape_into(p + sizeof(a) - 1, username);
  memcpy(p, b, sizeof(b) - 1);
  p = json_escape_into(p + sizeof(b) - 1, password);
  memcpy(p, c, sizeof(c));
  return body;
}

/* A JWT is base64url segments joined by dots.  Anything else is refused:
 * the token goes into an Authorization header verbatim. */
static bool jwt_chars_ok(const char *s) {
  if (s[0] == '\0')
    return false;
  for (; *s != '\0'; s++) {
    char ch = *s;
    bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.' ||
              ch == '=' || ch == '+' || ch == '/';
    if (!ok)
      return false;
  }
  return true;
}

char *pt_auth_parse_jwt(const char *body, size_t len) {
  static const char *const names[] = {"jwt"};
  char *jwt = NULL;
  if (js_read_top_strings(body, len, names, &jwt, 1) != 0 || jwt == NULL ||
      strlen(jwt) >= JSON_MAX_STRING || !jwt_chars_ok(jwt)) {
    secret_free(jwt);
    return NULL;
  }
  return jwt;
}
