/**
 * collectd - portainer plugin
 *
 * Container state, health, restart count and exit codes of every Docker host
 * reached through Portainer, or straight from a Docker or Podman socket.
 *
 * This file is the collectd glue only: it reads <Plugin portainer>, creates
 * one source per <Portainer>/<Docker> block and registers one read callback
 * per source.  The flow of a poll is
 *   config.c -> source.c -> http.c -> docker_api.c / portainer_api.c
 *            -> inventory.c -> emit.c (values), notify.c (notifications)
 */
#include "collectd.h"

#include "plugin.h"
#include "utils/common/common.h"

#include "config.h"
#include "emit.h"
#include "http.h"
#include "registry.h"
#include "notify.h"
#include "source.h"

#include <pthread.h>
#include <stdatomic.h>

#define LOG_PREFIX "portainer plugin: "

typedef struct instance_s instance_t;
struct instance_s {
  source_t *src;
  cdtime_t interval;
  char *name;
  int writer;       /* this source in the registry */
  instance_t *next; /* in `running` */
};

/* Shutdown.  collectd 5.12's plugin_shutdown_all() joins the read threads
 * (stop_read_threads(), which logs "collectd: Stopping N read threads.")
 * BEFORE it calls any shutdown callback, and main() logs "Exiting
 * normally." just before that: a shutdown callback alone could not end a
 * poll in flight, and stopping collectd would wait for it (up to 90 % of
 * the interval).  So a log callback watches for those two lines, written by
 * the main thread right before the join, and cancels every source's poll;
 * the shutdown callback does the same once more, in case.  `running` lists
 * the started sources (guarded by running_lock, never held while logging);
 * an instance leaves it before it is freed. */
static atomic_bool shutting_down;
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static instance_t *running;

/* Which source writes which container identity: sources configured first
 * win (registry.h).  Created by the init callback, freed at shutdown, after
 * the read threads stopped. */
static registry_t *registry;

/* Blocks read by the config callback, started by the init callback (when
 * collectd's hostname is known). */
static source_conf_t *pending;
static size_t pending_num;
static bool configured;

static void log_cb(void *ud, int level, const char *msg) {
  (void)ud;
  plugin_log(level, LOG_PREFIX "%s", msg);
}

static void running_add(instance_t *inst) {
  pthread_mutex_lock(&running_lock);
  inst->next = running;
  running = inst;
  if (atomic_load(&shutting_down))
    source_cancel(inst->src);
  pthread_mutex_unlock(&running_lock);
}

static void running_remove(instance_t *inst) {
  pthread_mutex_lock(&running_lock);
  for (instance_t **p = &running; *p != NULL; p = &(*p)->next) {
    if (*p == inst) {
      *p = inst->next;
      break;
    }
  }
  pthread_mutex_unlock(&running_lock);
}

/* Cancels every source's poll, now and for good.  Any thread. */
static void cancel_all(void) {
  atomic_store(&shutting_down, true);
  pthread_mutex_lock(&running_lock);
  for (instance_t *i = running; i != NULL; i = i->next)
    source_cancel(i->src);
  pthread_mutex_unlock(&running_lock);
}

/* "collectd: Stopping 5 read threads." exactly (stop_read_threads()). */
static bool is_stopping_line(const char *msg) {
  static const char head[] = "collectd: Stopping ";
  static const char tail[] = " read threads.";
  if (strncmp(msg, head, sizeof(head) - 1) != 0)
    return false;
  const char *p = msg + sizeof(head) - 1;
  if (*p < '0' || *p > '9')
    return false;
  while (*p >= '0' && *p <= '9')
    p++;
  return strcmp(p, tail) == 0;
}

/* Every log line of the daemon passes here, from any thread: cheap, and
 * never logs itself. */
static void portainer_log(int severity, const char *msg, user_data_t *ud) {
  (void)ud;
  if (severity != LOG_INFO || msg == NULL || atomic_load(&shutting_down))
    return;
  if (strcmp(msg, "Exiting normally.") == 0 || is_stopping_line(msg))
    cancel_all();
}

static void instance_free(void *p) {
  instance_t *inst = p;
  if (inst == NULL)
    return;
  running_remove(inst); /* no cancel can reach it any more */
  source_free(inst->src);
  sfree(inst->name);
  sfree(inst);
}

static int portainer_read(user_data_t *ud) {
  instance_t *inst = ud->data;
  if (source_poll(inst->src) == SOURCE_POLL_CANCELLED) {
    /* collectd is stopping: nothing of this poll is dispatched, so no
     * series gets half a poll (some hosts fresh, others missing). */
    INFO(LOG_PREFIX "source \"%s\": poll cancelled, collectd is shutting "
                    "down; nothing of it is dispatched",
         inst->name);
    return 0;
  }
  emit_source_shared(inst->src, hostname_g, inst->interval, registry,
                     inst->writer);
  notify_source(inst->src, hostname_g);
  /* Always 0: a failing source reports up = 0 on schedule rather than being
   * backed off by collectd, so that recovery shows in the next poll. */
  return 0;
}

static int add_pending(source_conf_t *c) {
  for (size_t i = 0; i < pending_num; i++) {
    if (strcmp(pending[i].name, c->name) == 0) {
      ERROR(LOG_PREFIX "source \"%s\" is defined twice; the second one is "
                       "ignored",
            c->name);
      return -1;
    }
  }
  source_conf_t *n = realloc(pending, (pending_num + 1) * sizeof(*n));
  if (n == NULL)
    return -1;
  pending = n;
  pending[pending_num++] = *c;
  memset(c, 0, sizeof(*c));
  return 0;
}

static int portainer_config(oconfig_item_t *ci) {
  configured = true;
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *child = ci->children + i;
    source_conf_t conf;
    if (strcasecmp("Portainer", child->key) == 0 ||
        strcasecmp("Docker", child->key) == 0) {
      if (config_parse_source(child, &conf) != 0)
        continue; /* logged; the other sources still start */
      if (add_pending(&conf) != 0)
        source_conf_free(&conf);
    } else {
      ERROR(LOG_PREFIX "unknown option \"%s\" (expected <Portainer> or "
                       "<Docker> blocks)",
            child->key);
    }
  }
  return 0;
}

static int start_source(source_conf_t *conf) {
  char group[DATA_MAX_NAME_LEN + 16];
  instance_t *inst = calloc(1, sizeof(*inst));
  if (inst == NULL)
    return -1;
  inst->interval = conf->interval > 0 ? DOUBLE_TO_CDTIME_T(conf->interval)
                                      : plugin_get_interval();
  conf->interval = CDTIME_T_TO_DOUBLE(inst->interval);
  inst->name = strdup(conf->name);
  inst->src = source_new(conf, hostname_g, log_cb, NULL);
  if (inst->name == NULL || inst->src == NULL) {
    ERROR(LOG_PREFIX "source \"%s\": out of memory",
          inst->name ? inst->name : "?");
    source_conf_free(conf);
    instance_free(inst);
    return -1;
  }
  inst->writer = registry_writer(registry, inst->name);
  snprintf(group, sizeof(group), "portainer-%s", inst->name);
  running_add(inst);
  int status = plugin_register_complex_read(
      "portainer", group, portainer_read, inst->interval,
      &(user_data_t){.data = inst, .free_func = instance_free});
  if (status != 0) {
    ERROR(LOG_PREFIX "source \"%s\": registering the read callback failed",
          inst->name);
    instance_free(inst); /* not freed by collectd when registering fails */
    return -1;
  }
  return 0;
}

static int portainer_init(void) {
  if (http_global_init() != 0) {
    ERROR(LOG_PREFIX "initializing libcurl failed");
    return -1;
  }
  /* "LoadPlugin portainer" alone watches the local Docker socket. */
  if (!configured && pending_num == 0) {
    source_conf_t conf;
    source_conf_init(&conf);
    conf.kind = SOURCE_DOCKER;
    conf.name = strdup("local");
    conf.socket = strdup("/var/run/docker.sock");
    if (conf.name == NULL || conf.socket == NULL || add_pending(&conf) != 0) {
      source_conf_free(&conf);
      return -1;
    }
    INFO(LOG_PREFIX "no <Plugin portainer> block: watching the local Docker "
                    "socket /var/run/docker.sock as source \"local\"");
  }
  if (registry == NULL && (registry = registry_new()) == NULL) {
    ERROR(LOG_PREFIX "out of memory");
    return -1;
  }
  size_t started = 0;
  for (size_t i = 0; i < pending_num; i++)
    if (start_source(&pending[i]) == 0)
      started++;
  sfree(pending);
  pending_num = 0;
  if (started == 0) {
    ERROR(LOG_PREFIX "no source could be started");
    return -1;
  }
  return 0;
}

static int portainer_shutdown(void) {
  /* collectd has joined its read threads by now (see above) and freed the
   * sources; this is the last word, should a source still be listed. */
  cancel_all();
  for (size_t i = 0; i < pending_num; i++)
    source_conf_free(&pending[i]);
  sfree(pending);
  pending_num = 0;
  /* The read threads have stopped: no read callback uses it any more. */
  registry_free(registry);
  registry = NULL;
  return 0;
}

/* The one symbol portainer.so exports: everything else is built with
 * -fvisibility=hidden (tests/check_symbols.sh). */
__attribute__((visibility("default"))) void module_register(void) {
  atomic_store(&shutting_down, false);
  plugin_register_complex_config("portainer", portainer_config);
  plugin_register_init("portainer", portainer_init);
  plugin_register_shutdown("portainer", portainer_shutdown);
  plugin_register_log("portainer", portainer_log, NULL);
}
