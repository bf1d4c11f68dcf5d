/**
 * testlog.h: what the unit tests of a whole poll share (header only): the
 * lines a source logged, and a Date header for canned daemon answers.
 * Include it in one file per test program.
 */
#ifndef PORTAINER_TESTLOG_H
#define PORTAINER_TESTLOG_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOGS_MAX 64

/* The lines logged through log_cb (a source_log_fn), oldest first; set
 * logs_num to 0 to forget them. */
static char logs[LOGS_MAX][4096];
static size_t logs_num;

static inline void log_cb(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  if (logs_num < LOGS_MAX)
    snprintf(logs[logs_num++], sizeof(logs[0]), "%s", msg);
}

/* Lines holding needle. */
static inline size_t logs_matching(const char *needle) {
  size_t n = 0;
  for (size_t i = 0; i < logs_num; i++)
    if (strstr(logs[i], needle) != NULL)
      n++;
  return n;
}

/* "Date: <now>\r\n": the daemon's clock, as a response header line. */
static inline const char *date_header(void) {
  static char buf[128];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  return buf;
}

#endif
