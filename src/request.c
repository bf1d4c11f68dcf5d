/**
 * request.c: one request of a poll: its context, URL and headers.
 */
#include "source_internal.h"

#include "secret.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

req_t *req_new(source_t *s, req_kind_t kind) {
  req_t *r = calloc(1, sizeof(*r));
  if (r != NULL) {
    r->s = s;
    r->kind = kind;
  }
  return r;
}

void req_free(req_t *r) {
  if (r == NULL)
    return;
  if (r->js != NULL)
    json_stream_free(r->js);
  for (size_t i = 0; i < r->eps_num; i++)
    pt_endpoint_free(r->eps[i]);
  free(r->eps);
  secret_free_n(r->buf, r->buf_len + 1); /* the login answer: a JWT */
  free(r);
}

static int on_json_body(void *ud, const char *buf, size_t len) {
  req_t *r = ud;
  return json_stream_feed(r->js, buf, len) == 0 ? 0 : 1;
}

bool req_answered(req_t *r, const http_result_t *res) {
  return !r->nomem && res->error == HTTP_OK && res->status == 200 &&
         json_stream_finish(r->js) == 0;
}

void source_set_auth_header(source_t *s) {
  explicit_bzero(s->auth_header, sizeof(s->auth_header));
  if (s->conf.kind != SOURCE_PORTAINER)
    return;
  if (s->jwt != NULL)
    snprintf(s->auth_header, sizeof(s->auth_header), "Authorization: Bearer %s",
             s->jwt);
  else if (s->conf.token != NULL)
    snprintf(s->auth_header, sizeof(s->auth_header), "X-API-Key: %s",
             s->conf.token);
}

/* Pages and the login first: everything else waits on them.  Then each
 * host's list, snapshot and events, the hosts that were slow to answer last
 * poll after the others; inspects last (inspects.c hands them over a window
 * at a time). */
static http_prio_t req_prio(const req_t *r) {
  switch (r->kind) {
  case REQ_AUTH:
  case REQ_PAGE:
    return HTTP_PRIO_URGENT;
  case REQ_INSPECT:
    return HTTP_PRIO_LOW;
  default:
    return r->env != NULL && r->env->slow ? HTTP_PRIO_NORMAL : HTTP_PRIO_HIGH;
  }
}

int req_queue(source_t *s, req_t *r, const char *method, const char *url,
              const char *extra_header, const char *body, http_body_cb on_body,
              http_done_cb done) {
  const char *headers[3] = {NULL, NULL, NULL};
  size_t n = 0;
  if (s->auth_header[0] != 0 && r->kind != REQ_AUTH)
    headers[n++] = s->auth_header;
  if (extra_header != NULL)
    headers[n++] = extra_header;
  if (on_body == NULL && r->js != NULL)
    on_body = on_json_body;
  int rc = http_request_prio(s->http, req_prio(r), method, url, headers, body,
                             on_body, done, r);
  if (rc != 0)
    req_free(r);
  return rc;
}

char *req_url(const char *fmt, ...) {
  char *url = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&url, fmt, ap);
  va_end(ap);
  return n >= 0 ? url : NULL;
}

char *req_docker_url(const source_t *s, const inv_env_t *e, const char *path) {
  if (s->conf.kind == SOURCE_PORTAINER)
    return req_url("%s/api/endpoints/%" PRId64 "/docker%s", s->conf.url, e->id,
                   path);
  if (s->conf.url != NULL)
    return req_url("%s%s", s->conf.url, path);
  return req_url("http://localhost%s", path); /* the unix socket */
}

const char *req_target_header(const char *node, char *buf, size_t size) {
  if (node == NULL || node[0] == 0 || strcspn(node, "\r\n") != strlen(node))
    return NULL;
  snprintf(buf, size, "X-PortainerAgent-Target: %.300s", node);
  return buf;
}
