/**
 * portainer_api.h: Portainer's own API (environments, authentication).
 */
#ifndef PORTAINER_PORTAINER_API_H
#define PORTAINER_PORTAINER_API_H

#include "json_stream.h"

#include <stdbool.h>
#include <stdint.h>

/* Environment (endpoint) types that speak the Docker API. */
#define PT_ENV_DOCKER       1
#define PT_ENV_AGENT_DOCKER 2
#define PT_ENV_EDGE_DOCKER  4

typedef struct {
  int64_t id;
  char *name; /* never NULL once handed out */
  int type;   /* 0 when absent */
  int status; /* 1 up, 2 down (CE); 0 when absent */
  int64_t group_id;
  int64_t *tag_ids;
  size_t tag_ids_num;
} pt_endpoint_t;

void pt_endpoint_free(pt_endpoint_t *e);
bool pt_endpoint_is_docker(const pt_endpoint_t *e);

/* Builds "/api/endpoints?start=<start>&limit=<limit>&excludeSnapshots=true"
 * (start is 1-based). */
int pt_path_endpoints(char *buf, size_t size, int64_t start, int64_t limit);

/* GET /api/endpoints: one callback per item with an integer Id and a string
 * Name; the callback takes ownership.  Snapshots and every other field are
 * skipped as they stream by. */
typedef void (*pt_endpoint_cb)(void *ud, pt_endpoint_t *e);
json_stream_t *pt_endpoints_parser_new(pt_endpoint_cb cb, void *ud);
/* What the page held so far: every item of its array (entries, whatever
 * they are: a page's fullness counts them all), and the malformed ones
 * among them (not an object, or without an integer Id or a string Name),
 * which were skipped. */
void pt_endpoints_counts(const json_stream_t *js, size_t *entries,
                         size_t *malformed);

/* POST /api/auth body for the given credentials (JSON-escaped), malloc'ed. */
char *pt_auth_body(const char *username, const char *password);
/* Extracts "jwt" from the /api/auth response; malloc'ed or NULL. */
char *pt_auth_parse_jwt(const char *body, size_t len);

#endif
