/**
 * environments.c: a Portainer source's environments, page by page, and
 * which of them this poll asks for containers.
 *
 * GET /api/endpoints?start=1&limit=N&excludeSnapshots=true; the first page's
 * X-Total-Count tells how many pages follow, and they are asked at once.
 * Without it, full pages are followed one by one, and paging stops at a page
 * that brings no environment id not seen on an earlier page of this poll (a
 * server that ignores start and limit sends the same page again).  A page's
 * fullness counts every entry it held; an entry without a usable Id or Name
 * is skipped and counted, with one line per fault.  Every kept environment
 * is asked for its containers as soon as its page is in (edge.c decides how,
 * or whether: Edge agents).
 */
#include "source_internal.h"

#include "secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the ids this poll's pages brought ----------------------------------- */

static size_t seen_slot(const source_t *s, int64_t id) {
  uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
  size_t i = (size_t)(h >> 32) & (s->seen_cap - 1);
  while (s->seen_used[i] && s->seen_ids[i] != id)
    i = (i + 1) & (s->seen_cap - 1); /* never full: see seen_add */
  return i;
}

/* Adds id; true when it is new this poll (or memory ran out: paging then
 * goes on, bounded by MAX_PAGES). */
static bool seen_add(source_t *s, int64_t id) {
  if (2 * (s->seen_num + 1) > s->seen_cap) {
    size_t cap = s->seen_cap ? 2 * s->seen_cap : 256;
    int64_t *ids = calloc(cap, sizeof(*ids));
    bool *used = calloc(cap, sizeof(*used));
    if (ids == NULL || used == NULL) {
      free(ids);
      free(used);
      return true;
    }
    int64_t *old_ids = s->seen_ids;
    bool *old_used = s->seen_used;
    size_t old_cap = s->seen_cap;
    s->seen_ids = ids;
    s->seen_used = used;
    s->seen_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
      if (old_used[i]) {
        size_t j = seen_slot(s, old_ids[i]);
        s->seen_used[j] = true;
        s->seen_ids[j] = old_ids[i];
      }
    }
    free(old_ids);
    free(old_used);
  }
  size_t i = seen_slot(s, id);
  if (s->seen_used[i])
    return false;
  s->seen_used[i] = true;
  s->seen_ids[i] = id;
  s->seen_num++;
  return true;
}

void environments_poll_begin(source_t *s) {
  if (s->seen_used != NULL)
    memset(s->seen_used, 0, s->seen_cap * sizeof(*s->seen_used));
  s->seen_num = 0;
  s->pages_malformed = 0;
  s->pages_repeated = false;
}

void environments_poll_end(source_t *s) {
  if (!s->pages_repeated)
    s->paging_fault[0] = 0;
  if (s->pages_malformed == 0)
    s->malformed_fault[0] = 0;
}

/* ---- which environments are kept ----------------------------------------- */

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
  if (!source_conf_keeps(&conf->env_include, &conf->env_exclude, ep->name))
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
  if (seen_add(r->s, ep->id))
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

  if (res->error == HTTP_OK && res->status == 401 && s->jwt != NULL &&
      !s->auth_retried) {
    /* The JWT expired, or Portainer restarted: log in again, once. */
    s->auth_retried = true;
    secret_free(s->jwt);
    s->jwt = NULL;
    source_set_auth_header(s);
    if (r->start == 1)
      login_queue(s, environments_start);
    else
      s->pages_ok = false;
    req_free(r);
    return;
  }
  if (!req_answered(r, res)) {
    s->pages_ok = false;
    fault_request(s, r, res);
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
    edge_ask(s, e, ep, res->date);
  }

  size_t entries = 0, malformed = 0;
  pt_endpoints_counts(r->js, &entries, &malformed);
  if (malformed > 0) {
    s->pages_malformed += malformed;
    fault_note(s, s->malformed_fault, sizeof(s->malformed_fault), "malformed",
               SOURCE_LOG_WARNING,
               "environment page start=%" PRId64 ": %zu of its %zu entries "
               "have no usable Id or Name and were skipped",
               r->start, malformed, entries);
  }

  /* The first page tells how many there are: ask for the rest at once.
   * Without X-Total-Count, follow full pages one by one, while they bring
   * environments not seen before. */
  int64_t limit = s->conf.page_size;
  if (r->start == 1 && res->total_count > limit) {
    for (int64_t start = 1 + limit;
         start <= res->total_count && s->pages_queued < MAX_PAGES;
         start += limit)
      environments_queue_page(s, start);
  } else if (res->total_count < 0 && (int64_t)entries >= limit &&
             s->pages_queued < MAX_PAGES) {
    if (r->items > 0) {
      environments_queue_page(s, r->start + limit);
    } else {
      s->pages_repeated = true;
      fault_note(s, s->paging_fault, sizeof(s->paging_fault), "repeat",
                 SOURCE_LOG_WARNING,
                 "environment page start=%" PRId64 " (PageSize %" PRId64
                 ") brought no environment not seen on an earlier page, and "
                 "the server sends no X-Total-Count: paging stops there (does "
                 "it ignore start and limit?)",
                 r->start, limit);
    }
  }
  req_free(r);
}

void environments_queue_page(source_t *s, int64_t start) {
  char path[256];
  req_t *r = req_new(s, REQ_PAGE);
  if (r == NULL) {
    s->pages_ok = false;
    return;
  }
  r->start = start;
  r->js = pt_endpoints_parser_new(on_endpoint, r);
  if (r->js == NULL) {
    s->pages_ok = false;
    req_free(r);
    return;
  }
  pt_path_endpoints(path, sizeof(path), start, s->conf.page_size);
  char *url = req_url("%s%s", s->conf.url, path);
  s->pages_queued++;
  if (url == NULL) {
    s->pages_ok = false;
    req_free(r);
  } else if (req_queue(s, r, "GET", url, NULL, NULL, NULL, on_page_done) != 0) {
    s->pages_ok = false;
  }
  free(url);
}

void environments_start(source_t *s) {
  environments_queue_page(s, 1);
}
