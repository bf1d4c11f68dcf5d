/**
 * fuzz_redact.c: the log-line builder of secret.h.
 *
 * The input is decoded into 1 to 3 secrets of 1 to 64 bytes and a line of up
 * to 16 pieces: the plugin's words, data (whole, cut, trimmed), data with a
 * secret planted at an offset and the whole cut at a point (straddling it
 * or not), "%s", "%.*s" and "%d" conversions; the line is finished into
 * buffers of several sizes (1 to 4096 bytes, 1024 being collectd's).
 *
 * Checks, for every input:
 *  - the builder's line equals a naive reference of secret.h's definition:
 *    a byte of data is hidden iff it lies in an occurrence of a secret, or,
 *    in a piece that was cut, in a tail that is a proper prefix of a secret;
 *    each run of hidden bytes becomes "<secret>"; then trimming, control
 *    characters as spaces, the cut to the buffer on a UTF-8 boundary;
 *  - independently of the reference, every scrubbed piece of data, split at
 *    its "<secret>" marks, holds no secret, and a cut piece does not end
 *    with a non-empty proper prefix of one;
 *  - the line is NUL-terminated within its buffer and holds no control
 *    character; ASan/UBSan see every access.
 */
#include "fuzz_common.h"

#include "secret.h"

#define MAX_PIECES 16
#define MARK       SECRET_MARK
#define MARK_LEN   (sizeof(MARK) - 1)

typedef struct {
  const uint8_t *p;
  size_t left;
} input_t;

static unsigned take(input_t *in) {
  if (in->left == 0)
    return 0;
  in->left--;
  return *in->p++;
}

static unsigned take16(input_t *in) {
  unsigned hi = take(in);
  return hi << 8 | take(in);
}

/* n bytes of input (zeros once it runs out) into a new buffer. */
static char *take_bytes(input_t *in, size_t n) {
  char *s = malloc(n + 1);
  FUZZ_CHECK(s != NULL, "out of memory");
  for (size_t i = 0; i < n; i++)
    s[i] = (char)take(in);
  s[n] = 0;
  return s;
}

/* ---- the reference ---------------------------------------------------- */

typedef struct {
  char *s;
  size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    FUZZ_CHECK(b->s != NULL, "out of memory");
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

static bool blank(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

/* secret.h's definition, spelt out the slow way. */
static void ref_data(buf_t *b, char *const *secrets, size_t nsec, const char *s,
                     size_t len, int flags) {
  bool *hide = calloc(len + 1, sizeof(bool));
  FUZZ_CHECK(hide != NULL, "out of memory");
  for (size_t k = 0; k < nsec; k++) {
    size_t n = strlen(secrets[k]);
    for (size_t j = 0; j < len; j++) {
      size_t m = len - j < n ? len - j : n; /* bytes of s from j */
      bool whole = m == n && memcmp(s + j, secrets[k], n) == 0;
      bool head =
          (flags & LOGLINE_CUT) && m < n && memcmp(s + j, secrets[k], m) == 0;
      if (whole || head)
        for (size_t i = j; i < j + m; i++)
          hide[i] = true;
    }
  }
  buf_t t = {0};
  put(&t, "", 0);
  for (size_t i = 0; i < len; i++) {
    if (!hide[i])
      put(&t, s + i, 1);
    else if (i == 0 || !hide[i - 1])
      put(&t, MARK, MARK_LEN);
  }
  size_t from = 0, to = t.len;
  if (flags & LOGLINE_TRIM) {
    while (to > 0 && blank((unsigned char)t.s[to - 1]))
      to--;
    while (from < to && blank((unsigned char)t.s[from]))
      from++;
  }
  put(b, t.s + from, to - from);
  free(t.s);
  free(hide);
}

static void ref_finish(const buf_t *b, char *out, size_t size) {
  size_t n = b->len < size - 1 ? b->len : size - 1;
  if (n < b->len) { /* back off over at most 3 continuation bytes */
    size_t m = n;
    int i = 0;
    while (i < 3 && m > 0 && ((unsigned char)b->s[m] & 0xC0) == 0x80)
      m--, i++;
    if (((unsigned char)b->s[m] & 0xC0) != 0x80)
      n = m;
  }
  for (size_t i = 0; i < n; i++)
    out[i] = blank((unsigned char)b->s[i]) ? ' ' : b->s[i];
  out[n] = 0;
}

/* ---- the independent check on one scrubbed piece ----------------------- */

static void check_scrubbed(char *const *secrets, size_t nsec, const char *c,
                           size_t clen, bool cut) {
  /* Segments between marks (the piece may hold NUL bytes). */
  const char *seg = c, *end = c + clen;
  for (;;) {
    const char *m = memmem(seg, (size_t)(end - seg), MARK, MARK_LEN);
    size_t len = m != NULL ? (size_t)(m - seg) : (size_t)(end - seg);
    for (size_t k = 0; k < nsec; k++) {
      size_t n = strlen(secrets[k]);
      FUZZ_CHECK(memmem(seg, len, secrets[k], n) == NULL,
                 "secret %zu (%zu bytes) left in a piece", k, n);
      if (cut && m == NULL)
        for (size_t t = 1; t < n && t <= len; t++)
          FUZZ_CHECK(memcmp(seg + len - t, secrets[k], t) != 0,
                     "a cut piece ends with %zu bytes of secret %zu", t, k);
    }
    if (m == NULL)
      break;
    seg = m + MARK_LEN;
  }
}

/* ---- one input ---------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input_t in = {data, size};
  size_t nsec = 1 + take(&in) % 3;
  char *secrets[3];
  for (size_t k = 0; k < nsec; k++) {
    size_t n = 1 + take(&in) % 64;
    secrets[k] = take_bytes(&in, n);
    for (size_t i = 0; i < n; i++)
      if (secrets[k][i] == 0)
        secrets[k][i] = 'S';
  }

  logline_t l;
  logline_init(&l, (const char *const *)secrets, nsec);
  FUZZ_CHECK(l.secrets_num == nsec, "a secret was dropped");
  buf_t ref = {0};
  put(&ref, "", 0);

  for (int piece = 0; piece < MAX_PIECES && in.left > 0; piece++) {
    unsigned kind = take(&in) % 6;
    if (kind == 0) { /* the plugin's words */
      char *w = take_bytes(&in, take(&in) % 64);
      logline_add(&l, w);
      put(&ref, w, strlen(w));
      free(w);
      continue;
    }
    if (kind == 5) { /* a number */
      int v = (int)(take16(&in) << 16 | take16(&in));
      char num[16];
      snprintf(num, sizeof(num), "%d", v);
      logline_printf(&l, "#%d", v);
      put(&ref, "#", 1);
      ref_data(&ref, secrets, nsec, num, strlen(num), 0);
      continue;
    }
    int flags = 0;
    size_t len = take16(&in) % 2048;
    char *text;
    if (kind == 2) { /* a secret planted at an offset, the whole cut */
      const char *sec = secrets[take(&in) % nsec];
      size_t n = strlen(sec), at = take16(&in) % (len + 1);
      size_t cut = take16(&in) % (len + n + 1);
      char *fill = take_bytes(&in, len);
      text = malloc(len + n + 1);
      FUZZ_CHECK(text != NULL, "out of memory");
      memcpy(text, fill, at);
      memcpy(text + at, sec, n);
      memcpy(text + at + n, fill + at, len - at);
      free(fill);
      len = cut;
      flags = LOGLINE_CUT | (take(&in) & LOGLINE_TRIM);
    } else {
      text = take_bytes(&in, len);
      flags = take(&in) & (LOGLINE_CUT | LOGLINE_TRIM);
    }
    if (kind == 1 || kind == 2) {
      size_t clen = 0;
      char *c = logline_scrub(&l, text, len, flags, &clen);
      FUZZ_CHECK(c != NULL, "out of memory");
      check_scrubbed(secrets, nsec, c, clen,
                     (flags & LOGLINE_TRIM) == 0 && (flags & LOGLINE_CUT) != 0);
      free(c);
      logline_data(&l, text, len, flags);
      ref_data(&ref, secrets, nsec, text, len, flags);
    } else { /* "%s", "%.*s": a NUL ends the string */
      text[len] = 0;
      size_t slen = strlen(text);
      if (kind == 3) {
        logline_printf(&l, "[%s]", text);
        put(&ref, "[", 1);
        ref_data(&ref, secrets, nsec, text, slen, 0);
        put(&ref, "]", 1);
      } else {
        int prec = (int)take16(&in) % 2100;
        size_t shown = slen < (size_t)prec ? slen : (size_t)prec;
        logline_printf(&l, "<%.*s>", prec, text);
        put(&ref, "<", 1);
        ref_data(&ref, secrets, nsec, text, shown,
                 shown < slen ? LOGLINE_CUT : 0);
        put(&ref, ">", 1);
      }
    }
    free(text);
  }

  static const size_t sizes[] = {1, 2, 9, 64, 1024, 4096};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t sz = sizes[i];
    char *out = malloc(sz), *want = malloc(sz); /* exact size: ASan */
    FUZZ_CHECK(out != NULL && want != NULL, "out of memory");
    logline_finish(&l, out, sz);
    ref_finish(&ref, want, sz);
    size_t n = strnlen(out, sz);
    FUZZ_CHECK(n < sz, "line not terminated in %zu bytes", sz);
    for (size_t k = 0; k < n; k++)
      FUZZ_CHECK(!blank((unsigned char)out[k]) || out[k] == ' ',
                 "control byte 0x%02x in the line", (unsigned char)out[k]);
    FUZZ_CHECK(strcmp(out, want) == 0,
               "line differs from the reference in %zu bytes:\n  got  %s\n"
               "  want %s",
               sz, out, want);
    free(out);
    free(want);
  }
  logline_free(&l);
  free(ref.s);
  for (size_t k = 0; k < nsec; k++)
    free(secrets[k]);
  return 0;
}
