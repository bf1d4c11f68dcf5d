/**
 * source_internal.h: what the files of one poll share (not a public header).
 *
 * A poll is split by step, one file each:
 *
 *   source.c        the poll itself: start, run the http loop, close
 *   login.c         Portainer: POST /api/auth for a JWT
 *   environments.c  Portainer: the environment pages
 *   edge.c          Portainer: which environments are asked (Edge agents)
 *   snapshots.c     Portainer: async Edge agents, from Portainer's snapshot
 *   lists.c         per Docker host: the container list
 *   events.c        per Docker host: the daemon's events since the last poll
 *   nodes.c         Swarm agents: did every node answer the list?
 *   inspects.c      per Docker host: commit the list, inspect what changed
 *   request.c       one request's context, URL and headers
 *   fault.c         counting, describing and logging failures, once each
 *
 * Ownership: the source owns its configuration, http client, inventory and
 * statistics; a req_t belongs to its http request and is freed by the
 * request's completion callback, whatever the outcome.
 */
#ifndef PORTAINER_SOURCE_INTERNAL_H
#define PORTAINER_SOURCE_INTERNAL_H

#include "http.h"
#include "inventory.h"
#include "json_stream.h"
#include "portainer_api.h"
#include "secret.h"
#include "source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_PAGES 10000 /* bounded page loop: 10000 pages of environments */

/* A container waiting for its inspect (inspects.c). */
typedef struct {
  inv_env_t *env;
  container_t *c;
} pending_inspect_t;

/* One host's inspects of this poll: s->inspects[next..end). */
typedef struct {
  inv_env_t *env;
  size_t next, end;
} inspect_host_t;

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

  /* Paging (environments.c): the environment ids this poll's pages brought
   * (an open-addressing set: a page without X-Total-Count that brings no
   * new one ends paging), and what the pages said that deserves a line
   * once per fault (slots as in fault.c). */
  int64_t *seen_ids;
  bool *seen_used;
  size_t seen_num, seen_cap;
  size_t pages_malformed; /* entries skipped this poll */
  bool pages_repeated;    /* paging stopped on a page with nothing new */
  char paging_fault[64], malformed_fault[64];

  /* Inspects wait here and are handed to the http client when it asks
   * for work (http_client_set_feed), one host after another, so that a
   * cold poll of 50k containers does not hold 50k parsers and requests at
   * once and no host's inspects take every slot. */
  pending_inspect_t *inspects;
  size_t inspects_num, inspects_cap;
  inspect_host_t *ihosts; /* hosts with inspects left, in turn */
  size_t ihosts_num, ihosts_cap, ihosts_turn;
};

typedef enum {
  REQ_AUTH,
  REQ_PAGE,
  REQ_LIST,
  REQ_EVENTS,
  REQ_INSPECT,
  REQ_SNAPSHOT, /* GET /api/endpoints/{id}: an async Edge agent's snapshot */
  REQ_NODES     /* GET .../docker/nodes: a Swarm's node list */
} req_kind_t;

/* The context of one request of a poll. */
typedef struct {
  source_t *s;
  req_kind_t kind;
  inv_env_t *env; /* REQ_LIST, REQ_EVENTS, REQ_INSPECT */
  container_t *c; /* REQ_INSPECT */
  bool targeted;  /* REQ_INSPECT: sent to one Swarm node by name */
  json_stream_t *js;
  int64_t start;       /* REQ_PAGE: 1-based offset */
  size_t items;        /* REQ_PAGE: ids not seen before; REQ_EVENTS: events */
  pt_endpoint_t **eps; /* REQ_PAGE: kept environments, listed when done */
  size_t eps_num, eps_cap;
  char *buf; /* REQ_AUTH: response body */
  size_t buf_len;
  void (*then)(source_t *s); /* REQ_AUTH: what waits for the JWT */
  bool nomem; /* something of the answer was lost to an allocation failure:
                 the request counts as failed ("other: out of memory") */
  pt_snapshot_t snap; /* REQ_SNAPSHOT: what the document said */
} req_t;

/* --- request.c ------------------------------------------------------------ */

/* A zeroed context of this kind; NULL when out of memory. */
req_t *req_new(source_t *s, req_kind_t kind);
void req_free(req_t *r);
/* Queues r with the source's credentials and extra_header (may be NULL).
 * The body of a request with a parser (r->js) goes to it.  On failure r is
 * freed and http_request()'s code returned (HTTP_REFUSED: the run is
 * ending; -1: out of memory). */
int req_queue(source_t *s, req_t *r, const char *method, const char *url,
              const char *extra_header, const char *body, http_body_cb on_body,
              http_done_cb done);
/* A 200 whose document parsed to the end, nothing of it lost (nomem). */
bool req_answered(req_t *r, const http_result_t *res);
/* A request URL, formatted on the heap without a length limit (a base URL
 * is as long as the configuration makes it); NULL when out of memory. */
__attribute__((format(printf, 1, 2))) char *req_url(const char *fmt, ...);
/* The URL of a Docker API path on an environment's Docker host (req_url). */
char *req_docker_url(const source_t *s, const inv_env_t *e, const char *path);
/* "X-PortainerAgent-Target: <node>" into buf, sending a request to one node
 * of a Swarm agent environment; NULL when there is no usable node name. */
const char *req_target_header(const char *node, char *buf, size_t size);
/* The credentials header for the source's current token or JWT. */
void source_set_auth_header(source_t *s);

/* --- fault.c -------------------------------------------------------------- */

/* collectd's log lines hold 1023 bytes. */
#define SOURCE_LOG_LINE_MAX 1024

/* Logs through the source's callback: the literal text of fmt as is, each
 * conversion scrubbed of the source's secrets (secret.h), control characters
 * removed. */
__attribute__((format(printf, 3, 4))) void slog(source_t *s, int level,
                                                const char *fmt, ...);
/* A line that will hide this source's secrets (token, password, JWT). */
void source_logline(const source_t *s, logline_t *l);
/* Logs a built line, then frees it. */
void slog_line(source_t *s, int level, logline_t *l);
/* Counts a failed request and logs it once per fault. */
void fault_request(source_t *s, req_t *r, const http_result_t *res);
/* A request of this kind could not be made or kept for want of memory:
 * counted and logged like a failed one ("other: out of memory"); an
 * inspect's (c set) marks e's inspects failed. */
void fault_nomem(source_t *s, req_kind_t kind, inv_env_t *e, container_t *c);
/* Logs "<what e is>: msg" (msg: the plugin's own words) when signature
 * differs from what slot last logged. */
void fault_log(source_t *s, char *slot, size_t slot_size, const char *signature,
               const inv_env_t *e, const char *msg);
/* Logs "source "X": <fmt...>" at level when signature differs from what
 * slot last logged. */
__attribute__((format(printf, 6, 7))) void
fault_note(source_t *s, char *slot, size_t slot_size, const char *signature,
           int level, const char *fmt, ...);
/* The source's own fault ended ("source "X": the API is answering again"). */
void fault_source_recovered(source_t *s);
/* One of an environment's fault slots ended. */
void fault_env_recovered(source_t *s, const inv_env_t *e, char *slot,
                         const char *which);
/* What keeps e at up 0 (an Edge agent offline, a stale snapshot...): msg
 * (data: it holds what the server said) is logged at warning level once,
 * when slot changes to signature sig; sig "" ends it, msg then logged at
 * info level if the slot was set. */
void fault_env_state(source_t *s, const inv_env_t *e, char *slot,
                     size_t slot_size, const char *sig, const char *msg);
/* "2026-11-22 10:15:03 UTC" into buf (at least 32 bytes), "unknown" for
 * t <= 0. */
void fault_utc(int64_t t, char *buf, size_t size);
/* Adds "source "X"", or with e, "source "X": environment "Y" (id N)" or
 * "source "X": Docker host "Y"". */
void fault_what(const source_t *s, const inv_env_t *e, logline_t *l);

/* --- login.c, environments.c -----------------------------------------------
 */

/* Logs in; then() queues what waited for the JWT. */
void login_queue(source_t *s, void (*then)(source_t *s));
void environments_queue_page(source_t *s, int64_t start);
/* The first page of environments (what a poll starts with). */
void environments_start(source_t *s);
/* Around a poll: forget the ids seen; then, notes of faults that did not
 * happen again are cleared (the next occurrence is logged). */
void environments_poll_begin(source_t *s);
void environments_poll_end(source_t *s);

/* --- edge.c, snapshots.c ---------------------------------------------------
 */

/* Environment e is in the list as item ep, on a page answered at date (its
 * Date header): asks for its containers (lists.c), for Portainer's snapshot
 * of it (an async Edge agent), or, an Edge agent that is offline, nothing:
 * up 0, logged once. */
void edge_ask(source_t *s, inv_env_t *e, const pt_endpoint_t *ep, int64_t date);
/* An async Edge agent: GET /api/endpoints/{id}, its containers from the
 * snapshot when fresh (ep tells how fresh it must be). */
void snapshots_queue(source_t *s, inv_env_t *e, const pt_endpoint_t *ep);

/* --- lists.c, events.c, inspects.c -----------------------------------------
 */

void lists_queue(source_t *s, inv_env_t *e);
/* Begins e's list and queues r for it: a REQ_LIST or REQ_SNAPSHOT whose
 * parser r->js was just made (r or r->js NULL: out of memory; url NULL: no
 * URL).  On any failure the list is aborted: e reads up 0 this poll. */
void lists_start(source_t *s, inv_env_t *e, req_t *r, const char *url,
                 http_done_cb done);
/* The label whose value fills type_instance (TypeInstance "label:KEY"), or
 * NULL. */
const char *lists_label_key(const source_t *s);
/* A container of e's list (r: the REQ_LIST or REQ_SNAPSHOT request): kept
 * when ContainerInclude/Exclude keep it. */
void lists_add_container(void *r, container_t *c);
/* Asks each Docker host behind e what happened since the last poll; false
 * when no events request could be queued. */
bool events_queue_all(source_t *s, inv_env_t *e);
/* Swarm agent environments: checks that every node known to run an agent is
 * in the list just in (asking GET /nodes when one is not); sets
 * e->nodes_missing.  When a request is queued, e->nodes_pending counts it
 * and its answer calls inspects_host_ready() once the events are in too. */
void nodes_check(source_t *s, inv_env_t *e);
/* The list (and its events and node check, if any) of e are in: commit,
 * then inspect what needs it.  Returns at once while the node check is
 * pending. */
void inspects_host_ready(source_t *s, inv_env_t *e);
/* The http client's feed (http_client_set_feed): hands it the next inspects.
 */
void inspects_feed(void *source);

#endif
