/**
 * mini_server.h: a tiny HTTP/1.1 server for tests (never part of the plugin).
 *
 * It listens on 127.0.0.1 with an ephemeral port (and optionally on a unix
 * socket), one thread per connection, keep-alive capable, and answers from a
 * route table the test sets (and may change at any time).  Every request is
 * recorded (method, path, raw headers, body) so a test can assert what was
 * sent; accepted connections and the peak number of requests being answered
 * at once are counted.  Every wait is poll()-based with short slices and a
 * bound, so ms_stop() always returns promptly.
 */
#ifndef MINI_SERVER_H
#define MINI_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  const char *method;  /* "GET", "POST"; NULL: any method */
  const char *path;    /* request target, query string included */
  bool prefix;         /* path is a prefix rather than an exact match */
  int status;          /* 0: 200 */
  const char *headers; /* extra lines, each "Name: value\r\n"; NULL: none */
  const char *body;    /* NULL: empty */
  size_t body_len;     /* 0: strlen(body) */
  int delay_ms;        /* wait before answering */
  size_t drip_bytes;   /* > 0: send the body this many bytes at a time */
  int drip_pause_ms;   /* pause between two pieces */
  bool chunked;        /* Transfer-Encoding: chunked, no Content-Length */
  bool endless;        /* after body, send filler until the client goes away
                          (at most MS_ENDLESS_MAX_MS); implies chunked */
  const char *filler;  /* endless filler; NULL: spaces */
  bool close_without_answer; /* read the request, close the connection */
  size_t send_only;          /* > 0: announce the whole body but send only
                                this many bytes of it, then close */
} ms_route_t;

#define MS_ENDLESS_MAX_MS 10000

/* Request targets up to this long (long base URLs are tested). */
#define MS_PATH_MAX 8192

/* One recorded request; immutable once recorded. */
typedef struct {
  char method[16];
  char path[MS_PATH_MAX]; /* longer targets are answered 400 */
  char headers[8192]; /* the raw header lines, "\r\n" separated */
  char body[8192];    /* NUL-terminated, truncated if longer */
  size_t body_len;    /* the length received (may exceed sizeof(body)) */
} ms_request_t;

typedef struct mini_server_s mini_server_t;

/* Starts the server (and a unix socket listener when unix_path is not NULL;
 * an existing file there is removed).  NULL on failure. */
mini_server_t *ms_start(const char *unix_path);
/* Stops every thread, closes every socket, removes the unix socket. */
void ms_stop(mini_server_t *ms);

int ms_port(const mini_server_t *ms);
/* "http://127.0.0.1:PORT" (no trailing slash). */
const char *ms_url(const mini_server_t *ms);

/* Replaces the route table (deep copy).  A request matching no route gets
 * 404 {"message":"not found"}.  The first matching route wins.  0 or -1. */
int ms_set_routes(mini_server_t *ms, const ms_route_t *routes, size_t n);
/* Appends one route to the table.  0 or -1. */
int ms_add_route(mini_server_t *ms, const ms_route_t *route);

/* Requests recorded so far (at most MS_MAX_RECORDS are kept). */
#define MS_MAX_RECORDS 4096
size_t ms_request_count(mini_server_t *ms);
/* Request i (0-based, arrival order), NULL if none; valid until
 * ms_clear_requests() or ms_stop(). */
const ms_request_t *ms_request(mini_server_t *ms, size_t i);
/* Number of recorded requests with this method (NULL: any) and exact path. */
size_t ms_count_path(mini_server_t *ms, const char *method, const char *path);
void ms_clear_requests(mini_server_t *ms);

/* Copies the value of header name (case-insensitive, blanks trimmed) into
 * out; false when the request has no such header. */
bool ms_header(const ms_request_t *req, const char *name, char *out,
               size_t outsz);

/* Connections accepted, and the most requests answered at the same time. */
unsigned ms_connections(mini_server_t *ms);
unsigned ms_max_concurrent(mini_server_t *ms);
/* Waits (at most timeout_ms) until no request is being answered; true if
 * none is. */
bool ms_wait_idle(mini_server_t *ms, int timeout_ms);
/* Zeroes both counters (the peak restarts from the requests in progress). */
void ms_reset_stats(mini_server_t *ms);

#endif
