/**
 * nodes.c: on a Swarm agent environment, did every node answer?
 *
 * The agent merges the container lists of every node of the Swarm, tagging
 * each item with its node (Portainer.Agent.NodeName), and leaves out a node
 * that fails its 3-second ping while still answering 200.  Such a node's
 * containers would silently vanish with "up" at 1.  So each poll compares
 * the nodes in the list with those seen in earlier lists (the nodes known to
 * run an agent).  When one is missing, the Swarm's own node list
 * (GET /nodes, answered by a manager) tells whether it left the Swarm or
 * was drained (then it is forgotten) or is still a member: then it is
 * missing, the environment reports up 0 and its containers from that node
 * are kept aside, unreported, until the node is back (inventory.c).  A
 * steady poll asks nothing more than the list.
 */
#include "source_internal.h"

#include "docker_api.h"
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Logs the missing nodes once (when the set changes) and their return. */
static void report_missing(source_t *s, inv_env_t *e) {
  if (e->nodes_missing.num == 0) {
    fault_env_recovered(s, e, e->nodes_missing_fault, "every Swarm node is");
    return;
  }
  /* The signature: the names, as far as the slot holds them. */
  char sig[sizeof(e->nodes_missing_fault)] = "";
  for (size_t i = 0, used = 0; i < e->nodes_missing.num; i++) {
    int n =
        snprintf(sig + used, sizeof(sig) - used, "%s,", e->nodes_missing.v[i]);
    if (n < 0 || (size_t)n >= sizeof(sig) - used)
      break;
    used += (size_t)n;
  }
  if (strcmp(e->nodes_missing_fault, sig) == 0)
    return;
  snprintf(e->nodes_missing_fault, sizeof(e->nodes_missing_fault), "%s", sig);
  logline_t l;
  source_logline(s, &l);
  fault_what(s, e, &l);
  logline_add(&l,
              e->nodes_missing.num > 1 ? ": Swarm nodes " : ": Swarm node ");
  for (size_t i = 0; i < e->nodes_missing.num && i < 8; i++) {
    logline_add(&l, i > 0 ? ", \"" : "\"");
    logline_data(&l, e->nodes_missing.v[i], strlen(e->nodes_missing.v[i]), 0);
    logline_add(&l, "\"");
  }
  if (e->nodes_missing.num > 8)
    logline_printf(&l, " and %zu more", e->nodes_missing.num - 8);
  logline_add(&l, " missing from the agent's container list (its agent did "
                  "not answer): up is 0, and its containers are not reported "
                  "until it answers again");
  slog_line(s, SOURCE_LOG_ERR, &l);
}

/* The check is done: every node in this poll's list is known from now on,
 * and what is missing is said. */
static void check_done(source_t *s, inv_env_t *e) {
  for (size_t i = 0; i < e->nodes_seen.num; i++)
    (void)inv_names_add(&e->nodes_known, e->nodes_seen.v[i]);
  report_missing(s, e);
}

/* The Swarm's node list is in: forget the known nodes it no longer counts
 * (removed, or drained: no agent runs there), unless it names none of the
 * nodes in the list (names that do not match cannot be trusted). */
static void forget_departed(inv_env_t *e) {
  bool matches = false;
  for (size_t i = 0; i < e->nodes_seen.num && !matches; i++)
    matches = inv_names_has(&e->nodes_swarm, e->nodes_seen.v[i]);
  if (!matches)
    return;
  inv_names_t keep = {0};
  for (size_t i = 0; i < e->nodes_known.num; i++)
    if (inv_names_has(&e->nodes_swarm, e->nodes_known.v[i]) ||
        inv_names_has(&e->nodes_seen, e->nodes_known.v[i]))
      (void)inv_names_add(&keep, e->nodes_known.v[i]);
  inv_names_clear(&e->nodes_known);
  free(e->nodes_known.v);
  e->nodes_known = keep;
}

/* Missing: known, and not in this poll's list. */
static void find_missing(inv_env_t *e) {
  inv_names_clear(&e->nodes_missing);
  for (size_t i = 0; i < e->nodes_known.num; i++)
    if (!inv_names_has(&e->nodes_seen, e->nodes_known.v[i]))
      (void)inv_names_add(&e->nodes_missing, e->nodes_known.v[i]);
}

static void on_node(void *ud, const docker_node_t *n) {
  req_t *r = ud;
  if (n->hostname == NULL || n->hostname[0] == '\0')
    return;
  if (n->availability != NULL && strcmp(n->availability, "drain") == 0)
    return; /* drained: its tasks, the agent included, were moved away */
  (void)inv_names_add(&r->env->nodes_swarm, n->hostname);
}

static void on_nodes_done(void *ud, const http_result_t *res) {
  req_t *r = ud;
  source_t *s = r->s;
  inv_env_t *e = r->env;
  if (req_answered(r, res)) {
    fault_env_recovered(s, e, e->nodes_fault, "its Swarm node list is");
    forget_departed(e);
  } else {
    fault_request(s, r, res); /* every known node still counts */
  }
  inv_names_clear(&e->nodes_swarm);
  find_missing(e);
  check_done(s, e);
  req_free(r);
  if (--e->nodes_pending == 0 && e->events_pending == 0)
    inspects_host_ready(s, e);
}

void nodes_check(source_t *s, inv_env_t *e) {
  inv_names_clear(&e->nodes_missing);
  if (e->nodes_seen.num == 0)
    return; /* no node names: not a Swarm agent (the list says) */
  find_missing(e);
  req_t *r = e->nodes_missing.num > 0 ? req_new(s, REQ_NODES) : NULL;
  char *url = r != NULL ? req_docker_url(s, e, DOCKER_PATH_NODES) : NULL;
  if (r != NULL) {
    r->env = e;
    r->js = docker_nodes_parser_new(on_node, r);
  }
  if (r == NULL || r->js == NULL || url == NULL) {
    req_free(r); /* (none needed, or out of memory: every known node counts) */
    free(url);
    check_done(s, e);
    return;
  }
  e->nodes_pending++;
  int rc = req_queue(s, r, "GET", url, NULL, NULL, NULL, on_nodes_done);
  free(url);
  if (rc != 0) {
    e->nodes_pending--;
    check_done(s, e);
  }
}
