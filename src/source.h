/**
 * source.h: one poll of one source (a Portainer server or a Docker daemon).
 *
 * A poll sends every request through the source's http client in one loop:
 * the environment pages (Portainer), then per environment its container list
 * and, once that is in, an inspect for each container that needs one.  The
 * result lands in the source's inventory and statistics, which emit.c turns
 * into value lists.  Faults are reported through the log callback once when
 * they start and once when they end, never once per container or per poll.
 */
#ifndef PORTAINER_SOURCE_H
#define PORTAINER_SOURCE_H

#include "http.h"
#include "inventory.h"
#include "source_conf.h"

#include <stdbool.h>
#include <stdint.h>

/* Severities, numerically equal to syslog's (and collectd's) levels. */
enum {
  SOURCE_LOG_ERR = 3,
  SOURCE_LOG_WARNING = 4,
  SOURCE_LOG_NOTICE = 5,
  SOURCE_LOG_INFO = 6,
  SOURCE_LOG_DEBUG = 7
};
typedef void (*source_log_fn)(void *ud, int level, const char *msg);

/* API error kinds counted by the source (collectd_portainer_api_errors_total
 * with type=<kind>). */
typedef enum {
  ERR_CONNECT = 0,
  ERR_RESOLVE,
  ERR_TIMEOUT,
  ERR_TLS,
  ERR_TOO_LARGE,
  ERR_PARSE,
  ERR_AUTH,      /* 401, 403, 422 from the API */
  ERR_NOT_FOUND, /* 404 on a list or page (not on an inspect) */
  ERR_HTTP_4XX,  /* other 4xx */
  ERR_HTTP_5XX,
  ERR_OTHER,
  ERR_KINDS_NUM
} source_err_kind_t;
const char *source_err_kind_name(source_err_kind_t k);

typedef struct {
  bool up;              /* the API answered this poll */
  int64_t last_success; /* unix seconds of the last poll with up, or 0 */
  double poll_seconds;  /* wall time of the last poll */
  uint64_t requests;    /* requests sent, since start */
  uint64_t errors[ERR_KINDS_NUM]; /* since start */
  uint64_t inspects;              /* inspects sent, since start */
} source_stats_t;

typedef struct source_s source_t;

/* Takes ownership of *conf's members (conf is zeroed).  default_host is the
 * host of a Docker source without Host (collectd's hostname). */
source_t *source_new(source_conf_t *conf, const char *default_host,
                     source_log_fn log, void *log_ud);
void source_free(source_t *s);

/* What source_poll() returns. */
enum {
  SOURCE_POLL_UP = 0,         /* the API answered (stats.up) */
  SOURCE_POLL_DOWN = -1,      /* it did not (stats.up is false) */
  SOURCE_POLL_CANCELLED = -2, /* source_cancel(): the poll was dropped whole;
                                 stats and inventory say nothing of it */
};
/* One poll: SOURCE_POLL_UP, SOURCE_POLL_DOWN or SOURCE_POLL_CANCELLED. */
int source_poll(source_t *s);

/* The warning emit.c logs when another source, configured first (owner),
 * writes the identity of container (its plugin instance) on e's host: one
 * line naming both sources and the environment, scrubbed like every log
 * line (fault.c), into buf. */
void fault_shared_identity(const source_t *s, const inv_env_t *e,
                           const char *container, const char *owner, char *buf,
                           size_t size);

/* Ends a poll in flight at once and every later one before it starts (for
 * collectd's shutdown).  Callable from any thread while s is not being
 * freed. */
void source_cancel(source_t *s);

const source_conf_t *source_conf(const source_t *s);
const inventory_t *source_inventory(const source_t *s);
/* The same, for the notification pass (notify.c), which records in it what
 * it told. */
inventory_t *source_inventory_notify(source_t *s);
const source_stats_t *source_stats(const source_t *s);

#endif
