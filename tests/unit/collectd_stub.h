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

/* Notifications dispatched (notify.c). */
#define STUB_MAX_NOTIFS 256
typedef struct {
  int severity;
  char host[DATA_MAX_NAME_LEN];
  char plugin[DATA_MAX_NAME_LEN];
  char plugin_instance[DATA_MAX_NAME_LEN];
  char type[DATA_MAX_NAME_LEN];
  char type_instance[DATA_MAX_NAME_LEN];
  char message[NOTIF_MAX_MSG_LEN];
} stub_notif_t;
extern stub_notif_t stub_notifs[STUB_MAX_NOTIFS];
extern size_t stub_notifs_num;

/* Registrations made through the stub (test_plugin.c drives them). */
#define STUB_MAX_READS 16
typedef struct {
  char group[DATA_MAX_NAME_LEN];
  char name[DATA_MAX_NAME_LEN];
  plugin_read_cb callback;
  cdtime_t interval;
  user_data_t ud;
} stub_read_t;

extern int (*stub_config_cb)(oconfig_item_t *);
extern plugin_init_cb stub_init_cb;
extern plugin_shutdown_cb stub_shutdown_cb;
extern plugin_log_cb stub_log_cb; /* collectd calls it for every log line */
extern stub_read_t stub_reads[STUB_MAX_READS];
extern size_t stub_reads_num;
/* Frees every registered read's user data, as collectd does at shutdown. */
void stub_free_reads(void);

#endif
