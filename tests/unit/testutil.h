/**
 * testutil.h: helpers shared by the unit tests.
 */
#ifndef PORTAINER_TESTUTIL_H
#define PORTAINER_TESTUTIL_H

#include "json_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Feeds doc to js chunk bytes at a time (0: at once); the first failing
 * feed's -1, else 0.  (The caller finishes the document.) */
static inline int feed_chunks(json_stream_t *js, const char *doc, size_t len,
                              size_t chunk) {
  if (chunk == 0)
    chunk = len > 0 ? len : 1;
  int rc = 0;
  for (size_t off = 0; off < len && rc == 0; off += chunk)
    rc = json_stream_feed(js, doc + off, len - off < chunk ? len - off : chunk);
  return rc;
}

#endif
