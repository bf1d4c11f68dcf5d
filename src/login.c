/**
 * login.c: a Portainer source with Username and Password logs in with
 * POST /api/auth and sends the JWT it gets until Portainer answers 401
 * (expired, or Portainer restarted); environments.c then logs in again.
 * What waited for the JWT (the first page of environments) is the caller's
 * to say.
 */
#include "source_internal.h"

#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_BODY_MAX (64 * 1024) /* a JWT is a few hundred bytes */

static int on_auth_body(void *ud, const char *buf, size_t len) {
  req_t *r = ud;
  if (r->buf_len + len > AUTH_BODY_MAX)
    return 1;
  /* Not realloc(): a block it moves is freed unwiped, with the JWT. */
  char *n = malloc(r->buf_len + len + 1);
  if (n == NULL)
    return 1;
  if (r->buf_len > 0)
    memcpy(n, r->buf, r->buf_len);
  memcpy(n + r->buf_len, buf, len);
  secret_free_n(r->buf, r->buf_len + 1);
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
      source_set_auth_header(s);
      r->then(s);
      req_free(r);
      return;
    }
    secret_free(s->jwt);
    s->jwt = NULL;
    s->stats.errors[ERR_PARSE]++;
    fault_log(s, s->fault, sizeof(s->fault), "auth:nojwt", NULL,
              "POST /api/auth answered without a usable \"jwt\"");
  } else {
    fault_request(s, r, res);
  }
  s->pages_ok = false;
  req_free(r);
}

void login_queue(source_t *s, void (*then)(source_t *s)) {
  req_t *r = req_new(s, REQ_AUTH);
  if (r == NULL) {
    s->pages_ok = false;
    return;
  }
  r->then = then;
  char *body = pt_auth_body(s->conf.username, s->conf.password);
  if (body == NULL) {
    s->pages_ok = false;
    req_free(r);
    return;
  }
  char *url = req_url("%s/api/auth", s->conf.url);
  if (url == NULL) {
    s->pages_ok = false;
    req_free(r);
  } else if (req_queue(s, r, "POST", url, NULL, body, on_auth_body,
                       on_auth_done) != 0) {
    s->pages_ok = false;
  }
  free(url);
  secret_free(body);
}
