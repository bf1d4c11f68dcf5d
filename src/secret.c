/**
 * secret.c: see secret.h.
 */
#include "secret.h"

#include "json_stream_impl.h" /* js_utf8_cut */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>

#define OOM_LINE "(a log line was lost: out of memory)"

void secret_free(char *p) {
  if (p != NULL)
    secret_free_n(p, strlen(p));
}

void secret_free_n(void *p, size_t len) {
  if (p == NULL)
    return;
  explicit_bzero(p, len);
  free(p);
}

/* ---- scrubbing one piece of data ---------------------------------------- */

/* Marks in mask the bytes of s (len bytes) that belong to an occurrence of
 * sec, or, when s was cut, to its longest tail that is a proper prefix of
 * sec. */
static void mask_secret(const char *s, size_t len, bool cut, const char *sec,
                        unsigned char *mask) {
  size_t n = strlen(sec);
  for (size_t from = 0; from + n <= len;) {
    const char *p = memmem(s + from, len - from, sec, n);
    if (p == NULL)
      break;
    size_t at = (size_t)(p - s);
    memset(mask + at, 1, n);
    from = at + 1; /* overlapping occurrences too */
  }
  if (!cut)
    return;
  size_t k = n - 1 < len ? n - 1 : len; /* longest proper prefix that fits */
  for (size_t at = len - k; at < len; at++) {
    if (memcmp(s + at, sec, len - at) == 0) {
      memset(mask + at, 1, len - at);
      return; /* the first from the left is the longest */
    }
  }
}

static bool is_blank(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

/* s with each masked run replaced by SECRET_MARK, trimmed if asked;
 * malloc'ed and NUL-terminated, its length in *out_len; NULL when out of
 * memory. */
static char *scrub(const logline_t *l, const char *s, size_t len, int flags,
                   size_t *out_len) {
  unsigned char *mask = calloc(len > 0 ? len : 1, 1);
  if (mask == NULL)
    return NULL;
  for (size_t i = 0; i < l->secrets_num; i++)
    mask_secret(s, len, (flags & LOGLINE_CUT) != 0, l->secrets[i], mask);
  const size_t mlen = sizeof(SECRET_MARK) - 1;
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (!mask[i])
      n++;
    else if (i == 0 || !mask[i - 1])
      n += mlen;
  char *out = malloc(n + 1);
  if (out == NULL) {
    free(mask);
    return NULL;
  }
  n = 0;
  for (size_t i = 0; i < len; i++) {
    if (!mask[i]) {
      out[n++] = s[i];
    } else if (i == 0 || !mask[i - 1]) {
      memcpy(out + n, SECRET_MARK, mlen);
      n += mlen;
    }
  }
  free(mask);
  size_t b = 0;
  if (flags & LOGLINE_TRIM) {
    while (n > 0 && is_blank((unsigned char)out[n - 1]))
      n--;
    while (b < n && is_blank((unsigned char)out[b]))
      b++;
    memmove(out, out + b, n - b);
  }
  out[n - b] = 0;
  *out_len = n - b;
  return out;
}

/* ---- the line ------------------------------------------------------------ */

void logline_init(logline_t *l, const char *const *secrets, size_t n) {
  memset(l, 0, sizeof(*l));
  for (size_t i = 0; i < n && l->secrets_num < SECRETS_MAX; i++)
    if (secrets[i] != NULL && secrets[i][0] != 0)
      l->secrets[l->secrets_num++] = secrets[i];
}

void logline_free(logline_t *l) {
  free(l->text); /* scrubbed: nothing to wipe */
  memset(l, 0, sizeof(*l));
}

static void append(logline_t *l, const char *s, size_t n) {
  if (l->failed)
    return;
  if (l->cap - l->len <= n) {
    size_t cap = l->cap ? l->cap : 256;
    while (cap - l->len <= n)
      cap *= 2;
    char *t = realloc(l->text, cap);
    if (t == NULL) {
      l->failed = true;
      return;
    }
    l->text = t;
    l->cap = cap;
  }
  memcpy(l->text + l->len, s, n);
  l->len += n;
  l->text[l->len] = 0;
}

void logline_add(logline_t *l, const char *s) {
  append(l, s, strlen(s));
}

char *logline_scrub(const logline_t *l, const char *s, size_t len, int flags,
                    size_t *out_len) {
  size_t n;
  char *c = scrub(l, s, len, flags, &n);
  if (c != NULL && out_len != NULL)
    *out_len = n;
  return c;
}

void logline_data(logline_t *l, const char *s, size_t len, int flags) {
  if (l->failed)
    return;
  size_t n = 0;
  char *clean = scrub(l, s, len, flags, &n);
  if (clean == NULL) {
    l->failed = true;
    return;
  }
  append(l, clean, n);
  free(clean);
}

void logline_finish(const logline_t *l, char *out, size_t size) {
  if (out == NULL || size == 0)
    return;
  const char *t = l->failed ? OOM_LINE : l->text != NULL ? l->text : "";
  size_t len = l->failed ? strlen(OOM_LINE) : l->len;
  size_t n = js_utf8_cut(t, len, size - 1);
  for (size_t i = 0; i < n; i++)
    out[i] = is_blank((unsigned char)t[i]) ? ' ' : t[i];
  out[n] = 0;
}

/* ---- formats: the plugin's words, and each conversion as data ----------- */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* One conversion (spec holds exactly one) formatted as data; the temporary
 * copy may hold an echoed secret: wiped. */
static void convert(logline_t *l, int flags, const char *spec, ...) {
  char small[128], *buf = small;
  va_list ap, aq;
  va_start(ap, spec);
  va_copy(aq, ap);
  int n = vsnprintf(small, sizeof(small), spec, ap);
  if (n >= 0 && (size_t)n >= sizeof(small)) {
    buf = malloc((size_t)n + 1);
    if (buf != NULL)
      vsnprintf(buf, (size_t)n + 1, spec, aq);
  }
  va_end(aq);
  va_end(ap);
  if (n < 0 || buf == NULL) {
    l->failed = true;
    return;
  }
  logline_data(l, buf, (size_t)n, flags);
  explicit_bzero(buf, (size_t)n);
  if (buf != small)
    free(buf);
}

enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_J, LEN_Z, LEN_T, LEN_BIG_L };

static int length_of(const char **q) {
  const char *p = *q;
  int len = LEN_NONE;
  if (p[0] == 'h' && p[1] == 'h')
    len = LEN_HH, p += 2;
  else if (p[0] == 'l' && p[1] == 'l')
    len = LEN_LL, p += 2;
  else if (*p == 'h')
    len = LEN_H, p++;
  else if (*p == 'l')
    len = LEN_L, p++;
  else if (*p == 'q')
    len = LEN_LL, p++;
  else if (*p == 'j')
    len = LEN_J, p++;
  else if (*p == 'z')
    len = LEN_Z, p++;
  else if (*p == 't')
    len = LEN_T, p++;
  else if (*p == 'L')
    len = LEN_BIG_L, p++;
  *q = p;
  return len;
}

/* Copies n bytes to spec (of SPEC_MAX) at *k; false when it does not fit. */
#define SPEC_MAX 64
static bool spec_put(char *spec, size_t *k, const char *s, size_t n) {
  if (*k + n >= SPEC_MAX)
    return false;
  memcpy(spec + *k, s, n);
  *k += n;
  spec[*k] = 0;
  return true;
}

/* Formats the conversion at *p (after its '%') into l, taking its arguments
 * from ap; false for a conversion this builder does not know. */
static bool one_conversion(logline_t *l, const char **p, va_list *ap) {
  char spec[SPEC_MAX] = "%", num[24];
  size_t k = 1;
  const char *q = *p;
  size_t f = strspn(q, "-+ #0'");
  if (!spec_put(spec, &k, q, f))
    return false;
  q += f;
  if (*q == '*') {
    snprintf(num, sizeof(num), "%d", va_arg(*ap, int));
    if (!spec_put(spec, &k, num, strlen(num)))
      return false;
    q++;
  } else {
    size_t d = strspn(q, "0123456789");
    if (!spec_put(spec, &k, q, d))
      return false;
    q += d;
  }
  long prec = -1;
  if (*q == '.') {
    q++;
    if (*q == '*') {
      prec = va_arg(*ap, int); /* negative: as if there were none */
      q++;
    } else {
      prec = strtol(q, NULL, 10);
      q += strspn(q, "0123456789");
    }
    if (prec >= 0) {
      snprintf(num, sizeof(num), ".%ld", prec);
      if (!spec_put(spec, &k, num, strlen(num)))
        return false;
    }
  }
  const char *len_at = q;
  int len = length_of(&q);
  if (*q == 0 || !spec_put(spec, &k, len_at, (size_t)(q - len_at) + 1))
    return false;
  char conv = *q++;
  *p = q;
  switch (conv) {
  case 'd':
  case 'i':
    if (len == LEN_L)
      convert(l, 0, spec, va_arg(*ap, long));
    else if (len == LEN_LL)
      convert(l, 0, spec, va_arg(*ap, long long));
    else if (len == LEN_J)
      convert(l, 0, spec, va_arg(*ap, intmax_t));
    else if (len == LEN_Z)
      convert(l, 0, spec, va_arg(*ap, ssize_t));
    else if (len == LEN_T)
      convert(l, 0, spec, va_arg(*ap, ptrdiff_t));
    else
      convert(l, 0, spec, va_arg(*ap, int));
    return true;
  case 'o':
  case 'u':
  case 'x':
  case 'X':
    if (len == LEN_L)
      convert(l, 0, spec, va_arg(*ap, unsigned long));
    else if (len == LEN_LL)
      convert(l, 0, spec, va_arg(*ap, unsigned long long));
    else if (len == LEN_J)
      convert(l, 0, spec, va_arg(*ap, uintmax_t));
    else if (len == LEN_Z)
      convert(l, 0, spec, va_arg(*ap, size_t));
    else if (len == LEN_T)
      convert(l, 0, spec, va_arg(*ap, ptrdiff_t));
    else
      convert(l, 0, spec, va_arg(*ap, unsigned));
    return true;
  case 'e':
  case 'E':
  case 'f':
  case 'F':
  case 'g':
  case 'G':
  case 'a':
  case 'A':
    if (len == LEN_BIG_L)
      convert(l, 0, spec, va_arg(*ap, long double));
    else
      convert(l, 0, spec, va_arg(*ap, double));
    return true;
  case 'c':
    if (len == LEN_L)
      convert(l, 0, spec, va_arg(*ap, wint_t));
    else
      convert(l, 0, spec, va_arg(*ap, int));
    return true;
  case 's': {
    if (len == LEN_L) { /* wide strings: never used, shown as such */
      (void)va_arg(*ap, const wchar_t *);
      logline_add(l, "(wide string)");
      return true;
    }
    const char *s = va_arg(*ap, const char *);
    if (s == NULL)
      s = "(null)";
    bool cut = prec >= 0 && strnlen(s, (size_t)prec + 1) > (size_t)prec;
    convert(l, cut ? LOGLINE_CUT : 0, spec, s);
    return true;
  }
  case 'p':
    convert(l, 0, spec, va_arg(*ap, void *));
    return true;
  case 'n':
    (void)va_arg(*ap, void *); /* writes nothing */
    return true;
  }
  return false;
}

void logline_vprintf(logline_t *l, const char *fmt, va_list ap) {
  va_list aq;
  va_copy(aq, ap);
  const char *p = fmt;
  while (*p != 0 && !l->failed) {
    const char *pct = strchr(p, '%');
    size_t n = pct != NULL ? (size_t)(pct - p) : strlen(p);
    append(l, p, n);
    if (pct == NULL)
      break;
    p = pct + 1;
    if (*p == '%') {
      append(l, "%", 1);
      p++;
    } else if (!one_conversion(l, &p, &aq)) {
      logline_add(l, "(bad format)");
      break;
    }
  }
  va_end(aq);
}

#pragma GCC diagnostic pop

void logline_printf(logline_t *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  logline_vprintf(l, fmt, ap);
  va_end(ap);
}
