/**
 * registry.h: which source of one collectd writes which container identity.
 *
 * Two sources can reach Docker hosts of the same name (two Portainer servers
 * each with an environment "local", say) and so produce the same collectd
 * identity (host, plugin instance, type instance) for different containers;
 * collectd would then show whichever wrote last, flipping every poll.  The
 * registry lets exactly one source write such an identity: the one added
 * first (the block that comes first in collectd.conf).  A later source is
 * refused an identity that an earlier one wrote in its last completed emit,
 * so the winner does not depend on which poll happens to run first.
 *
 * Each source's read callback runs on a collectd read thread: every call is
 * thread-safe, and a writer's own calls come from one thread at a time (a
 * read callback never runs twice at once).  Plain C, no collectd types.
 *
 * Identities are remembered as keyed 64-bit hashes (SipHash-2-4, with a key
 * drawn at start): names from a server cannot be crafted to collide with
 * another source's, and two real identities collide with a probability of
 * about n^2 / 2^64 (10^-10 for 50,000 containers).
 */
#ifndef PORTAINER_REGISTRY_H
#define PORTAINER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct registry_s registry_t;

registry_t *registry_new(void);
void registry_free(registry_t *r);

/* Adds a writer (a source, by name); writers added earlier win.  Returns
 * its number (0, 1, ...), or -1 when out of memory. */
int registry_writer(registry_t *r, const char *name);
/* The name given to registry_writer ("" for an unknown writer). */
const char *registry_writer_name(const registry_t *r, int w);

/* One emit of writer w: begin, claim every identity it would write, end.
 * Only what w claimed successfully counts as written by w. */
void registry_begin(registry_t *r, int w);
/* true when w may write this identity.  false when an earlier writer wrote
 * it in its last completed emit; *owner (may be NULL) then names that
 * writer.  Out of memory never refuses an identity. */
bool registry_claim(registry_t *r, int w, const char *host,
                    const char *plugin_instance, const char *type_instance,
                    int *owner);
void registry_end(registry_t *r, int w);

/* true the first time writer w is refused by owner on this host: the time
 * to log it (once, not every poll). */
bool registry_first_conflict(registry_t *r, int w, int owner, const char *host);

#endif
