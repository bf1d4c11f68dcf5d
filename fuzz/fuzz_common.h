/**
 * fuzz_common.h: helpers shared by the libFuzzer harnesses (header only).
 *
 *  - chunk plans: a document is fed whole, in a few chunks whose sizes come
 *    from a PRNG seeded with a hash of the input (so a crash reproduces from
 *    the input file alone), and byte by byte when it is small.  Every chunk
 *    is copied into its own exact-size heap block: a parser that reads past
 *    a chunk, or keeps a pointer into it, trips ASan.
 *  - a transcript: what the parser handed out, as text.  Every feeding plan
 *    must produce the same transcript and the same outcome as the whole
 *    document; a difference aborts (a chunk-boundary bug).
 *  - checks on strings handed out (NUL-terminated within the cap).
 */
#ifndef PORTAINER_FUZZ_COMMON_H
#define PORTAINER_FUZZ_COMMON_H

#include "json_stream.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts with a message: libFuzzer reports it as a crash and saves the
 * input. */
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__,  \
              #cond);                                                          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* ---- PRNG and hashing ---------------------------------------------------- */

static inline uint64_t fuzz_hash(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
  for (size_t i = 0; i < size; i++) {
    h ^= data[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static inline uint64_t fuzz_rand(uint64_t *s) {
  /* splitmix64: good enough to spread chunk sizes. */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* ---- transcripts --------------------------------------------------------- */

#define FUZZ_TRANSCRIPT_MAX (1u << 20)

typedef struct {
  char *buf;
  size_t len;
  size_t cap;
  bool truncated;
} fuzz_transcript_t;

static inline void fuzz_tr_reset(fuzz_transcript_t *t) {
  t->len = 0;
  t->truncated = false;
  if (t->buf != NULL)
    t->buf[0] = '\0';
}

static inline void fuzz_tr_free(fuzz_transcript_t *t) {
  free(t->buf);
  t->buf = NULL;
  t->len = t->cap = 0;
}

static inline void fuzz_tr_add(fuzz_transcript_t *t, const void *p, size_t n) {
  if (t->truncated)
    return;
  if (t->len + n + 1 > FUZZ_TRANSCRIPT_MAX) {
    t->truncated = true; /* compare the prefix only */
    return;
  }
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap == 0 ? 4096 : t->cap;
    while (cap < t->len + n + 1)
      cap *= 2;
    char *b = realloc(t->buf, cap);
    FUZZ_CHECK(b != NULL, "out of memory");
    t->buf = b;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, p, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static inline void
fuzz_tr_printf(fuzz_transcript_t *t, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  fuzz_tr_add(t, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A string field: its length and bytes (NULL shown as such). */
static inline void fuzz_tr_str(fuzz_transcript_t *t, const char *name,
                               const char *s) {
  if (s == NULL) {
    fuzz_tr_printf(t, "%s=NULL;", name);
    return;
  }
  size_t n = strlen(s);
  fuzz_tr_printf(t, "%s[%zu]=", name, n);
  fuzz_tr_add(t, s, n);
  fuzz_tr_add(t, ";", 1);
}

/* Aborts when b (a feeding plan's transcript) differs from a (whole). */
static inline void fuzz_tr_compare(const fuzz_transcript_t *a,
                                   const fuzz_transcript_t *b,
                                   const char *plan) {
  if (a->truncated || b->truncated) {
    size_t n = a->len < b->len ? a->len : b->len;
    FUZZ_CHECK(n == 0 || memcmp(a->buf, b->buf, n) == 0,
               "plan %s: transcript prefix differs", plan);
    return;
  }
  if (a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0))
    return;
  size_t i = 0;
  while (i < a->len && i < b->len && a->buf[i] == b->buf[i])
    i++;
  size_t from = i > 80 ? i - 80 : 0;
  fprintf(stderr, "whole  : ...%.*s\n",
          (int)((a->len - from) < 200 ? (a->len - from) : 200), a->buf + from);
  fprintf(stderr, "%-7s: ...%.*s\n", plan,
          (int)((b->len - from) < 200 ? (b->len - from) : 200), b->buf + from);
  FUZZ_CHECK(false,
             "plan %s: transcript differs from the whole feed at "
             "byte %zu (lengths %zu, %zu)",
             plan, i, a->len, b->len);
}

/* ---- feeding plans ------------------------------------------------------- */

typedef enum {
  FUZZ_PLAN_WHOLE = 0,
  FUZZ_PLAN_CHUNKS, /* 2..9 random-sized chunks */
  FUZZ_PLAN_SMALL,  /* many chunks of 1..7 bytes */
  FUZZ_PLAN_BYTES,  /* byte by byte (small inputs only) */
  FUZZ_PLANS_NUM
} fuzz_plan_t;

static inline const char *fuzz_plan_name(fuzz_plan_t p) {
  static const char *const names[] = {"whole", "chunks", "small", "bytes"};
  return names[p];
}

/* Whether the plan is worth running on an input of this size. */
static inline bool fuzz_plan_applies(fuzz_plan_t p, size_t size) {
  switch (p) {
  case FUZZ_PLAN_WHOLE:
  case FUZZ_PLAN_CHUNKS:
    return true;
  case FUZZ_PLAN_SMALL:
    return size >= 2 && size <= 8192;
  case FUZZ_PLAN_BYTES:
    return size >= 2 && size <= 1024;
  default:
    return false;
  }
}

/* Feeds data to js following the plan; returns json_stream_feed's last
 * result (-1 as soon as a chunk fails; nothing more is fed then). */
static inline int fuzz_feed(json_stream_t *js, const uint8_t *data, size_t size,
                            fuzz_plan_t plan) {
  if (plan == FUZZ_PLAN_WHOLE) {
    /* An empty feed first: it must be a harmless no-op. */
    if (json_stream_feed(js, (const char *)data, 0) != 0)
      return -1;
    return json_stream_feed(js, (const char *)data, size);
  }
  uint64_t seed = fuzz_hash(data, size) ^ (uint64_t)plan;
  size_t nchunks = 2 + (size_t)(fuzz_rand(&seed) % 8);
  size_t off = 0;
  while (off < size) {
    size_t left = size - off, n;
    switch (plan) {
    case FUZZ_PLAN_CHUNKS:
      /* Around size / nchunks, randomly shorter or longer. */
      n = 1 + (size_t)(fuzz_rand(&seed) % (2 * (size / nchunks) + 1));
      break;
    case FUZZ_PLAN_SMALL:
      n = 1 + (size_t)(fuzz_rand(&seed) % 7);
      break;
    default:
      n = 1;
      break;
    }
    if (n > left)
      n = left;
    /* Its own block: overreads and dangling pointers are caught. */
    char *chunk = malloc(n);
    FUZZ_CHECK(chunk != NULL, "out of memory");
    memcpy(chunk, data + off, n);
    int rc = json_stream_feed(js, chunk, n);
    /* Scribble before freeing: a parser that kept a pointer into the chunk
     * reads garbage even if the allocator reuses the block. */
    memset(chunk, 0xA5, n);
    free(chunk);
    if (rc != 0)
      return rc;
    off += n;
  }
  return 0;
}

/* Feeds data to js following the plan, finishes, and checks the stream's
 * contract: a failed feed fails the finish, the error text is set exactly
 * when the finish fails (and is printable), a second finish agrees, and
 * feeding `after` once it is over is refused.  Returns finish's result. */
static inline void fuzz_check_error_text(const char *e);
static inline int fuzz_parse_checked(json_stream_t *js, const uint8_t *data,
                                     size_t size, fuzz_plan_t plan,
                                     const char *after) {
  int rc = fuzz_feed(js, data, size, plan);
  int fin = json_stream_finish(js);
  const char *err = json_stream_error(js);
  fuzz_check_error_text(err);
  if (rc != 0)
    FUZZ_CHECK(fin != 0, "finish succeeded after a failed feed");
  FUZZ_CHECK((fin == 0) == (err[0] == '\0'), "outcome %d but error text \"%s\"",
             fin, err);
  FUZZ_CHECK(json_stream_finish(js) == fin, "second finish differs");
  FUZZ_CHECK(json_stream_feed(js, after, strlen(after)) == -1,
             "feed after finish");
  return fin;
}

/* One parse of the input following a plan, told into a transcript. */
typedef void (*fuzz_run_fn)(const uint8_t *data, size_t size, fuzz_plan_t plan,
                            fuzz_transcript_t *tr);

/* Runs the input whole, then under every chunk plan that applies: every
 * plan must tell the same story. */
static inline void fuzz_every_plan(const uint8_t *data, size_t size,
                                   fuzz_run_fn run) {
  fuzz_transcript_t whole = {0}, other = {0};
  run(data, size, FUZZ_PLAN_WHOLE, &whole);
  for (int p = FUZZ_PLAN_WHOLE + 1; p < FUZZ_PLANS_NUM; p++) {
    if (!fuzz_plan_applies((fuzz_plan_t)p, size))
      continue;
    run(data, size, (fuzz_plan_t)p, &other);
    fuzz_tr_compare(&whole, &other, fuzz_plan_name((fuzz_plan_t)p));
  }
  fuzz_tr_free(&whole);
  fuzz_tr_free(&other);
}

/* ---- string checks ------------------------------------------------------- */

/* A string handed out by a parser: not NULL and capped. */
static inline void fuzz_check_capped(const char *s, const char *what) {
  FUZZ_CHECK(s != NULL, "%s is NULL", what);
  FUZZ_CHECK(strnlen(s, JSON_MAX_STRING + 1) <= JSON_MAX_STRING,
             "%s longer than JSON_MAX_STRING", what);
}

/* A short error text: NUL-terminated, printable ASCII only. */
static inline void fuzz_check_error_text(const char *e) {
  FUZZ_CHECK(e != NULL, "json_stream_error returned NULL");
  size_t n = strnlen(e, 1024);
  FUZZ_CHECK(n < 1024, "error text not terminated");
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK((unsigned char)e[i] >= 0x20 && (unsigned char)e[i] < 0x7f,
               "unprintable byte 0x%02x in the error text",
               (unsigned char)e[i]);
}

#endif
