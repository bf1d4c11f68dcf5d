/**
 * portainer_api.h: Portainer's own API (environments, authentication).
 */
#ifndef PORTAINER_PORTAINER_API_H
#define PORTAINER_PORTAINER_API_H

#include "docker_api.h"
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

  /* Edge agents (type 4), as Portainer reports them.  Absent or mistyped
   * fields keep these values. */
  bool has_edge_id;         /* a non-empty EdgeID: an agent is associated */
  int heartbeat;            /* Heartbeat: 1 true, 0 false, -1 absent */
  int64_t last_check_in;    /* LastCheckInDate, unix s; -1 absent */
  int64_t query_date;       /* QueryDate (Portainer's clock), 0 absent */
  int64_t checkin_interval; /* EdgeCheckinInterval, s; 0 absent */
  bool async;               /* Edge.AsyncMode */
  int64_t ping_interval, snapshot_interval, command_interval; /* Edge.*, s */
} pt_endpoint_t;

void pt_endpoint_free(pt_endpoint_t *e);
bool pt_endpoint_is_docker(const pt_endpoint_t *e);

/* ---- Edge agents ---------------------------------------------------------
 * Portainer's own rule (its list handler, endpointutils): an Edge agent is
 * online while now - LastCheckInDate <= 2 x its check-in interval + 20 s,
 * "now" on Portainer's clock.  A proxied request to an agent without tunnel
 * blocks up to 2 x the check-in interval and then fails, so the plugin only
 * asks Edge environments that are online. */

#define PT_EDGE_CHECKIN_DEFAULT 5  /* s, Portainer's global default */
#define PT_EDGE_ASYNC_INTERVAL  60 /* s, the async defaults and their cap */
#define PT_EDGE_ONLINE_SLACK    20 /* s */

typedef enum {
  PT_EDGE_NONE = 0, /* not an Edge environment */
  PT_EDGE_ONLINE,   /* checking in */
  PT_EDGE_OFFLINE,  /* Heartbeat false, or its last check-in too old */
  PT_EDGE_NO_AGENT, /* no agent associated (no EdgeID): nothing to ask */
} pt_edge_state_t;

/* Portainer's clock for an item of a list answered at date (the response's
 * Date header, unix s; 0 unknown): QueryDate when set, else date. */
int64_t pt_edge_now(const pt_endpoint_t *e, int64_t date);
/* The check-in interval Portainer's rule uses: EdgeCheckinInterval (or the
 * global default 5 s); for async agents the smallest positive of the Edge
 * ping, command and snapshot intervals, at most 60 s. */
int64_t pt_edge_checkin_interval(const pt_endpoint_t *e);
/* What the list says of an Edge environment (see pt_edge_state_t).  Heartbeat
 * false, or a last check-in (0: never) past the rule on Portainer's clock,
 * is offline; an absent field decides nothing. */
pt_edge_state_t pt_edge_state(const pt_endpoint_t *e, int64_t date);
/* An async agent sends a snapshot every Edge.SnapshotInterval (0: the
 * default, 60 s).  The plugin takes its snapshot for fresh while no older
 * than 2 x that + 20 s (the shape of the online rule): older, the agent
 * stopped sending them. */
int64_t pt_edge_snapshot_max_age(const pt_endpoint_t *e);

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

/* Builds "/api/endpoints/<id>" (with the snapshot: no excludeSnapshot). */
int pt_path_endpoint(char *buf, size_t size, int64_t id);

/* GET /api/endpoints/{id}: Snapshots[0].Time, and every container of
 * Snapshots[0].DockerSnapshotRaw.Containers handed to cb as the Docker list
 * parser does (docker_list_parser_new, same label_key); nothing else of the
 * document (megabytes of images, volumes, networks) is kept.  out must
 * outlive the parser. */
typedef struct {
  bool present;    /* Snapshots[0] is an object */
  int64_t time;    /* its Time, unix s (the agent's snapshot); 0 absent */
  bool containers; /* its DockerSnapshotRaw.Containers is an array */
} pt_snapshot_t;
json_stream_t *pt_snapshot_parser_new(const char *label_key,
                                      docker_container_cb cb, void *ud,
                                      pt_snapshot_t *out);

/* POST /api/auth body for the given credentials (JSON-escaped), malloc'ed. */
char *pt_auth_body(const char *username, const char *password);
/* Extracts "jwt" from the /api/auth response; malloc'ed or NULL. */
char *pt_auth_parse_jwt(const char *body, size_t len);

#endif
