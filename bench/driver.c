/**
 * driver.c: runs the plugin's poll code (libportainer_core) and its emit code
 * (src/emit.c, with collectd's dispatch stubbed out) against a Portainer URL,
 * and prints what each poll cost.
 *
 *   driver --url http://127.0.0.1:8080/f10k --schedule cold,none,none,changed
 *          [--token T] [--max-in-flight 16] [--page-size 100]
 *          [--full-inspect-every 10] [--interval 30] [--timeout-ms 5000]
 *          [--overlay-link DIR/cur] [--json FILE] [--label NAME]
 *
 * --schedule names one overlay per poll (at most 64 polls).  With
 * --overlay-link, the driver points that symlink at the named overlay
 * directory (next to it) before the poll, so nginx serves the fleet as it
 * is then: "none" (nothing changed), "changed" (1% of the containers changed
 * state), "revert" (they changed back).  The first poll is the cold one.
 *
 * Per poll: wall time, CPU time (getrusage user + sys of this process), peak
 * RSS (ru_maxrss), requests and inspects sent (source_stats() deltas),
 * environments up, containers seen, value lists emit_source() would
 * dispatch, and the CPU of that emit (identities and value lists, without
 * collectd's own dispatch, which bench/dispatch_plugin.c measures).
 */
#include "emit.h"
#include "utils/common/common.h"
#include "source.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_POLLS     64
#define MAX_LOG_LINES 20

/* --- collectd stubs for emit.c ------------------------------------------ */

static size_t dispatched;

/* collectd's plugin_dispatch_values() copies the value list onto its write
 * queue; here it is only counted (its cost is measured in real collectd). */
int plugin_dispatch_values(value_list_t const *vl) {
  if (vl == NULL || vl->values_len == 0)
    return -1;
  dispatched++;
  return 0;
}

char *sstrncpy(char *dest, const char *src, size_t n) {
  if (n == 0)
    return dest;
  strncpy(dest, src, n - 1);
  dest[n - 1] = 0;
  return dest;
}

cdtime_t cdtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return TIMESPEC_TO_CDTIME_T(&ts);
}

/* --- measurement ---------------------------------------------------------- */

static int log_lines;

static void on_log(void *ud, int level, const char *msg) {
  (void)ud;
  if (log_lines++ < MAX_LOG_LINES)
    fprintf(stderr, "driver: plugin log [%d]: %s\n", level, msg);
  else if (log_lines == MAX_LOG_LINES + 1)
    fprintf(stderr, "driver: (further plugin log lines not shown)\n");
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_of(const struct rusage *ru) {
  return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
         (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return cpu_of(&ru);
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Current RSS from /proc/self/statm, in kB (0 when unreadable). */
static long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t errors_total(const source_stats_t *st) {
  uint64_t n = 0;
  for (int k = 0; k < ERR_KINDS_NUM; k++)
    n += st->errors[k];
  return n;
}

/* Points link (a symlink) at target, atomically (symlink + rename). */
static int point_overlay(const char *link, const char *target) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", link, (long)getpid()) >=
      (int)sizeof(tmp))
    return -1;
  unlink(tmp);
  if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
    fprintf(stderr, "driver: cannot point %s at %s: %s\n", link, target,
            strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: driver --url URL --schedule cold,none,...,changed\n"
          "  [--token T] [--max-in-flight N] [--page-size N]\n"
          "  [--full-inspect-every N] [--interval S] [--timeout-ms MS]\n"
          "  [--overlay-link PATH] [--json FILE] [--label NAME]\n");
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (p == NULL) {
    perror("strdup");
    exit(2);
  }
  return p;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},
      {"token", required_argument, NULL, 't'},
      {"max-in-flight", required_argument, NULL, 'm'},
      {"page-size", required_argument, NULL, 'p'},
      {"full-inspect-every", required_argument, NULL, 'f'},
      {"interval", required_argument, NULL, 'i'},
      {"timeout-ms", required_argument, NULL, 'T'},
      {"schedule", required_argument, NULL, 's'},
      {"overlay-link", required_argument, NULL, 'o'},
      {"json", required_argument, NULL, 'j'},
      {"label", required_argument, NULL, 'l'},
      {NULL, 0, NULL, 0}};
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = xstrdup("bench");
  conf.token = xstrdup("ptr_benchmarkbenchmarkbenchmarkbenchmarkbench=");
  conf.interval = 30;
  const char *schedule = "cold,none,none,none";
  const char *overlay_link = NULL, *json_path = NULL, *label = "bench";
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'u':
      free(conf.url);
      conf.url = xstrdup(optarg);
      break;
    case 't':
      free(conf.token);
      conf.token = xstrdup(optarg);
      break;
    case 'm':
      conf.max_in_flight = atoi(optarg);
      break;
    case 'p':
      conf.page_size = atoi(optarg);
      break;
    case 'f':
      conf.full_inspect_every = atoi(optarg);
      break;
    case 'i':
      conf.interval = atof(optarg);
      break;
    case 'T':
      conf.timeout_ms = atol(optarg);
      break;
    case 's':
      schedule = optarg;
      break;
    case 'o':
      overlay_link = optarg;
      break;
    case 'j':
      json_path = optarg;
      break;
    case 'l':
      label = optarg;
      break;
    default:
      source_conf_free(&conf);
      usage();
      return 2;
    }
  }

  /* The schedule: overlay names, comma-separated. */
  char *sched = xstrdup(schedule), *names[MAX_POLLS];
  int n_polls = 0;
  for (char *save = NULL, *tok = strtok_r(sched, ",", &save);
       tok != NULL && n_polls < MAX_POLLS; tok = strtok_r(NULL, ",", &save))
    names[n_polls++] = tok;

  FILE *json = NULL;
  if (conf.url == NULL || conf.max_in_flight < 1 || conf.page_size < 1 ||
      n_polls == 0) {
    usage();
    goto fail;
  }
  if (json_path != NULL && (json = fopen(json_path, "a")) == NULL) {
    perror(json_path);
    goto fail;
  }
  if (http_global_init() != 0) {
    fprintf(stderr, "driver: curl_global_init failed\n");
    goto fail;
  }
  int max_in_flight = conf.max_in_flight;
  source_t *s = source_new(&conf, "bench-host", on_log, NULL);
  if (s == NULL) {
    fprintf(stderr, "driver: source_new failed\n");
    goto fail;
  }
  long rss_base = maxrss_kb();

  printf("%-8s %4s %-8s %9s %9s %9s %9s %8s %8s %5s %8s %8s %8s %6s\n", "label",
         "poll", "overlay", "wall_s", "cpu_s", "emit_cpu", "maxrss_MB",
         "requests", "inspects", "envs", "ctrs", "values", "errors", "up");
  int rc = 0;
  for (int i = 0; i < n_polls; i++) {
    const char *ov = names[i];
    /* "cold" is the first poll against an unchanged fleet. */
    const char *target = strcmp(ov, "cold") == 0 ? "none" : ov;
    if (overlay_link != NULL && point_overlay(overlay_link, target) != 0) {
      rc = 1;
      break;
    }
    const source_stats_t *st = source_stats(s);
    uint64_t req0 = st->requests, insp0 = st->inspects, err0 = errors_total(st);
    double cpu0 = cpu_now(), t0 = mono();
    int prc = source_poll(s);
    double wall = mono() - t0, cpu = cpu_now() - cpu0;
    long peak = maxrss_kb();

    /* The emit that follows every poll in the plugin. */
    dispatched = 0;
    double ecpu0 = cpu_now();
    emit_source(s, "bench-host", TIME_T_TO_CDTIME_T(30));
    double ecpu = cpu_now() - ecpu0;

    const inventory_t *inv = source_inventory(s);
    size_t envs_up = 0, ctrs = 0;
    for (size_t k = 0; k < inv->envs_num; k++) {
      if (!inv->envs[k]->up)
        continue;
      envs_up++;
      ctrs += inv->envs[k]->cs_num;
    }
    uint64_t reqs = st->requests - req0, insp = st->inspects - insp0,
             errs = errors_total(st) - err0;
    printf("%-8s %4d %-8s %9.3f %9.3f %9.3f %9.1f %8llu %8llu %5zu %8zu %8zu "
           "%8llu %6s\n",
           label, i + 1, ov, wall, cpu, ecpu, (double)peak / 1024.0,
           (unsigned long long)reqs, (unsigned long long)insp, envs_up, ctrs,
           dispatched, (unsigned long long)errs, prc == 0 ? "yes" : "NO");
    fflush(stdout);
    if (json != NULL)
      fprintf(json,
              "{\"label\":\"%s\",\"poll\":%d,\"overlay\":\"%s\",\"wall\":%.6f,"
              "\"cpu\":%.6f,\"emit_cpu\":%.6f,\"maxrss_kb\":%ld,"
              "\"rss_base_kb\":%ld,\"rss_now_kb\":%ld,\"requests\":%llu,"
              "\"inspects\":%llu,\"envs_up\":%zu,\"envs\":%zu,"
              "\"containers\":%zu,\"values\":%zu,\"errors\":%llu,\"up\":%s,"
              "\"max_in_flight\":%d}\n",
              label, i + 1, ov, wall, cpu, ecpu, peak, rss_base, rss_kb(),
              (unsigned long long)reqs, (unsigned long long)insp, envs_up,
              inv->envs_num, ctrs, dispatched, (unsigned long long)errs,
              prc == 0 ? "true" : "false", max_in_flight);
    if (prc != 0 || errs != 0)
      rc = 1;
  }
  if (overlay_link != NULL)
    point_overlay(overlay_link, "none");
  if (json != NULL)
    fclose(json);
  source_free(s);
  free(sched);
  return rc;

fail:
  if (json != NULL)
    fclose(json);
  source_conf_free(&conf); /* zeroed if source_new took it */
  free(sched);
  return 2;
}
