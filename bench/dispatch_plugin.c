/**
 * dispatch_plugin.c: a trivial collectd plugin for the benchmark's reference
 * "collectd dispatching the same number of value lists".
 *
 * Every read it dispatches Values value lists, with identities shaped like
 * the portainer plugin's (host = an environment name, plugin "container",
 * plugin_instance = a container name, type = one of the plugin's signals,
 * type_instance = an image with slashes), and does nothing else: no I/O, no
 * parsing.  What collectd then spends per interval (copying, escaping, the
 * cache update in its write threads) is the cost of dispatching that many
 * values, whoever dispatches them.
 *
 * It also registers a write callback that does nothing, so that collectd has
 * a writer (without one it logs a line for every value); "Values 0" loads
 * only that writer, for runs of the real portainer plugin.
 *
 *   <Plugin bench_dispatch>
 *     Values 45691     # value lists per read
 *     PerContainer 5   # value lists per container (identities share a name)
 *     Hosts 100        # distinct host fields
 *   </Plugin>
 */
#include "collectd.h"

#include "plugin.h"
#include "utils/common/common.h"

static long values_num = 1000;
static long per_container = 5;
static long hosts_num = 10;

static const char *const types[] = {
    "state",     "health",     "restart_count", "uptime",
    "exit_code", "oom_killed", "failing_streak"};
static const char *const images[] = {"nginx:1.25.3",
                                     "registry.example.org/shop/api:2.14.1",
                                     "postgres:15.4",
                                     "redis:7.2.3-alpine",
                                     "prom/node-exporter:v1.7.0",
                                     "traefik:v2.10.7",
                                     "grafana/promtail:2.9.2"};

static int bd_config(oconfig_item_t *ci) {
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *o = ci->children + i;
    double v = 0;
    if (o->values_num != 1 || o->values[0].type != OCONFIG_TYPE_NUMBER) {
      ERROR("bench_dispatch: %s takes one number", o->key);
      return -1;
    }
    v = o->values[0].value.number;
    if (v < 0 || v > 10000000) {
      ERROR("bench_dispatch: %s out of range", o->key);
      return -1;
    }
    if (strcasecmp(o->key, "Values") == 0)
      values_num = (long)v;
    else if (strcasecmp(o->key, "PerContainer") == 0)
      per_container = (long)v;
    else if (strcasecmp(o->key, "Hosts") == 0)
      hosts_num = (long)v;
    else {
      ERROR("bench_dispatch: unknown option %s", o->key);
      return -1;
    }
  }
  return 0;
}

static int bd_write(const data_set_t *ds, const value_list_t *vl,
                    user_data_t *ud) {
  (void)ds, (void)vl, (void)ud;
  return 0;
}

static int bd_read(void) {
  value_list_t vl = VALUE_LIST_INIT;
  value_t v;
  vl.values = &v;
  vl.values_len = 1;
  sstrncpy(vl.plugin, "container", sizeof(vl.plugin));
  long ntypes = (long)(sizeof(types) / sizeof(types[0]));
  long per = per_container < ntypes ? per_container : ntypes;
  if (per < 1)
    per = 1;
  if (hosts_num < 1)
    hosts_num = 1;
  for (long i = 0; i < values_num; i++) {
    long ctr = i / per;
    long host = ctr % hosts_num;
    snprintf(vl.host, sizeof(vl.host), "prod-eu-west-%03ld", host);
    snprintf(vl.plugin_instance, sizeof(vl.plugin_instance),
             "project%ld-service-%ld", ctr / 8, ctr);
    sstrncpy(vl.type, types[i % per], sizeof(vl.type));
    sstrncpy(vl.type_instance, images[ctr % 7], sizeof(vl.type_instance));
    v.gauge = (gauge_t)(i % 3);
    plugin_dispatch_values(&vl);
  }
  return 0;
}

void module_register(void) {
  plugin_register_complex_config("bench_dispatch", bd_config);
  plugin_register_write("bench_null", bd_write, NULL);
  plugin_register_read("bench_dispatch", bd_read);
}
