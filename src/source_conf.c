/**
 * source_conf.c: defaults and release of a source_conf_t; the name filters.
 */
#include "source_conf.h"

#include "secret.h"

#include <stdlib.h>
#include <string.h>

void source_conf_init(source_conf_t *c) {
  memset(c, 0, sizeof(*c));
  c->verify_peer = true;
  c->verify_host = true;
  c->timeout_ms = SOURCE_DEFAULT_TIMEOUT_MS;
  c->max_response_size = SOURCE_DEFAULT_MAX_RESPONSE;
  c->max_in_flight = SOURCE_DEFAULT_MAX_IN_FLIGHT;
  c->page_size = SOURCE_DEFAULT_PAGE_SIZE;
  c->full_inspect_every = SOURCE_DEFAULT_FULL_INSPECT_EVERY;
  c->shard_index = 1;
  c->shard_count = 1;
  c->ti_mode = TYPE_INSTANCE_IMAGE;
  c->collect = COLLECT_ALL;
}

static void regex_free(source_regex_t *r) {
  if (r->set)
    regfree(&r->re);
  r->set = false;
}

void source_conf_free(source_conf_t *c) {
  free(c->name);
  free(c->url);
  free(c->socket);
  free(c->host);
  free(c->host_prefix);
  secret_free(c->token);
  free(c->username);
  secret_free(c->password);
  free(c->ca_cert);
  free(c->client_cert);
  free(c->client_key);
  secret_free(c->proxy);
  free(c->ti_label);
  free(c->group_ids);
  free(c->tag_ids);
  regex_free(&c->env_include);
  regex_free(&c->env_exclude);
  regex_free(&c->ct_include);
  regex_free(&c->ct_exclude);
  memset(c, 0, sizeof(*c));
}

static bool regex_match(const source_regex_t *r, const char *s) {
  return regexec(&r->re, s, 0, NULL, 0) == 0;
}

bool source_conf_keeps(const source_regex_t *inc, const source_regex_t *exc,
                       const char *name) {
  if (inc->set && !regex_match(inc, name))
    return false;
  if (exc->set && regex_match(exc, name))
    return false;
  return true;
}
