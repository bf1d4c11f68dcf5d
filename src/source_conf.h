/**
 * source_conf.h: one <Portainer> or <Docker> block, as plain C.
 *
 * config.c fills it from collectd's configuration tree; source.c polls with
 * it.  Secrets (token, password) live here and are never formatted into a
 * message.
 */
#ifndef PORTAINER_SOURCE_CONF_H
#define PORTAINER_SOURCE_CONF_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SOURCE_PORTAINER, SOURCE_DOCKER } source_kind_t;

typedef enum {
  TYPE_INSTANCE_IMAGE = 0,
  TYPE_INSTANCE_LABEL,
  TYPE_INSTANCE_NONE,
} type_instance_mode_t;

/* Signals chosen with Collect; all by default. */
enum {
  COLLECT_STATE = 1 << 0,
  COLLECT_HEALTH = 1 << 1,
  COLLECT_RESTART_COUNT = 1 << 2,
  COLLECT_EXIT_CODE = 1 << 3,
  COLLECT_OOM_KILLED = 1 << 4,
  COLLECT_UPTIME = 1 << 5,
  COLLECT_FAILING_STREAK = 1 << 6,
  COLLECT_ALL = (1 << 7) - 1,
};

/* Transitions sent as collectd notifications, chosen with Notify; none by
 * default. */
enum {
  NOTIFY_EXIT = 1 << 0,    /* a container exited (or died) */
  NOTIFY_OOM = 1 << 1,     /* ... killed by the kernel's OOM killer */
  NOTIFY_RESTART = 1 << 2, /* restarted by its restart policy */
  NOTIFY_HEALTH = 1 << 3,  /* turned unhealthy, or healthy again */
  NOTIFY_DOWN = 1 << 4,    /* an environment or the source down, and back */
  NOTIFY_ALL = (1 << 5) - 1,
};

#define SOURCE_DEFAULT_TIMEOUT_MS         5000
#define SOURCE_DEFAULT_MAX_RESPONSE       (64 * 1024 * 1024)
#define SOURCE_DEFAULT_MAX_IN_FLIGHT      16
#define SOURCE_DEFAULT_PAGE_SIZE          100
#define SOURCE_DEFAULT_FULL_INSPECT_EVERY 10
#define SOURCE_HOST_PREFIX_MAX            64 /* bytes */

typedef struct {
  bool set;
  regex_t re;
} source_regex_t;

typedef struct {
  char *name; /* the block's argument: plugin_instance of self metrics */
  source_kind_t kind;

  /* Where: a URL (Portainer, or a Docker daemon over TCP), or a socket. */
  char *url;    /* without trailing '/' */
  char *socket; /* Docker only */
  char *host;   /* Docker only: host field of its values (NULL: collectd's) */
  /* Put before the host field of its container and environment values, to
   * keep sources apart whose hosts share names (NULL: nothing). */
  char *host_prefix;

  /* Credentials (Portainer): token, or username + password. */
  char *token;
  char *username;
  char *password;

  /* TLS */
  bool verify_peer;
  bool verify_host;
  char *ca_cert;
  char *client_cert;
  char *client_key;

  /* Proxy: NULL when not set (libcurl follows http_proxy, https_proxy,
   * ALL_PROXY and no_proxy from collectd's environment), "" for none, else
   * the proxy's URL.  It may hold credentials: a secret. */
  char *proxy;

  long timeout_ms;          /* per request */
  double interval;          /* seconds, 0: collectd's global interval */
  size_t max_response_size; /* bytes, per response */
  int max_in_flight;        /* concurrent transfers */
  int page_size;            /* environments per page */
  int full_inspect_every;   /* re-inspect every container every N polls */

  source_regex_t env_include, env_exclude; /* on environment names */
  source_regex_t ct_include, ct_exclude;   /* on container names */

  /* Sharding of environments: this instance keeps ids with
   * id % shard_count == shard_index - 1 (1-based, "2/4"). */
  int shard_index;
  int shard_count;

  /* Environment groups and tags to keep, by id (none: every one). */
  int64_t *group_ids;
  size_t group_ids_num;
  int64_t *tag_ids;
  size_t tag_ids_num;

  type_instance_mode_t ti_mode;
  char *ti_label;   /* TYPE_INSTANCE_LABEL: the label key */
  unsigned collect; /* COLLECT_* bits */
  unsigned notify;  /* NOTIFY_* bits */
} source_conf_t;

void source_conf_init(source_conf_t *c); /* defaults */
void source_conf_free(source_conf_t *c); /* members only */

/* A name passes an Include/Exclude pair: it matches inc (when set) and not
 * exc (when set). */
bool source_conf_keeps(const source_regex_t *inc, const source_regex_t *exc,
                       const char *name);

#endif
