/**
 * config.h: one <Portainer "name"> or <Docker "name"> block -> source_conf_t.
 *
 * Every option is validated here, with one clear log line naming the source
 * and the option; a block with an error yields no source (the others still
 * start).  Secrets are never logged.
 */
#ifndef PORTAINER_CONFIG_H
#define PORTAINER_CONFIG_H

#include "collectd.h"

#include "liboconfig/oconfig.h"

#include "source_conf.h"

/* Parses ci (key "Portainer" or "Docker") into *out, which it initializes.
 * Returns 0, or -1 after logging why (out is then freed). */
int config_parse_source(const oconfig_item_t *ci, source_conf_t *out);

#endif
