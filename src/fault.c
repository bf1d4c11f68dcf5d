/**
 * fault.c: what a failed request costs and says.
 *
 * Each failure is counted by kind (collectd_portainer_api_errors_total) and
 * described in one line naming the source, the environment and the cause.
 * A fault is logged once when it starts, in a "slot" that remembers its
 * signature, and once when it ends; never once per container or per poll.
 * Every line is scrubbed of the source's secrets and of control characters.
 */
#include "source_internal.h"

#include "docker_api.h"
#include "identity.h"
#include "secret.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *err_kind_names[ERR_KINDS_NUM] = {
    "connect", "resolve",   "timeout",  "tls",      "too_large", "parse",
    "auth",    "not_found", "http_4xx", "http_5xx", "other"};

const char *source_err_kind_name(source_err_kind_t k) {
  return (k >= 0 && k < ERR_KINDS_NUM) ? err_kind_names[k] : "other";
}

void slog(source_t *s, int level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  if (s->log == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  secret_redact(msg, sizeof(msg), s->conf.token);
  secret_redact(msg, sizeof(msg), s->conf.password);
  secret_redact(msg, sizeof(msg), s->jwt);
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

void fault_log(source_t *s, char *slot, size_t slot_size, const char *signature,
               const char *what, const char *msg) {
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

void fault_source_recovered(source_t *s) {
  char what[256];
  if (s->fault[0] == 0)
    return;
  snprintf(what, sizeof(what), "source \"%s\"", s->conf.name);
  recovered(s, s->fault, what, "the API is");
}

void fault_env_what(const source_t *s, const inv_env_t *e, char *buf,
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

void fault_env_recovered(source_t *s, const inv_env_t *e, char *slot,
                         const char *which) {
  char what[512];
  if (slot[0] == 0)
    return; /* the common case: nothing to say, nothing to format */
  fault_env_what(s, e, what, sizeof(what));
  recovered(s, slot, what, which);
}

void fault_request(source_t *s, req_t *r, const http_result_t *res) {
  if (res->error == HTTP_ERR_CANCELLED)
    return; /* shutdown, not a fault: the poll is dropped whole */
  http_result_t oom = {.error = HTTP_ERR_OTHER, .message = "out of memory"};
  if (r->nomem && res->error == HTTP_OK && res->status < 300)
    res = &oom; /* the answer came, but part of it could not be kept */
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
    fault_env_what(s, e, what, sizeof(what));
    if (r->kind == REQ_INSPECT) {
      char m2[1024], name[IDENTITY_SIZE];
      identity_field(name, r->c->name, NULL);
      snprintf(m2, sizeof(m2), "inspect of container \"%s\" failed: %.700s",
               name, msg);
      e->inspect_failed = true;
      fault_log(s, e->inspect_fault, sizeof(e->inspect_fault), sig, what, m2);
    } else if (r->kind == REQ_EVENTS) {
      char m2[1024];
      snprintf(m2, sizeof(m2),
               "events request failed (every container is inspected "
               "instead): %.700s",
               msg);
      fault_log(s, e->events_fault, sizeof(e->events_fault), sig, what, m2);
    } else {
      fault_log(s, e->fault, sizeof(e->fault), sig, what, msg);
    }
  } else {
    snprintf(what, sizeof(what), "source \"%s\"", s->conf.name);
    fault_log(s, s->fault, sizeof(s->fault), sig, what, msg);
  }
}

void fault_nomem(source_t *s, req_kind_t kind, inv_env_t *e, container_t *c) {
  req_t r = {.s = s, .kind = kind, .env = e, .c = c, .nomem = true};
  http_result_t ok = {.error = HTTP_OK, .status = 200};
  fault_request(s, &r, &ok);
}
