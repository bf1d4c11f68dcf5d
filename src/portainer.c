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

#define LOG_PREFIX "portainer plugin: "

typedef struct {
  source_t *src;
  cdtime_t interval;
  char *name;
  int writer; /* this source in the registry */
} instance_t;

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

static void instance_free(void *p) {
  instance_t *inst = p;
  if (inst == NULL)
    return;
  source_free(inst->src);
  sfree(inst->name);
  sfree(inst);
}

static int portainer_read(user_data_t *ud) {
  instance_t *inst = ud->data;
  source_poll(inst->src);
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
  plugin_register_complex_config("portainer", portainer_config);
  plugin_register_init("portainer", portainer_init);
  plugin_register_shutdown("portainer", portainer_shutdown);
}
