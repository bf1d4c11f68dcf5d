/**
 * identity.h: collectd identity fields for containers.
 *
 * collectd identifiers are fixed 128-byte fields (DATA_MAX_NAME_LEN).  These
 * rules make a container's plugin_instance and type_instance fit, stay
 * deterministic from poll to poll, and never let two containers of one host
 * collapse into one series.
 */
#ifndef PORTAINER_IDENTITY_H
#define PORTAINER_IDENTITY_H

#include "container.h"
#include "source_conf.h"

#include <stddef.h>

#define IDENTITY_SIZE 128 /* collectd's DATA_MAX_NAME_LEN, NUL included */

typedef struct {
  char plugin_instance[IDENTITY_SIZE];
  char type_instance[IDENTITY_SIZE];
} identity_t;

/* Copies src into dst (IDENTITY_SIZE bytes) with control characters, '"',
 * '\' and invalid UTF-8 replaced by '_'.  A value longer than fits is cut on
 * a UTF-8 boundary and ends with "~" and 8 hex digits of a hash of the whole
 * value, so long values that share a prefix stay distinct.  suffix (may be
 * NULL; at most 64 bytes are used) is appended and kept whole. */
void identity_field(char *dst, const char *src, const char *suffix);

/* The host field of a Docker host's values: prefix (a source's HostPrefix,
 * may be NULL) and its name, as a field (identity_field). */
void identity_host(char *dst, const char *prefix, const char *name);

/* Settles the identities of the containers of one host, cs[0..n), into
 * ids[0..n).  Containers whose (name, type_instance) pair is shared get
 * "@<node>" appended when their nodes tell them apart, else "~<first 12
 * characters of the id>", and "#<n>" if even that collides.  '~', '@' and
 * '#' in names (which Docker refuses anyway) become '_', so no name can
 * imitate a suffix.
 *
 * The suffix a container is given is remembered in it (id_settled,
 * id_suffix) and kept while it exists: when the container it collided with
 * goes (or its Swarm node drops out of one poll's list) its series keeps its
 * name; a container arriving later next to one of the same name takes the
 * suffix.  Of two containers keeping the same identity (a rename), the first
 * by id keeps it.  Two containers never end with the same identity.  ids
 * may be NULL when only the suffixes are wanted. */
void identity_settle(container_t *const *cs, size_t n,
                     type_instance_mode_t mode, identity_t *ids);
/* identity_settle() by its former name. */
void identity_assign(container_t *const *cs, size_t n,
                     type_instance_mode_t mode, identity_t *ids);
/* The identity of a settled container: its name with its suffix, and its
 * type instance. */
void identity_of(const container_t *c, type_instance_mode_t mode,
                 identity_t *id);

#endif
