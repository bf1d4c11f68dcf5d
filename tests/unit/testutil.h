/**
 * testutil.h: helpers shared by the unit tests.
 */
#ifndef PORTAINER_TESTUTIL_H
#define PORTAINER_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef FIXTURES_DIR
#define FIXTURES_DIR "tests/fixtures"
#endif

/* Reads FIXTURES_DIR "/" name into a malloc'ed, NUL-terminated buffer (the
 * NUL is not counted in *len).  NULL when the file cannot be read. */
static inline char *read_fixture(const char *name, size_t *len) {
  char path[4096];
  int n = snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
  if (n < 0 || (size_t)n >= sizeof(path))
    return NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *buf = NULL;
  size_t used = 0, cap = 0;
  for (;;) {
    if (cap - used < 4096) {
      size_t ncap = cap == 0 ? 65536 : cap * 2;
      char *nbuf = realloc(buf, ncap + 1);
      if (nbuf == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nbuf;
      cap = ncap;
    }
    size_t got = fread(buf + used, 1, cap - used, f);
    used += got;
    if (got == 0)
      break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return NULL;
  }
  buf[used] = '\0';
  if (len != NULL)
    *len = used;
  return buf;
}

/* Log lines a source hands its log callback, kept for the tests. */
#define TEST_LOGS_MAX 64
static char test_logs[TEST_LOGS_MAX][1024];
static size_t test_logs_num;

static inline void test_log_cb(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  if (test_logs_num < TEST_LOGS_MAX)
    snprintf(test_logs[test_logs_num++], sizeof(test_logs[0]), "%s", msg);
}

/* Number of kept log lines containing needle. */
static inline size_t test_logs_matching(const char *needle) {
  size_t n = 0;
  for (size_t i = 0; i < test_logs_num; i++)
    if (strstr(test_logs[i], needle) != NULL)
      n++;
  return n;
}

/* A "Date: ..." header line (with CRLF) of the current time: a daemon's
 * clock, for canned list answers. */
static inline const char *test_date_header(void) {
  static char buf[128];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  return buf;
}

#endif
