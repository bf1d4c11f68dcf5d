/**
 * collectd_stub.h: the few collectd functions config.c and emit.c call,
 * recorded for the unit tests instead of a running daemon.
 */
#ifndef PORTAINER_COLLECTD_STUB_H
#define PORTAINER_COLLECTD_STUB_H

#include "collectd.h"
#include "plugin.h"

#include <stddef.h>

#define STUB_MAX_VALUES 4096
#define STUB_MAX_LOGS   256

typedef struct {
  char host[DATA_MAX_NAME_LEN];
  char plugin[DATA_MAX_NAME_LEN];
  char plugin_instance[DATA_MAX_NAME_LEN];
  char type[DATA_MAX_NAME_LEN];
  char type_instance[DATA_MAX_NAME_LEN];
  value_t value;
  cdtime_t interval;
} stub_value_t;

extern stub_value_t stub_values[STUB_MAX_VALUES];
extern size_t stub_values_num;
extern char stub_logs[STUB_MAX_LOGS][1024];
extern int stub_log_levels[STUB_MAX_LOGS];
extern size_t stub_logs_num;

void stub_reset(void);
/* The recorded value with this identity, or NULL. */
const stub_value_t *stub_find(const char *host, const char *plugin,
                              const char *plugin_instance, const char *type,
                              const char *type_instance);
/* Number of log lines containing needle. */
size_t stub_logs_matching(const char *needle);

#endif
