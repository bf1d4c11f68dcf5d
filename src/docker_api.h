/**
 * docker_api.h: Docker Engine API documents (also served by Podman's
 * compatible API and by Portainer's Docker proxy).
 *
 * Paths are relative to the engine root: the caller prefixes them with
 * "http://localhost" for a socket, the daemon's URL, or
 * "<portainer>/api/endpoints/<id>/docker".
 */
#ifndef PORTAINER_DOCKER_API_H
#define PORTAINER_DOCKER_API_H

#include "container.h"
#include "json_stream.h"

#include <stdint.h>

#define DOCKER_PATH_LIST "/containers/json?all=1"
/* Builds "/containers/<id>/json" into buf; -1 if the id is not [0-9a-zA-Z_.-]+
 */
int docker_path_inspect(char *buf, size_t size, const char *id);
/* Builds "/events?since=..&until=..&filters={"type":["container"]}"
 * (URL-encoded) */
int docker_path_events(char *buf, size_t size, int64_t since, int64_t until);

/* GET /containers/json: one callback per well-formed item (an item without a
 * string Id is skipped).  The callback takes ownership of c.  label_key, when
 * not NULL, names the label whose value goes to c->label. */
typedef void (*docker_container_cb)(void *ud, container_t *c);
json_stream_t *docker_list_parser_new(const char *label_key,
                                      docker_container_cb cb, void *ud);

/* GET /containers/{id}/json: fills the inspect fields of c (and sets
 * c->inspected on success, at json_stream_finish). c must outlive the
 * parser.  Fields of the wrong type are ignored. */
json_stream_t *docker_inspect_parser_new(container_t *c);

/* GET /events (a stream of JSON objects, one after another): one callback per
 * container event, with its id (Actor.ID, else id), Action (e.g. "die",
 * "start", "health_status: healthy") and timeNano (or time * 1e9). */
typedef struct {
  const char *id;
  const char *action;
  int64_t time_nano;
} docker_event_t;
typedef void (*docker_event_cb)(void *ud, const docker_event_t *ev);
json_stream_t *docker_events_parser_new(docker_event_cb cb, void *ud);

/* Error bodies: {"message":"..."} (Docker), {"message":..,"details":..}
 * (Portainer) or {"err":"..."} (old libhttp).  The API's own words, as
 * sent: message ("message", else "err") and details (when they say more);
 * each malloc'ed or NULL.  A *_cut flag says the string was cut to
 * JSON_MAX_STRING.  Nothing is cleaned: log lines go through secret.h's
 * builder, which scrubs secrets first. */
typedef struct {
  char *message, *details;
  bool message_cut, details_cut;
} api_error_t;
void api_error_parse(const char *body, size_t len, api_error_t *out);
/* Wipes (the server may echo a secret) and frees both strings. */
void api_error_free(api_error_t *e);

#endif
