/**
 * notify.h: a source's transitions -> collectd notifications (Notify).
 *
 * After each poll, every transition since the last poll among the source's
 * Notify kinds becomes one notification (transition.h says which), with the
 * identity of the values it is about:
 *   container:   host = Docker host, plugin "container", plugin_instance =
 *                container name, type = exit_code / oom_killed /
 *                restart_count / health, type_instance = as its values
 *   environment: host = environment, plugin "portainer", plugin_instance =
 *                source name, type "up", type_instance "environment"
 *   source:      host = collectd's hostname, plugin "portainer",
 *                plugin_instance = source name, type "up", type_instance
 *                "api" (Portainer sources; a Docker source's host is its
 *                one environment)
 */
#ifndef PORTAINER_NOTIFY_H
#define PORTAINER_NOTIFY_H

#include "collectd.h"
#include "plugin.h"

#include "source.h"

/* Dispatches the notifications of the source's last poll and records what
 * was told in its inventory.  Returns the number dispatched. */
size_t notify_source(source_t *s, const char *hostname);

#endif
