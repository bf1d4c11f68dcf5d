/**
 * collectd_stub.c: see collectd_stub.h.  Behaves like collectd 5.12's own
 * helpers for what the plugin relies on (including the escaping of '/' in
 * identifiers done by plugin_dispatch_values).
 */
#include "collectd_stub.h"

#include "utils/common/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

stub_value_t stub_values[STUB_MAX_VALUES];
size_t stub_values_num;
char stub_logs[STUB_MAX_LOGS][1024];
int stub_log_levels[STUB_MAX_LOGS];
size_t stub_logs_num;
char *hostname_g = "testhost";

stub_notif_t stub_notifs[STUB_MAX_NOTIFS];
size_t stub_notifs_num;

void stub_reset(void) {
  stub_values_num = 0;
  stub_logs_num = 0;
  stub_notifs_num = 0;
}

int plugin_dispatch_notification(const notification_t *n) {
  if (stub_notifs_num >= STUB_MAX_NOTIFS)
    return -1;
  stub_notif_t *r = &stub_notifs[stub_notifs_num++];
  r->severity = n->severity;
  sstrncpy(r->host, n->host, sizeof(r->host));
  sstrncpy(r->plugin, n->plugin, sizeof(r->plugin));
  sstrncpy(r->plugin_instance, n->plugin_instance, sizeof(r->plugin_instance));
  sstrncpy(r->type, n->type, sizeof(r->type));
  sstrncpy(r->type_instance, n->type_instance, sizeof(r->type_instance));
  sstrncpy(r->message, n->message, sizeof(r->message));
  return 0;
}

void plugin_log(int level, const char *format, ...) {
  va_list ap;
  if (stub_logs_num >= STUB_MAX_LOGS)
    return;
  va_start(ap, format);
  vsnprintf(stub_logs[stub_logs_num], sizeof(stub_logs[0]), format, ap);
  va_end(ap);
  stub_log_levels[stub_logs_num++] = level;
}

static void unslash(char *s) {
  for (; *s != 0; s++)
    if (*s == '/')
      *s = '_';
}

int plugin_dispatch_values(value_list_t const *vl) {
  if (stub_values_num >= STUB_MAX_VALUES || vl->values_len != 1)
    return -1;
  stub_value_t *v = &stub_values[stub_values_num++];
  sstrncpy(v->host, vl->host, sizeof(v->host));
  sstrncpy(v->plugin, vl->plugin, sizeof(v->plugin));
  sstrncpy(v->plugin_instance, vl->plugin_instance, sizeof(v->plugin_instance));
  sstrncpy(v->type, vl->type, sizeof(v->type));
  sstrncpy(v->type_instance, vl->type_instance, sizeof(v->type_instance));
  unslash(v->host);
  unslash(v->plugin_instance);
  unslash(v->type_instance);
  v->value = vl->values[0];
  v->interval = vl->interval;
  return 0;
}

const stub_value_t *stub_find(const char *host, const char *plugin,
                              const char *plugin_instance, const char *type,
                              const char *type_instance) {
  for (size_t i = 0; i < stub_values_num; i++) {
    const stub_value_t *v = &stub_values[i];
    if (strcmp(v->host, host) == 0 && strcmp(v->plugin, plugin) == 0 &&
        strcmp(v->plugin_instance, plugin_instance) == 0 &&
        strcmp(v->type, type) == 0 &&
        strcmp(v->type_instance, type_instance) == 0)
      return v;
  }
  return NULL;
}

size_t stub_logs_matching(const char *needle) {
  size_t n = 0;
  for (size_t i = 0; i < stub_logs_num; i++)
    if (strstr(stub_logs[i], needle) != NULL)
      n++;
  return n;
}

char *sstrncpy(char *dest, const char *src, size_t n) {
  strncpy(dest, src, n);
  dest[n - 1] = 0;
  return dest;
}

char *sstrerror(int errnum, char *buf, size_t buflen) {
  snprintf(buf, buflen, "%s", strerror(errnum));
  return buf;
}

cdtime_t cdtime(void) {
  return TIME_T_TO_CDTIME_T(1700000000);
}

/* Configuration helpers, with collectd's semantics and messages. */
int cf_util_get_string(const oconfig_item_t *ci, char **ret_string) {
  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_STRING) {
    plugin_log(LOG_ERR,
               "cf_util_get_string: The %s option requires exactly "
               "one string argument.",
               ci->key);
    return -1;
  }
  char *s = strdup(ci->values[0].value.string);
  if (s == NULL)
    return -1;
  free(*ret_string);
  *ret_string = s;
  return 0;
}

int cf_util_get_int(const oconfig_item_t *ci, int *ret_value) {
  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_NUMBER) {
    plugin_log(LOG_ERR,
               "cf_util_get_int: The %s option requires exactly "
               "one numeric argument.",
               ci->key);
    return -1;
  }
  *ret_value = (int)ci->values[0].value.number;
  return 0;
}

int cf_util_get_double(const oconfig_item_t *ci, double *ret_value) {
  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_NUMBER) {
    plugin_log(LOG_ERR,
               "cf_util_get_double: The %s option requires exactly "
               "one numeric argument.",
               ci->key);
    return -1;
  }
  *ret_value = ci->values[0].value.number;
  return 0;
}

int cf_util_get_boolean(const oconfig_item_t *ci, bool *ret_bool) {
  if (ci->values_num != 1 || (ci->values[0].type != OCONFIG_TYPE_BOOLEAN &&
                              ci->values[0].type != OCONFIG_TYPE_STRING)) {
    plugin_log(LOG_ERR,
               "cf_util_get_boolean: The %s option requires "
               "exactly one boolean argument.",
               ci->key);
    return -1;
  }
  if (ci->values[0].type == OCONFIG_TYPE_BOOLEAN) {
    *ret_bool = ci->values[0].value.boolean != 0;
    return 0;
  }
  const char *s = ci->values[0].value.string;
  if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
      strcasecmp(s, "on") == 0) {
    *ret_bool = true;
    return 0;
  }
  if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
      strcasecmp(s, "off") == 0) {
    *ret_bool = false;
    return 0;
  }
  plugin_log(LOG_ERR,
             "cf_util_get_boolean: Cannot parse string value `%s' "
             "of the `%s' option as a boolean value.",
             s, ci->key);
  return -1;
}

/* Registration, as collectd 5.12 does it for what the plugin needs. */
int (*stub_config_cb)(oconfig_item_t *);
plugin_init_cb stub_init_cb;
plugin_shutdown_cb stub_shutdown_cb;
plugin_log_cb stub_log_cb;
stub_read_t stub_reads[STUB_MAX_READS];
size_t stub_reads_num;

int plugin_register_complex_config(const char *type,
                                   int (*callback)(oconfig_item_t *)) {
  (void)type;
  stub_config_cb = callback;
  return 0;
}

int plugin_register_init(const char *name, plugin_init_cb callback) {
  (void)name;
  stub_init_cb = callback;
  return 0;
}

int plugin_register_shutdown(const char *name, plugin_shutdown_cb callback) {
  (void)name;
  stub_shutdown_cb = callback;
  return 0;
}

int plugin_register_log(const char *name, plugin_log_cb callback,
                        user_data_t const *user_data) {
  (void)name;
  (void)user_data;
  stub_log_cb = callback;
  return 0;
}

int plugin_register_complex_read(const char *group, const char *name,
                                 plugin_read_cb callback, cdtime_t interval,
                                 user_data_t const *user_data) {
  for (size_t i = 0; i < stub_reads_num; i++)
    if (strcmp(stub_reads[i].name, name) == 0)
      return -1; /* collectd refuses a second read of the same name */
  if (stub_reads_num >= STUB_MAX_READS)
    return -1;
  stub_read_t *r = &stub_reads[stub_reads_num++];
  sstrncpy(r->group, group, sizeof(r->group));
  sstrncpy(r->name, name, sizeof(r->name));
  r->callback = callback;
  r->interval = interval;
  r->ud = *user_data;
  return 0;
}

void stub_free_reads(void) {
  for (size_t i = 0; i < stub_reads_num; i++)
    if (stub_reads[i].ud.free_func != NULL)
      stub_reads[i].ud.free_func(stub_reads[i].ud.data);
  stub_reads_num = 0;
}

cdtime_t plugin_get_interval(void) {
  return TIME_T_TO_CDTIME_T(10);
}
