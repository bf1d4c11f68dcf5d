/**
 * fault.c: what a failed request costs and says.
 *
 * Each failure is counted by kind (collectd_portainer_api_errors_total) and
 * described in one line naming the source, the environment and the cause.
 * A fault is logged once when it starts, in a "slot" that remembers its
 * signature, and once when it ends; never once per container or per poll.
 * Every line is built by secret.h's builder: the source's secrets are
 * scrubbed from the whole of every piece of data before anything is cut,
 * and no control character reaches the log.
 */
#include "source_internal.h"

#include "docker_api.h"
#include "identity.h"
#include "secret.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A JSON string is cut at JSON_MAX_STRING bytes, past where any log line
 * ends: a secret that such a cut breaks could not show anyway.  (Cuts that
 * can show are flagged to the builder: libcurl's message, "%.Ns".) */
_Static_assert(JSON_MAX_STRING > SOURCE_LOG_LINE_MAX,
               "a JSON string cut must lie beyond the end of a log line");

static const char *err_kind_names[ERR_KINDS_NUM] = {
    "connect", "resolve",   "timeout",  "tls",      "too_large", "parse",
    "auth",    "not_found", "http_4xx", "http_5xx", "other"};

const char *source_err_kind_name(source_err_kind_t k) {
  return (k >= 0 && k < ERR_KINDS_NUM) ? err_kind_names[k] : "other";
}

void source_logline(const source_t *s, logline_t *l) {
  const char *secrets[] = {s->conf.token, s->conf.password, s->jwt};
  logline_init(l, secrets, sizeof(secrets) / sizeof(secrets[0]));
}

void slog_line(source_t *s, int level, logline_t *l) {
  char line[SOURCE_LOG_LINE_MAX];
  if (s->log != NULL) {
    logline_finish(l, line, sizeof(line));
    s->log(s->log_ud, level, line);
  }
  logline_free(l);
}

void slog(source_t *s, int level, const char *fmt, ...) {
  logline_t l;
  va_list ap;
  source_logline(s, &l);
  va_start(ap, fmt);
  logline_vprintf(&l, fmt, ap);
  va_end(ap);
  slog_line(s, level, &l);
}

/* A part of an API error document worth showing: not only blanks. */
static bool has_words(const char *s) {
  for (; s != NULL && *s != 0; s++)
    if ((unsigned char)*s > 0x20 && *s != 0x7f)
      return true;
  return false;
}

static void add_api_words(logline_t *l, const char *s, bool cut) {
  if (has_words(s))
    logline_data(l, s, strlen(s), LOGLINE_TRIM | (cut ? LOGLINE_CUT : 0));
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

/* Adds a one-line description of a failed request: transport errors carry
 * libcurl's text, HTTP errors the API's message. */
static void describe(const http_result_t *res, json_stream_t *js,
                     logline_t *l) {
  if (res->error == HTTP_ERR_ABORTED && js != NULL) {
    logline_printf(l, "invalid JSON: %s", json_stream_error(js));
  } else if (res->error != HTTP_OK) {
    size_t n = strlen(res->message);
    logline_printf(l, "%s: ", http_error_name(res->error));
    if (n == 0)
      logline_add(l, "no detail");
    else /* libcurl's text, cut to the message's size */
      logline_data(l, res->message, n,
                   n + 1 >= sizeof(res->message) ? LOGLINE_CUT : 0);
  } else if (res->status >= 300) {
    api_error_t ae;
    api_error_parse(res->body, res->body_len, &ae);
    bool has_msg = has_words(ae.message), has_details = has_words(ae.details);
    if (has_msg || has_details) {
      logline_printf(l, "HTTP %ld: ", res->status);
      add_api_words(l, ae.message, ae.message_cut);
      if (has_msg && has_details)
        logline_add(l, ": ");
      add_api_words(l, ae.details, ae.details_cut);
    } else if (res->body_len == 0) {
      logline_printf(l, "HTTP %ld (empty body)", res->status);
    } else {
      logline_printf(l, "HTTP %ld (not an API error document)", res->status);
    }
    api_error_free(&ae);
  } else if (js != NULL && json_stream_error(js)[0] != 0) {
    logline_printf(l, "invalid JSON: %s", json_stream_error(js));
  } else {
    logline_printf(l, "unexpected answer (HTTP %ld)", res->status);
  }
}

/* Logs line (and frees it) when signature differs from what slot last
 * logged. */
static void log_once(source_t *s, char *slot, size_t slot_size,
                     const char *signature, logline_t *l) {
  if (strcmp(slot, signature) == 0) {
    logline_free(l);
    return;
  }
  snprintf(slot, slot_size, "%s", signature);
  slog_line(s, SOURCE_LOG_ERR, l);
}

void fault_log(source_t *s, char *slot, size_t slot_size, const char *signature,
               const inv_env_t *e, const char *msg) {
  logline_t l;
  if (strcmp(slot, signature) == 0)
    return;
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_add(&l, ": ");
  logline_add(&l, msg);
  log_once(s, slot, slot_size, signature, &l);
}

void fault_note(source_t *s, char *slot, size_t slot_size,
                const char *signature, int level, const char *fmt, ...) {
  logline_t l;
  va_list ap;
  if (strcmp(slot, signature) == 0)
    return;
  snprintf(slot, slot_size, "%s", signature);
  source_logline(s, &l);
  fault_what(s, NULL, &l);
  logline_add(&l, ": ");
  va_start(ap, fmt);
  logline_vprintf(&l, fmt, ap);
  va_end(ap);
  slog_line(s, level, &l);
}

static void recovered(source_t *s, char *slot, const inv_env_t *e,
                      const char *which) {
  logline_t l;
  if (slot[0] == 0)
    return; /* the common case: nothing to say, nothing to format */
  slot[0] = 0;
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_add(&l, ": ");
  logline_add(&l, which);
  logline_add(&l, " answering again");
  slog_line(s, SOURCE_LOG_INFO, &l);
}

void fault_source_recovered(source_t *s) {
  recovered(s, s->fault, NULL, "the API is");
}

/* A name from a server or the configuration, scrubbed whole, then shown as
 * its identity field (so it matches the series' label). */
static void add_name(logline_t *l, const char *name) {
  char field[IDENTITY_SIZE];
  char *clean = logline_scrub(l, name, strlen(name), 0, NULL);
  if (clean == NULL) {
    l->failed = true;
    return;
  }
  identity_field(field, clean, NULL);
  free(clean);
  logline_add(l, field);
}

void fault_what(const source_t *s, const inv_env_t *e, logline_t *l) {
  logline_printf(l, "source \"%s\"", s->conf.name);
  if (e == NULL)
    return;
  logline_add(l, s->conf.kind == SOURCE_PORTAINER ? ": environment \""
                                                  : ": Docker host \"");
  add_name(l, e->name);
  if (s->conf.kind == SOURCE_PORTAINER)
    logline_printf(l, "\" (id %" PRId64 ")", e->id);
  else
    logline_add(l, "\"");
}

void fault_shared_identity(const source_t *s, const inv_env_t *e,
                           const char *container, const char *owner, char *buf,
                           size_t size) {
  logline_t l;
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_add(&l, ": container \"");
  add_name(&l, container);
  logline_printf(&l,
                 "\" (and any other with the same host, name and type) is "
                 "also written by source \"%s\", configured first, whose "
                 "values are kept; set HostPrefix in one of the two blocks to "
                 "keep both",
                 owner);
  logline_finish(&l, buf, size);
  logline_free(&l);
}

void fault_env_recovered(source_t *s, const inv_env_t *e, char *slot,
                         const char *which) {
  recovered(s, slot, e, which);
}

void fault_request(source_t *s, req_t *r, const http_result_t *res) {
  if (res->error == HTTP_ERR_CANCELLED)
    return; /* shutdown, not a fault: the poll is dropped whole */
  http_result_t oom = {.error = HTTP_ERR_OTHER, .message = "out of memory"};
  if (r->nomem && res->error == HTTP_OK && res->status < 300)
    res = &oom; /* the answer came, but part of it could not be kept */
  source_err_kind_t kind = classify(res);
  char sig[64];
  if (res->error == HTTP_OK && res->status < 300)
    kind = ERR_PARSE; /* a 2xx whose document did not parse */
  s->stats.errors[kind]++;
  snprintf(sig, sizeof(sig), "%d:%s:%ld", (int)r->kind,
           source_err_kind_name(kind), res->status);

  inv_env_t *e = r->env;
  char *slot = s->fault;
  size_t slot_size = sizeof(s->fault);
  if (e != NULL && r->kind == REQ_INSPECT) {
    e->inspect_failed = true;
    slot = e->inspect_fault, slot_size = sizeof(e->inspect_fault);
  } else if (e != NULL && r->kind == REQ_EVENTS) {
    slot = e->events_fault, slot_size = sizeof(e->events_fault);
  } else if (e != NULL && r->kind == REQ_NODES) {
    slot = e->nodes_fault, slot_size = sizeof(e->nodes_fault);
  } else if (e != NULL) {
    slot = e->fault, slot_size = sizeof(e->fault);
  }
  if (strcmp(slot, sig) == 0)
    return; /* logged when it started */

  logline_t l;
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_add(&l, ": ");
  if (e != NULL && r->kind == REQ_INSPECT) {
    logline_add(&l, "inspect of container \"");
    add_name(&l, r->c->name);
    logline_add(&l, "\" failed: ");
  } else if (e != NULL && r->kind == REQ_EVENTS) {
    logline_add(&l, "events request failed (every container is inspected "
                    "instead): ");
  } else if (e != NULL && r->kind == REQ_NODES) {
    logline_add(&l, "Swarm node list request failed (every node seen before "
                    "counts as expected): ");
  }
  describe(res, r->js, &l);
  if (kind == ERR_CONNECT && s->conf.socket != NULL) {
    /* libcurl names "localhost port 80": say which socket it was. */
    logline_printf(&l, " (socket %s)", s->conf.socket);
  }
  log_once(s, slot, slot_size, sig, &l);
}

void fault_nomem(source_t *s, req_kind_t kind, inv_env_t *e, container_t *c) {
  req_t r = {.s = s, .kind = kind, .env = e, .c = c, .nomem = true};
  http_result_t ok = {.error = HTTP_OK, .status = 200};
  fault_request(s, &r, &ok);
}

void fault_utc(int64_t t, char *buf, size_t size) {
  struct tm tm;
  time_t tt = (time_t)t;
  if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
      strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    snprintf(buf, size, "unknown");
}

void fault_env_state(source_t *s, const inv_env_t *e, char *slot,
                     size_t slot_size, const char *sig, const char *msg) {
  logline_t l;
  if (sig[0] == '\0' && slot[0] == '\0')
    return; /* the common case: nothing to say */
  if (strcmp(slot, sig) == 0)
    return; /* said already */
  snprintf(slot, slot_size, "%s", sig);
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_add(&l, ": ");
  /* msg holds what Portainer said (times, intervals): data. */
  logline_data(&l, msg, strlen(msg), 0);
  slog_line(s, sig[0] == '\0' ? SOURCE_LOG_INFO : SOURCE_LOG_WARNING, &l);
}
