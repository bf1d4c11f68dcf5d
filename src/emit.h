/**
 * emit.h: a source's inventory and statistics -> collectd value lists.
 *
 * Container values: host = HostPrefix + Docker host (environment name, or
 * the Docker source's Host), plugin "container", plugin_instance = container
 * name, type = the signal, type_instance = image (or label, or nothing). Self
 * values: plugin "portainer", plugin_instance = source name.
 */
#ifndef PORTAINER_EMIT_H
#define PORTAINER_EMIT_H

#include "collectd.h"
#include "plugin.h"

#include "registry.h"
#include "source.h"

/* Dispatches every value of the source's last poll.  hostname is collectd's
 * (host of the source-level self metrics); interval that of the source's
 * read callback.  Returns the number of value lists dispatched. */
size_t emit_source(const source_t *s, const char *hostname, cdtime_t interval);
/* The same for a source among several of one collectd: writer is the
 * source's number in reg (registry.h).  A container identity that a source
 * configured earlier wrote in its last emit is not sent (logged once per
 * pair of sources and host).  Container identities are the ones the poll
 * settled (identity_settle()). */
size_t emit_source_shared(const source_t *s, const char *hostname,
                          cdtime_t interval, registry_t *reg, int writer);

#endif
