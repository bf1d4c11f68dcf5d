/**
 * http_request.c: a request of the http client (http_internal.h): its own
 * copy of what to send, the queue of its scheduling class, and its one
 * completion.
 */
#include "http_internal.h"

#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_req_free(http_req_t *r) {
  if (r == NULL)
    return;
  free(r->method);
  free(r->url);
  /* Headers carry the token or JWT, the body the password, and an error
   * body may echo either: wiped before they are freed. */
  secret_free(r->body);
  for (struct curl_slist *h = r->headers; h != NULL; h = h->next)
    explicit_bzero(h->data, strlen(h->data));
  curl_slist_free_all(r->headers);
  if (r->errbody != NULL)
    secret_free_n(r->errbody, HTTP_ERROR_BODY_MAX + 1);
  free(r);
}

void http_req_finish(http_req_t *r, http_error_t err, const char *msg) {
  http_result_t res;
  memset(&res, 0, sizeof(res));
  res.error = err;
  res.status = r->status;
  res.total_count = r->total_count;
  res.date = r->date;
  if (r->started_ms > 0) {
    int64_t until = r->answered_ms > 0 ? r->answered_ms : http_now_ms();
    res.slow = r->leased || until - r->started_ms >= r->hc->lease_ms;
  }
  if (msg != NULL)
    snprintf(res.message, sizeof(res.message), "%s", msg);
  if (r->status != 0 && !http_status_is_2xx(r->status)) {
    res.body = r->errbody != NULL ? r->errbody : "";
    res.body_len = r->errbody != NULL ? r->errbody_len : 0;
  }
  if (r->on_done != NULL)
    r->on_done(r->ud, &res);
  http_req_free(r);
}

int http_request(http_client_t *hc, const char *method, const char *url,
                 const char *const *headers, const char *body,
                 http_body_cb on_body, http_done_cb on_done, void *ud) {
  return http_request_prio(hc, HTTP_PRIO_NORMAL, method, url, headers, body,
                           on_body, on_done, ud);
}

int http_request_prio(http_client_t *hc, http_prio_t prio, const char *method,
                      const char *url, const char *const *headers,
                      const char *body, http_body_cb on_body,
                      http_done_cb on_done, void *ud) {
  if (hc == NULL || method == NULL || url == NULL || prio < 0 ||
      prio >= HTTP_PRIO_NUM)
    return -1;
  if (hc->refusing || atomic_load(&hc->cancelled))
    return HTTP_REFUSED;

  http_req_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return -1;
  r->hc = hc;
  r->prio = prio;
  r->on_body = on_body;
  r->on_done = on_done;
  r->ud = ud;
  r->total_count = -1;
  r->method = strdup(method);
  r->url = strdup(url);
  if (r->method == NULL || r->url == NULL)
    goto oom;
  if (body != NULL && (r->body = strdup(body)) == NULL)
    goto oom;

  bool has_ctype = false;
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
    const char *h = headers[i];
    if (strpbrk(h, "\r\n") != NULL)
      r->bad_header = true; /* would inject headers: refuse at start */
    if (strncasecmp(h, "Content-Type:", 13) == 0)
      has_ctype = true;
    struct curl_slist *l = curl_slist_append(r->headers, h);
    if (l == NULL)
      goto oom;
    r->headers = l;
  }
  const char *extra[2] = {NULL, "Expect:"};
  if (r->body != NULL && strcmp(method, "POST") == 0 && !has_ctype)
    extra[0] = "Content-Type: application/json";
  for (size_t i = 0; i < 2; i++) {
    if (extra[i] == NULL)
      continue;
    struct curl_slist *l = curl_slist_append(r->headers, extra[i]);
    if (l == NULL)
      goto oom;
    r->headers = l;
  }

  http_queue_push(hc, r);
  return 0;

oom:
  http_req_free(r);
  return -1;
}

void http_queue_push(http_client_t *hc, http_req_t *r) {
  if (hc->q_tail[r->prio] != NULL)
    hc->q_tail[r->prio]->next = r;
  else
    hc->q_head[r->prio] = r;
  hc->q_tail[r->prio] = r;
  hc->n_waiting++;
}

http_req_t *http_queue_pop(http_client_t *hc) {
  for (int p = 0; p < HTTP_PRIO_NUM; p++) {
    http_req_t *r = hc->q_head[p];
    if (r == NULL)
      continue;
    hc->q_head[p] = r->next;
    if (hc->q_head[p] == NULL)
      hc->q_tail[p] = NULL;
    r->next = NULL;
    hc->n_waiting--;
    return r;
  }
  return NULL;
}

size_t http_client_waiting(const http_client_t *hc) {
  return hc != NULL ? hc->n_waiting : 0;
}

void http_client_set_feed(http_client_t *hc, http_feed_cb feed, void *ud) {
  if (hc == NULL)
    return;
  hc->feed = feed;
  hc->feed_ud = ud;
}
