/**
 * edge.c: which environments of a Portainer list this poll asks, and what
 * the plugin says of the Edge agents it does not ask.
 *
 * Portainer holds a proxied request to an Edge agent without tunnel for up
 * to 2 x its check-in interval (10 s by default) and then answers 500, so an
 * agent Portainer already reports offline is not asked at all: by its own
 * rule (portainer_api.h: Heartbeat false, or a last check-in older than
 * 2 x the interval + 20 s on Portainer's clock) it reads up 0, its cause is
 * logged once, and it is asked again in the first poll whose list shows it
 * checking in.  An async agent cannot be proxied at all: its values come
 * from Portainer's snapshot (snapshots.c).
 */
#include "source_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Signatures in e->edge_fault (a fault slot: fault_log logs a new one). */
#define SIG_OFFLINE  "edge:offline"
#define SIG_NO_AGENT "edge:no-agent"

/* "last check-in 2026-11-22 10:15:03 UTC, 3605 s ago" */
static void last_check_in(const pt_endpoint_t *ep, int64_t date, char *buf,
                          size_t size) {
  char when[64];
  int64_t now = pt_edge_now(ep, date);
  if (ep->last_check_in == 0) {
    snprintf(buf, size, "never checked in");
  } else if (ep->last_check_in < 0) {
    snprintf(buf, size, "last check-in unknown");
  } else {
    fault_utc(ep->last_check_in, when, sizeof(when));
    if (now > 0)
      snprintf(buf, size, "last check-in %s, %" PRId64 " s ago", when,
               now - ep->last_check_in);
    else
      snprintf(buf, size, "last check-in %s", when);
  }
}

/* Not asked this poll: up 0; what was learnt of its containers is kept for
 * the poll it answers again. */
static void not_asked(source_t *s, inv_env_t *e, const char *sig,
                      const char *msg) {
  inv_env_list_abort(e);
  fault_env_state(s, e, e->edge_fault, sizeof(e->edge_fault), sig, msg);
}

void edge_ask(source_t *s, inv_env_t *e, const pt_endpoint_t *ep,
              int64_t date) {
  char msg[512], last[160];
  e->snapshot_only = ep->type == PT_ENV_EDGE_DOCKER && ep->async;
  e->snapshot_age = -1;
  switch (pt_edge_state(ep, date)) {
  case PT_EDGE_OFFLINE:
    last_check_in(ep, date, last, sizeof(last));
    snprintf(msg, sizeof(msg),
             "Edge agent offline (%s; Portainer expects one every %" PRId64
             " s): not asked until it checks in again",
             last, pt_edge_checkin_interval(ep));
    not_asked(s, e, SIG_OFFLINE, msg);
    return;
  case PT_EDGE_NO_AGENT:
    not_asked(s, e, SIG_NO_AGENT,
              "no Edge agent associated with it (no EdgeID): not asked");
    return;
  case PT_EDGE_ONLINE:
    if (strcmp(e->edge_fault, SIG_OFFLINE) == 0 ||
        strcmp(e->edge_fault, SIG_NO_AGENT) == 0) {
      last_check_in(ep, date, last, sizeof(last));
      snprintf(msg, sizeof(msg), "Edge agent checking in again (%s): asked",
               last);
      fault_env_state(s, e, e->edge_fault, sizeof(e->edge_fault), "", msg);
    }
    break;
  case PT_EDGE_NONE:
    break;
  }
  if (!e->snapshot_only && strncmp(e->edge_fault, "edge:", 5) == 0)
    e->edge_fault[0] = '\0'; /* no longer async: its snapshot says nothing */
  if (e->snapshot_only)
    snapshots_queue(s, e, ep);
  else
    lists_queue(s, e);
}
