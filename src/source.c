/**
 * source.c: one poll of one source; see source.h.
 *
 * Every request of a poll is queued on the source's http client and runs in
 * one loop.  Completion callbacks chain the next requests:
 *
 *   Portainer:  [auth] -> page 1 -> pages 2..n (together)
 *                           \-> per environment: list -> inspects
 *   Docker:     list -> inspects
 *
 * Each request has a small context (req_t) owned by the request and freed by
 * its completion callback.
 */
#include "source.h"

#include "docker_api.h"
#include "identity.h"
#include "portainer_api.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URL_MAX   2048
#define MAX_PAGES 10000 /* bounded page loop: 10000 pages of environments */

struct source_s {
  source_conf_t conf;
  char *host; /* Docker source: host field */
  source_log_fn log;
  void *log_ud;

  http_client_t *http;
  inventory_t *inv;
  source_stats_t stats;

  char *jwt; /* Portainer, username + password */
  char auth_header[8192];

  uint64_t polls;
  char fault[256]; /* source-level fault signature, "" when fine */

  int64_t *skipped; /* environment ids already logged as skipped */
  size_t skipped_num;

  /* Per poll. */
  int64_t now;
  bool pages_ok;     /* every page of environments answered */
  bool api_answered; /* something of the API answered with data */
  bool auth_retried;
  int64_t pages_queued;

  /* Inspects wait here and are handed to the http client a few at a time,
   * so that a cold poll of 50k containers does not hold 50k parsers and
   * requests at once. */
  struct pending_inspect {
    inv_env_t *env;
    container_t *c;
  } * inspects;
  size_t inspects_num, inspects_cap, inspects_next;
  size_t inspects_running;
};

typedef enum {
  REQ_AUTH,
  REQ_PAGE,
  REQ_LIST,
  REQ_EVENTS,
  REQ_INSPECT
} req_kind_t;

typedef struct {
  source_t *s;
  req_kind_t kind;
  inv_env_t *env; /* REQ_LIST, REQ_INSPECT */
  container_t *c; /* REQ_INSPECT */
  json_stream_t *js;
  int64_t start;       /* REQ_PAGE: 1-based offset */
  size_t items;        /* REQ_PAGE: environments parsed; REQ_EVENTS: events */
  pt_endpoint_t **eps; /* REQ_PAGE: kept environments, listed when done */
  size_t eps_num, eps_cap;
  char *buf; /* REQ_AUTH: response body */
  size_t buf_len;
} req_t;

static const char *err_kind_names[ERR_KINDS_NUM] = {
    "connect", "resolve",   "timeout",  "tls",      "too_large", "parse",
    "auth",    "not_found", "http_4xx", "http_5xx", "other"};

const char *source_err_kind_name(source_err_kind_t k) {
  return (k >= 0 && k < ERR_KINDS_NUM) ? err_kind_names[k] : "other";
}

/* --- configuration ------------------------------------------------------ */

void source_conf_init(source_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->verify_peer = true;
  c->verify_host = true;
  c->timeout_ms = SOURCE_DEFAULT_TIMEOUT_MS;
  c->max_response_size = SOURCE_DEFAULT_MAX_RESPONSE;
  c->max_in_flight = SOURCE_DEFAULT_MAX_IN_FLIGHT;
  c->page_size = SOURCE_DEFAULT_PAGE_SIZE;
  c->full_inspect_every = SOURCE_DEFAULT_FULL_INSPECT_EVERY;
  c->shard_index = 1;
  c->shard_count = 1;
  c->ti_mode = TYPE_INSTANCE_IMAGE;
  c->collect = COLLECT_ALL;
}

static void regex_free(source_regex_t *r) {
  if (r->set)
    regfree(&r->re);
  r->set = false;
}

/* Overwrites a secret before freeing it. */
static void secret_free(char *p) {
  if (p == NULL)
    return;
  volatile char *v = p;
  while (*v != 0)
    *v++ = 0;
  free(p);
}

void source_conf_free(source_conf_t *c) {
  free(c->name);
  free(c->url);
  free(c->socket);
  free(c->host);
  secret_free(c->token);
  free(c->username);
  secret_free(c->password);
  free(c->ca_cert);
  free(c->client_cert);
  free(c->client_key);
  free(c->ti_label);
  free(c->group_ids);
  free(c->tag_ids);
  regex_free(&c->env_include);
  regex_free(&c->env_exclude);
  regex_free(&c->ct_include);
  regex_free(&c->ct_exclude);
  memset(c, 0, sizeof(*c));
}

/* --- logging and errors --------------------------------------------------- */

/* Replaces every occurrence of secret in msg: a server may well echo what
 * it was sent (a token, a login body) in its error message. */
static void redact(char *msg, size_t size, const char *secret) {
  static const char mark[] = "<secret>";
  const size_t mlen = sizeof(mark) - 1;
  size_t slen = secret != NULL ? strlen(secret) : 0;
  if (slen < 4)
    return; /* too short to search for without mangling the message */
  char *from = msg;
  char *p;
  while ((p = strstr(from, secret)) != NULL) {
    size_t head = (size_t)(p - msg);
    size_t tail = strlen(p + slen);
    if (head + mlen + tail + 1 > size) /* the mark is longer: cut the end */
      tail = size - 1 - head - mlen;
    memmove(p + mlen, p + slen, tail);
    memcpy(p, mark, mlen);
    p[mlen + tail] = 0;
    from = p + mlen; /* never search the mark itself */
  }
}

__attribute__((format(printf, 3, 4))) static void slog(source_t *s, int level,
                                                       const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  if (s->log == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  redact(msg, sizeof(msg), s->conf.token);
  redact(msg, sizeof(msg), s->conf.password);
  redact(msg, sizeof(msg), s->jwt);
  /* Names and server messages are data: no control character reaches the
   * log (a newline would forge a line). */
  for (char *c = msg; *c != 0; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = ' ';
  s->log(s->log_ud, level, msg);
}

static source_err_kind_t classify(const http_result_t *res) {
  switch (res->error) {
  case HTTP_OK:
    break;
  case HTTP_ERR_CONNECT:
    return ERR_CONNECT;
  case HTTP_ERR_RESOLVE:
    return ERR_RESOLVE;
  case HTTP_ERR_TIMEOUT:
    return ERR_TIMEOUT;
  case HTTP_ERR_TLS:
    return ERR_TLS;
  case HTTP_ERR_TOO_LARGE:
    return ERR_TOO_LARGE;
  case HTTP_ERR_ABORTED:
    return ERR_PARSE;
  default:
    return ERR_OTHER;
  }
  if (res->status == 401 || res->status == 403 || res->status == 422)
    return ERR_AUTH;
  if (res->status == 404)
    return ERR_NOT_FOUND;
  if (res->status >= 400 && res->status < 500)
    return ERR_HTTP_4XX;
  if (res->status >= 500)
    return ERR_HTTP_5XX;
  return ERR_OTHER; /* 1xx/3xx: unexpected here */
}

/* A one-line description of a failed request, without secrets: transport
 * errors carry libcurl's text, HTTP errors the API's message. */
static void describe(const http_result_t *res, json_stream_t *js, char *buf,
                     size_t size) {
  if (res->error == HTTP_ERR_ABORTED && js != NULL) {
    snprintf(buf, size, "invalid JSON: %s", json_stream_error(js));
  } else if (res->error != HTTP_OK) {
    snprintf(buf, size, "%s: %s", http_error_name(res->error),
             res->message[0] ? res->message : "no detail");
  } else if (res->status >= 300) {
    char msg[512];
    api_error_message(res->body, res->body_len, msg, sizeof(msg));
    if (msg[0] != 0)
      snprintf(buf, size, "HTTP %ld: %s", res->status, msg);
    else if (res->body_len == 0)
      snprintf(buf, size, "HTTP %ld (empty body)", res->status);
    else
      snprintf(buf, size, "HTTP %ld (not an API error document)", res->status);
  } else if (js != NULL && json_stream_error(js)[0] != 0) {
    snprintf(buf, size, "invalid JSON: %s", json_stream_error(js));
  } else {
    snprintf(buf, size, "unexpected answer (HTTP %ld)", res->status);
  }
}

/* Logs a fault when its signature differs from the last one logged in
 * slot; a fault that persists is logged once. */
static void fault(source_t *s, char *slot, size_t slot_size,
                  const char *signature, const char *what, const char *msg) {
  if (strcmp(slot, signature) == 0)
    return;
  snprintf(slot, slot_size, "%s", signature);
  slog(s, SOURCE_LOG_ERR, "%s: %s", what, msg);
}

static void recovered(source_t *s, char *slot, const char *what,
                      const char *which) {
  if (slot[0] == 0)
    return;
  slot[0] = 0;
  slog(s, SOURCE_LOG_INFO, "%s: %s answering again", what, which);
}

static void env_what(const source_t *s, const inv_env_t *e, char *buf,
                     size_t size) {
  char name[IDENTITY_SIZE];
  identity_field(name, e->name, NULL); /* as in the host field */
  if (s->conf.kind == SOURCE_PORTAINER)
    snprintf(buf, size, "source \"%s\": environment \"%s\" (id %" PRId64 ")",
             s->conf.name, name, e->id);
  else
    snprintf(buf, size, "source \"%s\": Docker host \"%s\"", s->conf.name,
             name);
}

/* recovered() for one of an environment's fault slots. */
static void env_recovered(source_t *s, const inv_env_t *e, char *slot,
                          const char *which) {
  char what[512];
  if (slot[0] == 0)
    return; /* the common case: nothing to say, nothing to format */
  env_what(s, e, what, sizeof(what));
  recovered(s, slot, what, which);
}

/* The header that sends a request to one node of a Swarm agent
 * environment into buf; NULL when there is no usable node name. */
static const char *target_header(const char *node, char *buf, size_t size) {
  if (node == NULL || node[0] == 0 || strcspn(node, "\r\n") != strlen(node))
    return NULL;
  snprintf(buf, size, "X-PortainerAgent-Target: %.300s", node);
  return buf;
}

/* A 200 whose document parsed to the end. */
static bool answered(req_t *r, const http_result_t *res) {
  return res->error == HTTP_OK && res->status == 200 &&
         json_stream_finish(r->js) == 0;
}

/* Counts an error and logs it once per fault. */
static void request_failed(source_t *s, req_t *r, const http_result_t *res) {
  source_err_kind_t kind = classify(res);
  char msg[768], what[512], sig[64];
  if (res->error == HTTP_OK && res->status < 300)
    kind = ERR_PARSE; /* a 2xx whose document did not parse */
  s->stats.errors[kind]++;
  describe(res, r->js, msg, sizeof(msg));
  if (kind == ERR_CONNECT && s->conf.socket != NULL) {
    /* libcurl names "localhost port 80": say which socket it was. */
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof(msg) - len, " (socket %.300s)", s->conf.socket);
  }
  snprintf(sig, sizeof(sig), "%d:%s:%ld", (int)r->kind,
           source_err_kind_name(kind), res->status);

  if (r->env != NULL) {
    inv_env_t *e = r->env;
    env_what(s, e, what, sizeof(what));
    if (r->kind == REQ_INSPECT) {
      char m2[1024], name[IDENTITY_SIZE];
      identity_field(name, r->c->name, NULL);
      snprintf(m2, sizeof(m2), "inspect of container \"%s\" failed: %.700s",
               name, msg);
      e->inspect_failed = true;
      fault(s, e->inspect_fault, sizeof(e->inspect_fault), sig, what, m2);
    } else if (r->kind == REQ_EVENTS) {
      char m2[1024];
      snprintf(m2, sizeof(m2),
               "events request failed (every container is inspected "
               "instead): %.700s",
               msg);
      fault(s, e->events_fault, sizeof(e->events_fault), sig, what, m2);
    } else {
      fault(s, e->fault, sizeof(e->fault), sig, what, msg);
    }
  } else {
    snprintf(what, sizeof(what), "source \"%s\"", s->conf.name);
    fault(s, s->fault, sizeof(s->fault), sig, what, msg);
  }
}

/* --- requests ----------------------------------------------------------- */

static void req_free(req_t *r) {
  if (r == NULL)
    return;
  if (r->js != NULL)
    json_stream_free(r->js);
  for (size_t i = 0; i < r->eps_num; i++)
    pt_endpoint_free(r->eps[i]);
  free(r->eps);
  secret_free(r->buf);
  free(r);
}

static int on_json_body(void *ud, const char *buf, size_t len) {
  req_t *r = ud;
  return json_stream_feed(r->js, buf, len) == 0 ? 0 : 1;
}

static void set_auth_header(source_t *s) {
  s->auth_header[0] = 0;
  if (s->conf.kind != SOURCE_PORTAINER)
    return;
  if (s->jwt != NULL)
    snprintf(s->auth_header, sizeof(s->auth_header), "Authorization: Bearer %s",
             s->jwt);
  else if (s->conf.token != NULL)
    snprintf(s->auth_header, sizeof(s->auth_header), "X-API-Key: %s",
             s->conf.token);
}

static int on_auth_body(void *ud, const char *buf, size_t len);

static int queue(source_t *s, req_t *r, const char *method, const char *url,
                 const char *extra_header, const char *body,
                 http_done_cb done) {
  const char *headers[3] = {NULL, NULL, NULL};
  size_t n = 0;
  if (s->auth_header[0] != 0 && r->kind != REQ_AUTH)
    headers[n++] = s->auth_header;
  if (extra_header != NULL)
    headers[n++] = extra_header;
  http_body_cb on_body = r->js != NULL         ? on_json_body
                         : r->kind == REQ_AUTH ? on_auth_body
                                               : NULL;
  if (http_request(s->http, method, url, headers, body, on_body, done, r) !=
      0) {
    req_free(r);
    return -1;
  }
  return 0;
}

/* Builds the URL of a Docker API path for an environment. */
static void docker_url(const source_t *s, const inv_env_t *e, const char *path,
                       char *buf, size_t size) {
  if (s->conf.kind == SOURCE_PORTAINER)
    snprintf(buf, size, "%s/api/endpoints/%" PRId64 "/docker%s", s->conf.url,
             e->id, path);
  else if (s->conf.url != NULL)
    snprintf(buf, size, "%s%s", s->conf.url, path);
  else
    snprintf(buf, size, "http://localhost%s", path);
}

static void queue_list(source_t *s, inv_env_t *e);
static void queue_page(source_t *s, int64_t start);
static void queue_auth(source_t *s);

/* --- inspect ------------------------------------------------------------ */

static void pump_inspects(source_t *s);

static void on_inspect_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  s->inspects_running--;
  if (answered(r, res)) {
    r->c->inspected = true;
  } else if (res->error == HTTP_OK && res->status == 404) {
    r->c->vanished = true; /* removed since the list: normal */
    r->c->inspected = false;
  } else {
    /* Report only what the list says; never a stale inspect as fresh. */
    r->c->inspected = false;
    request_failed(s, r, res);
  }
  req_free(r);
  pump_inspects(s);
}

static void start_inspect(source_t *s, inv_env_t *e, container_t *c) {
  char path[512], url[URL_MAX], target[384];
  if (docker_path_inspect(path, sizeof(path), c->id) != 0) {
    c->inspected = false;
    return;
  }
  req_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  *r = (req_t){.s = s, .kind = REQ_INSPECT, .env = e, .c = c};
  c->inspected = false; /* set again when this inspect completes */
  r->js = docker_inspect_parser_new(c);
  if (r->js == NULL) {
    req_free(r);
    return;
  }
  docker_url(s, e, path, url, sizeof(url));
  /* Agent environments in a Swarm: ask the node that runs the container. */
  const char *extra = target_header(c->node, target, sizeof(target));
  s->stats.inspects++;
  s->inspects_running++;
  if (queue(s, r, "GET", url, extra, NULL, on_inspect_done) != 0)
    s->inspects_running--;
}

/* Keeps about twice max_in_flight inspects queued in the http client. */
static void pump_inspects(source_t *s) {
  size_t window =
      2 * (size_t)(s->conf.max_in_flight > 0 ? s->conf.max_in_flight
                                             : SOURCE_DEFAULT_MAX_IN_FLIGHT);
  while (s->inspects_running < window && s->inspects_next < s->inspects_num) {
    struct pending_inspect *p = &s->inspects[s->inspects_next++];
    start_inspect(s, p->env, p->c);
  }
}

static void queue_inspect(source_t *s, inv_env_t *e, container_t *c) {
  if (s->inspects_num == s->inspects_cap) {
    size_t cap = s->inspects_cap ? s->inspects_cap * 2 : 256;
    struct pending_inspect *n = realloc(s->inspects, cap * sizeof(*n));
    if (n == NULL) {
      c->inspected = false; /* list facts only this poll */
      return;
    }
    s->inspects = n;
    s->inspects_cap = cap;
  }
  c->inspected = false; /* set again when its inspect completes */
  s->inspects[s->inspects_num++] = (struct pending_inspect){.env = e, .c = c};
}

/* --- container list ------------------------------------------------------- */

static bool regex_match(const source_regex_t *r, const char *s) {
  return regexec(&r->re, s, 0, NULL, 0) == 0;
}

static bool keep_name(const source_regex_t *inc, const source_regex_t *exc,
                      const char *name) {
  if (inc->set && !regex_match(inc, name))
    return false;
  if (exc->set && regex_match(exc, name))
    return false;
  return true;
}

static void on_container(void *ud, container_t *c) {
  req_t *r = ud;
  const source_conf_t *conf = &r->s->conf;
  if (!keep_name(&conf->ct_include, &conf->ct_exclude, c->name)) {
    container_free(c);
    return;
  }
  inv_env_list_add(r->env, c);
}

/* Does an inspect tell anything the chosen signals need that the list
 * does not?  (With Collect "state" "health", Docker needs none.) */
static bool inspect_useful(unsigned collect, const container_t *c) {
  if (collect & (COLLECT_RESTART_COUNT | COLLECT_OOM_KILLED | COLLECT_UPTIME |
                 COLLECT_FAILING_STREAK))
    return true;
  if ((collect & COLLECT_HEALTH) && !c->list_health_known)
    return true; /* Podman: health only in inspect */
  if (collect & COLLECT_EXIT_CODE) {
    container_status_t st;
    container_status_parse(c->status, &st);
    container_state_t state = container_state(c);
    if ((state == CSTATE_EXITED || state == CSTATE_DEAD ||
         state == CSTATE_RESTARTING) &&
        !st.exit_code_known)
      return true; /* "Dead" says no code */
  }
  return false;
}

/* The list (and its events, if any) are in: commit, then inspect what
 * needs it. */
static void list_complete(source_t *s, inv_env_t *e) {
  bool full = e->poll_full || e->events_failed;
  inv_env_list_commit(e, full, s->now);
  if (e->list_date > 0)
    e->events_until = e->list_date;
  env_recovered(s, e, e->fault, "its container list is");
  e->inspect_failed = false;
  for (size_t i = 0; i < e->cs_num; i++)
    if ((e->needs_inspect == NULL || e->needs_inspect[i]) &&
        inspect_useful(s->conf.collect, e->cs[i]))
      queue_inspect(s, e, e->cs[i]);
  pump_inspects(s);
}

/* Docker's daemon keeps its last 256 events for "since" queries: a window
 * with this many may have lost some, so everything is re-inspected. */
#define EVENTS_TRUSTED_MAX 200

static void on_event(void *ud, const docker_event_t *ev) {
  req_t *r = ud;
  r->items++;
  if (ev->id == NULL || ev->action == NULL)
    return;
  /* Health checks run as execs: their events change nothing reported. */
  if (strncmp(ev->action, "exec_", 5) == 0)
    return;
  if (inv_env_mark_dirty(r->env, ev->id) != 0)
    r->env->events_failed = true;
}

static void on_events_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  inv_env_t *e = r->env;
  if (!answered(r, res)) {
    /* Not fatal: the environment answered its list; inspect everything. */
    request_failed(s, r, res);
    e->events_failed = true;
  } else {
    env_recovered(s, e, e->events_fault, "its events are");
    if (r->items >= EVENTS_TRUSTED_MAX)
      e->events_failed = true;
  }
  if (--e->events_pending == 0)
    list_complete(s, e);
  req_free(r);
}

static int queue_events(source_t *s, inv_env_t *e, const char *node) {
  char path[512], url[URL_MAX], target[384];
  /* One second of overlap with the last window: events are cheap. */
  if (docker_path_events(path, sizeof(path), e->events_until - 1,
                         e->list_date) != 0)
    return -1;
  req_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return -1;
  *r = (req_t){.s = s, .kind = REQ_EVENTS, .env = e};
  r->js = docker_events_parser_new(on_event, r);
  if (r->js == NULL) {
    req_free(r);
    return -1;
  }
  docker_url(s, e, path, url, sizeof(url));
  const char *extra = target_header(node, target, sizeof(target));
  e->events_pending++;
  if (queue(s, r, "GET", url, extra, NULL, on_events_done) != 0) {
    e->events_pending--;
    return -1;
  }
  return 0;
}

/* Asks each Docker host behind the environment (each Swarm node of an agent
 * environment) what happened since the last poll.  Returns false when no
 * events request could be queued (the caller then inspects everything). */
static bool queue_events_all(source_t *s, inv_env_t *e) {
  /* The distinct nodes, compared with the few already asked rather than
   * with every container before (a list holds thousands, a Swarm tens). */
  const char **asked = NULL;
  size_t asked_num = 0;
  bool ok = true;
  char unused[384];
  for (size_t i = 0; i < e->next_num && ok; i++) {
    const char *node = e->next[i]->node;
    if (target_header(node, unused, sizeof(unused)) == NULL)
      continue;
    bool seen = false;
    for (size_t j = 0; j < asked_num && !seen; j++)
      seen = strcmp(asked[j], node) == 0;
    if (seen)
      continue;
    const char **n = realloc(asked, (asked_num + 1) * sizeof(*n));
    if (n == NULL) {
      ok = false;
      break;
    }
    asked = n;
    asked[asked_num++] = node;
    ok = queue_events(s, e, node) == 0;
  }
  if (ok && asked_num == 0) /* a Docker host, or a standalone agent */
    ok = queue_events(s, e, NULL) == 0;
  free(asked);
  return ok;
}

static void on_list_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  inv_env_t *e = r->env;

  if (!answered(r, res)) {
    request_failed(s, r, res);
    inv_env_list_abort(e);
    req_free(r);
    return;
  }
  if (s->conf.kind == SOURCE_DOCKER)
    s->api_answered = true;

  unsigned every =
      s->conf.full_inspect_every > 0 ? (unsigned)s->conf.full_inspect_every : 1;
  /* Everything is inspected on the first poll, after an outage, every
   * FullInspectEvery polls, and when the daemon's clock is unknown. */
  e->poll_full = !e->up || (e->polls % every) == 0 || e->events_until <= 0 ||
                 res->date <= 0;
  e->events_failed = false;
  e->events_pending = 0;
  e->list_date = res->date;
  req_free(r);

  if (!e->poll_full && e->list_date >= e->events_until) {
    if (queue_events_all(s, e) && e->events_pending > 0)
      return; /* list_complete() runs when the last events answer */
    e->events_failed = true;
    if (e->events_pending > 0)
      return;
  }
  list_complete(s, e);
}

static void queue_list(source_t *s, inv_env_t *e) {
  char url[URL_MAX];
  req_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    inv_env_list_abort(e);
    return;
  }
  *r = (req_t){.s = s, .kind = REQ_LIST, .env = e};
  inv_env_list_begin(e);
  r->js = docker_list_parser_new(
      s->conf.ti_mode == TYPE_INSTANCE_LABEL ? s->conf.ti_label : NULL,
      on_container, r);
  if (r->js == NULL) {
    inv_env_list_abort(e);
    req_free(r);
    return;
  }
  docker_url(s, e, DOCKER_PATH_LIST, url, sizeof(url));
  if (queue(s, r, "GET", url, NULL, NULL, on_list_done) != 0)
    inv_env_list_abort(e);
}

/* --- environments (Portainer) ----------------------------------------------
 */

static bool skipped_logged(source_t *s, int64_t id) {
  for (size_t i = 0; i < s->skipped_num; i++)
    if (s->skipped[i] == id)
      return true;
  int64_t *n = realloc(s->skipped, (s->skipped_num + 1) * sizeof(*n));
  if (n != NULL) {
    s->skipped = n;
    s->skipped[s->skipped_num++] = id;
  }
  return false;
}

static bool id_in(const int64_t *ids, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return true;
  return false;
}

static bool keep_env(source_t *s, const pt_endpoint_t *ep) {
  const source_conf_t *conf = &s->conf;
  /* What the configuration leaves out is left out silently. */
  if (conf->shard_count > 1 && (uint64_t)ep->id % (uint64_t)conf->shard_count !=
                                   (uint64_t)(conf->shard_index - 1))
    return false;
  if (!keep_name(&conf->env_include, &conf->env_exclude, ep->name))
    return false;
  if (conf->group_ids_num > 0 &&
      !id_in(conf->group_ids, conf->group_ids_num, ep->group_id))
    return false;
  if (conf->tag_ids_num > 0) {
    bool tagged = false;
    for (size_t i = 0; i < ep->tag_ids_num && !tagged; i++)
      tagged = id_in(conf->tag_ids, conf->tag_ids_num, ep->tag_ids[i]);
    if (!tagged)
      return false;
  }
  if (!pt_endpoint_is_docker(ep)) {
    if (!skipped_logged(s, ep->id))
      slog(s, SOURCE_LOG_INFO,
           "source \"%s\": environment \"%s\" (id %" PRId64
           ") is of type %d, not Docker: skipped",
           conf->name, ep->name, ep->id, ep->type);
    return false;
  }
  return true;
}

static void on_endpoint(void *ud, pt_endpoint_t *ep) {
  req_t *r = ud;
  r->items++;
  if (!keep_env(r->s, ep)) {
    pt_endpoint_free(ep);
    return;
  }
  if (r->eps_num == r->eps_cap) {
    size_t cap = r->eps_cap ? r->eps_cap * 2 : 32;
    pt_endpoint_t **n = realloc(r->eps, cap * sizeof(*n));
    if (n == NULL) {
      pt_endpoint_free(ep);
      return;
    }
    r->eps = n;
    r->eps_cap = cap;
  }
  r->eps[r->eps_num++] = ep;
}

static void on_page_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  char what[256];
  snprintf(what, sizeof(what), "source \"%s\"", s->conf.name);

  if (res->error == HTTP_OK && res->status == 401 && s->jwt != NULL &&
      !s->auth_retried) {
    /* The JWT expired, or Portainer restarted: log in again, once. */
    s->auth_retried = true;
    secret_free(s->jwt);
    s->jwt = NULL;
    set_auth_header(s);
    if (r->start == 1)
      queue_auth(s);
    else
      s->pages_ok = false;
    req_free(r);
    return;
  }
  if (!answered(r, res)) {
    s->pages_ok = false;
    request_failed(s, r, res);
    req_free(r);
    return;
  }
  s->api_answered = true;

  for (size_t i = 0; i < r->eps_num; i++) {
    pt_endpoint_t *ep = r->eps[i];
    inv_env_t *e = inventory_env(s->inv, ep->id, ep->name);
    if (e == NULL || e->listed)
      continue; /* out of memory, or seen on another page already */
    e->listed = true;
    e->type = ep->type;
    queue_list(s, e);
  }

  /* The first page tells how many there are: ask for the rest at once.
   * Without X-Total-Count, follow full pages one by one. */
  int64_t limit = s->conf.page_size;
  if (r->start == 1 && res->total_count > limit) {
    for (int64_t start = 1 + limit;
         start <= res->total_count && s->pages_queued < MAX_PAGES;
         start += limit)
      queue_page(s, start);
  } else if (res->total_count < 0 && (int64_t)r->items >= limit &&
             s->pages_queued < MAX_PAGES) {
    queue_page(s, r->start + limit);
  }
  req_free(r);
}

static void queue_page(source_t *s, int64_t start) {
  char path[256], url[URL_MAX];
  req_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    s->pages_ok = false;
    return;
  }
  *r = (req_t){.s = s, .kind = REQ_PAGE, .start = start};
  r->js = pt_endpoints_parser_new(on_endpoint, r);
  if (r->js == NULL) {
    s->pages_ok = false;
    req_free(r);
    return;
  }
  pt_path_endpoints(path, sizeof(path), start, s->conf.page_size);
  snprintf(url, sizeof(url), "%s%s", s->conf.url, path);
  s->pages_queued++;
  if (queue(s, r, "GET", url, NULL, NULL, on_page_done) != 0)
    s->pages_ok = false;
}

/* --- authentication (Portainer, username + password) ---------------------- */

static int on_auth_body(void *ud, const char *buf, size_t len) {
  req_t *r = ud;
  if (r->buf_len + len > 64 * 1024)
    return 1; /* a JWT is a few hundred bytes */
  char *n = realloc(r->buf, r->buf_len + len + 1);
  if (n == NULL)
    return 1;
  memcpy(n + r->buf_len, buf, len);
  r->buf = n;
  r->buf_len += len;
  r->buf[r->buf_len] = 0;
  return 0;
}

static void on_auth_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  if (res->error == HTTP_OK && res->status == 200 && r->buf != NULL) {
    s->jwt = pt_auth_parse_jwt(r->buf, r->buf_len);
    if (s->jwt != NULL && strcspn(s->jwt, "\r\n") == strlen(s->jwt)) {
      set_auth_header(s);
      queue_page(s, 1);
      req_free(r);
      return;
    }
    secret_free(s->jwt);
    s->jwt = NULL;
    s->stats.errors[ERR_PARSE]++;
    char what[256];
    snprintf(what, sizeof(what), "source \"%s\"", s->conf.name);
    fault(s, s->fault, sizeof(s->fault), "auth:nojwt", what,
          "POST /api/auth answered without a usable \"jwt\"");
  } else {
    request_failed(s, r, res);
  }
  s->pages_ok = false;
  req_free(r);
}

static void queue_auth(source_t *s) {
  char url[URL_MAX];
  req_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    s->pages_ok = false;
    return;
  }
  *r = (req_t){.s = s, .kind = REQ_AUTH};
  char *body = pt_auth_body(s->conf.username, s->conf.password);
  if (body == NULL) {
    s->pages_ok = false;
    req_free(r);
    return;
  }
  snprintf(url, sizeof(url), "%s/api/auth", s->conf.url);
  if (queue(s, r, "POST", url, NULL, body, on_auth_done) != 0)
    s->pages_ok = false;
  secret_free(body);
}

/* --- the poll ------------------------------------------------------------- */

source_t *source_new(source_conf_t *conf, const char *default_host,
                     source_log_fn log, void *log_ud) {
  source_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->conf = *conf;
  memset(conf, 0, sizeof(*conf));
  s->log = log;
  s->log_ud = log_ud;
  const char *host = s->conf.host != NULL ? s->conf.host : default_host;
  s->host = strdup(host != NULL ? host : "localhost");
  s->inv = inventory_new();

  http_options_t opts = {
      .unix_socket = s->conf.socket,
      .verify_peer = s->conf.verify_peer,
      .verify_host = s->conf.verify_host,
      .ca_cert = s->conf.ca_cert,
      .client_cert = s->conf.client_cert,
      .client_key = s->conf.client_key,
      .timeout_ms = s->conf.timeout_ms,
      .max_response_size = s->conf.max_response_size,
      .max_in_flight = s->conf.max_in_flight,
  };
  s->http = http_client_new(&opts);
  if (s->host == NULL || s->inv == NULL || s->http == NULL) {
    source_free(s);
    return NULL;
  }
  set_auth_header(s);
  return s;
}

void source_free(source_t *s) {
  if (s == NULL)
    return;
  http_client_free(s->http);
  inventory_free(s->inv);
  source_conf_free(&s->conf);
  secret_free(s->jwt);
  memset(s->auth_header, 0, sizeof(s->auth_header));
  free(s->host);
  free(s->skipped);
  free(s->inspects);
  free(s);
}

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int source_poll(source_t *s) {
  int64_t start_ms = http_now_ms();
  double interval = s->conf.interval > 0 ? s->conf.interval : 10.0;
  /* The whole poll ends before the next one is due. */
  int64_t budget = (int64_t)(interval * 900.0);
  if (budget < 1000)
    budget = 1000;

  s->now = (int64_t)wall_seconds();
  s->inspects_num = s->inspects_next = s->inspects_running = 0;
  s->pages_ok = true;
  s->api_answered = false;
  s->auth_retried = false;
  s->pages_queued = 0;

  if (s->conf.kind == SOURCE_PORTAINER) {
    for (size_t i = 0; i < s->inv->envs_num; i++)
      s->inv->envs[i]->listed = false;
    if (s->jwt == NULL && s->conf.username != NULL)
      queue_auth(s);
    else
      queue_page(s, 1);
  } else {
    inv_env_t *e = inventory_env(s->inv, 0, s->host);
    if (e != NULL) {
      e->listed = true;
      queue_list(s, e);
    }
  }

  http_client_run(s->http, start_ms + budget);

  for (size_t i = 0; i < s->inv->envs_num; i++) {
    inv_env_t *e = s->inv->envs[i];
    if (!e->listed) {
      e->up = false; /* not reached this poll (a page failed) */
    } else if (e->up) {
      inv_env_drop_vanished(e);
      if (!e->inspect_failed)
        env_recovered(s, e, e->inspect_fault, "inspects are");
    }
  }
  /* Environments gone from a complete list are gone for good. */
  if (s->conf.kind == SOURCE_PORTAINER && s->pages_ok && s->api_answered)
    inventory_prune_unlisted(s->inv);

  bool up = s->api_answered && (s->conf.kind == SOURCE_DOCKER || s->pages_ok);
  s->stats.up = up;
  s->stats.poll_seconds = (double)(http_now_ms() - start_ms) / 1000.0;
  s->stats.requests = http_client_requests_sent(s->http);
  s->polls++;
  if (up) {
    char what[256];
    s->stats.last_success = s->now;
    snprintf(what, sizeof(what), "source \"%s\"", s->conf.name);
    recovered(s, s->fault, what, "the API is");
  }
  return up ? 0 : -1;
}

const source_conf_t *source_conf(const source_t *s) {
  return &s->conf;
}

const inventory_t *source_inventory(const source_t *s) {
  return s->inv;
}

const source_stats_t *source_stats(const source_t *s) {
  return &s->stats;
}
