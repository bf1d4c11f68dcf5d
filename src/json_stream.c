/**
 * json_stream.c: the yajl plumbing shared by every document parser.
 *
 * yajl calls the callbacks below; they keep the depth and the key path, check
 * the top-level kind, skip what the parser does not want and forward the rest
 * to the parser's hooks (json_stream_impl.h).
 */
#include "json_stream_impl.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------ */

void js_fail(json_stream_t *js, const char *fmt, ...) {
  if (js->failed)
    return; /* keep the first error */
  js->failed = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(js->error, sizeof(js->error), fmt, ap);
  va_end(ap);
  /* Keep the text printable whatever went into it. */
  for (char *p = js->error; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
      *p = ' ';
}

/* Records yajl's own error (not verbose: it never quotes the document). */
static void fail_from_yajl(json_stream_t *js) {
  uint64_t at = js->offset + yajl_get_bytes_consumed(js->yh);
  unsigned char *msg = yajl_get_error(js->yh, 0, NULL, 0);
  if (msg == NULL) {
    js_fail(js, "invalid JSON at byte %llu", (unsigned long long)at);
    return;
  }
  /* yajl's text ends with a newline: cut it, js_fail blanks the rest. */
  size_t n = strlen((char *)msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
    msg[--n] = '\0';
  js_fail(js, "%.80s at byte %llu", (char *)msg, (unsigned long long)at);
  yajl_free_error(js->yh, msg);
}

/* ---- path bookkeeping -------------------------------------------------- */

int js_key_at(const json_stream_t *js, int d) {
  if (d < 1 || d >= JS_PATH_MAX || d > js->depth || !js->path_map[d])
    return 0;
  return js->path_key[d];
}

/* Whether the value starting now is wanted: not inside a skipped container,
 * and not the value of a member the parser gave id 0. */
static bool value_wanted(const json_stream_t *js) {
  if (js->skip != 0)
    return false;
  if (js->depth == 0)
    return true;
  if (js->depth >= JS_PATH_MAX)
    return false;
  return !js->path_map[js->depth] || js->path_key[js->depth] != 0;
}

static const char *top_name(js_top_t t) {
  return t == JS_TOP_ARRAY ? "an array" : "an object";
}

/* A top-level value of kind is_map/is_container starts: 1 to deliver it, 0 to
 * skip it, -1 when the document fails. */
static int top_check(json_stream_t *js, bool is_container, bool is_map) {
  switch (js->ops->top) {
  case JS_TOP_ARRAY:
  case JS_TOP_OBJECT:
    if (is_container && is_map == (js->ops->top == JS_TOP_OBJECT))
      return 1;
    js_fail(js, "the document is not %s", top_name(js->ops->top));
    return -1;
  case JS_TOP_VALUES:
    return is_container ? 1 : 0;
  }
  return -1;
}

/* ---- yajl callbacks ---------------------------------------------------- */

/* While a container is delegated (js_delegate), every event goes to the
 * sub-parser; a failure there fails this document with its reason. */
static int sub_result(json_stream_t *js, int ok) {
  if (!ok)
    js_fail(js, "%s", js->sub->failed ? js->sub->error : "parser cancelled");
  return ok;
}

static int on_scalar(json_stream_t *js, const js_value_t *v) {
  if (js->depth == 0) {
    int t = top_check(js, false, false);
    return t < 0 ? 0 : 1;
  }
  if (!value_wanted(js))
    return 1;
  if (js->ops->scalar == NULL || js->ops->scalar(js, v))
    return 1;
  js_fail(js, "parser cancelled");
  return 0;
}

static int cb_null(void *ctx) {
  json_stream_t *js = ctx;
  if (js->sub != NULL)
    return sub_result(js, cb_null(js->sub));
  js_value_t v = {.type = JS_NULL};
  return on_scalar(ctx, &v);
}

static int cb_boolean(void *ctx, int b) {
  json_stream_t *js = ctx;
  if (js->sub != NULL)
    return sub_result(js, cb_boolean(js->sub, b));
  js_value_t v = {.type = JS_BOOL, .boolean = b != 0};
  return on_scalar(ctx, &v);
}

static int cb_number(void *ctx, const char *s, size_t len) {
  json_stream_t *js = ctx;
  if (js->sub != NULL)
    return sub_result(js, cb_number(js->sub, s, len));
  js_value_t v = {.type = JS_NUMBER, .str = s, .len = len};
  return on_scalar(ctx, &v);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len) {
  json_stream_t *js = ctx;
  if (js->sub != NULL)
    return sub_result(js, cb_string(js->sub, s, len));
  js_value_t v = {.type = JS_STRING, .str = (const char *)s, .len = len};
  return on_scalar(ctx, &v);
}

static int on_open(json_stream_t *js, bool is_map) {
  if (js->depth >= JSON_MAX_DEPTH) {
    js_fail(js, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    return 0;
  }
  bool wanted = value_wanted(js);
  int top = 1;
  if (wanted && js->depth == 0) {
    top = top_check(js, true, is_map);
    if (top < 0)
      return 0;
  }
  js->depth++;
  if (js->depth < JS_PATH_MAX) {
    js->path_key[js->depth] = 0;
    js->path_map[js->depth] = is_map;
  }
  if (js->skip != 0)
    return 1;
  if (!wanted || top == 0 || js->depth >= JS_PATH_MAX) {
    js->skip = js->depth;
    return 1;
  }
  int r = js->ops->open(js, is_map);
  if (r == JS_SKIP)
    js->skip = js->depth;
  else if (r != JS_DESCEND) {
    js_fail(js, "parser cancelled");
    return 0;
  }
  return 1;
}

static int on_close(json_stream_t *js, bool is_map) {
  int ok = 1;
  if (js->skip != 0) {
    if (js->skip == js->depth)
      js->skip = 0;
  } else if (js->ops->close != NULL && !js->ops->close(js, is_map)) {
    js_fail(js, "parser cancelled");
    ok = 0;
  }
  if (js->depth > 0)
    js->depth--;
  return ok;
}

/* A container opens: to the sub-parser while one is active. */
static int open_any(json_stream_t *js, bool is_map) {
  if (js->sub != NULL)
    return sub_result(js, open_any(js->sub, is_map));
  return on_open(js, is_map);
}

/* A container closes; the one a sub-parser was given ends its delegation
 * and reaches this parser's close hook. */
static int close_any(json_stream_t *js, bool is_map) {
  if (js->sub != NULL) {
    if (!sub_result(js, close_any(js->sub, is_map)))
      return 0;
    if (js->sub->depth > 0)
      return 1;
    js->sub = NULL;
  }
  return on_close(js, is_map);
}

int js_delegate(json_stream_t *js, json_stream_t *sub, bool is_map) {
  if (sub == NULL || sub == js || js->sub != NULL || sub->depth != 0 ||
      sub->failed)
    return -1;
  if (!on_open(sub, is_map)) {
    js_fail(js, "%s", sub->failed ? sub->error : "parser cancelled");
    return -1;
  }
  js->sub = sub;
  return 0;
}

static int cb_start_map(void *ctx) {
  return open_any(ctx, true);
}

static int cb_end_map(void *ctx) {
  return close_any(ctx, true);
}

static int cb_start_array(void *ctx) {
  return open_any(ctx, false);
}

static int cb_end_array(void *ctx) {
  return close_any(ctx, false);
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t len) {
  json_stream_t *js = ctx;
  if (js->sub != NULL)
    return sub_result(js, cb_map_key(js->sub, k, len));
  if (js->skip != 0 || js->depth < 1 || js->depth >= JS_PATH_MAX)
    return 1;
  js->path_key[js->depth] = js->ops->key(js, (const char *)k, len);
  return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number, /* raw text: no overflow errors from yajl */
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/* ---- public interface -------------------------------------------------- */

json_stream_t *js_alloc(size_t size, const json_stream_ops_t *ops) {
  if (size < sizeof(json_stream_t) || ops == NULL || ops->key == NULL ||
      ops->open == NULL)
    return NULL;
  json_stream_t *js = calloc(1, size);
  if (js == NULL)
    return NULL;
  js->ops = ops;
  js->yh = yajl_alloc(&callbacks, NULL, js);
  if (js->yh == NULL) {
    free(js);
    return NULL;
  }
  /* Bytes inside strings are passed through as they are (labels, names):
   * consumers get them capped, never trusted to be valid UTF-8. */
  yajl_config(js->yh, yajl_dont_validate_strings, 1);
  if (ops->top == JS_TOP_VALUES)
    yajl_config(js->yh, yajl_allow_multiple_values, 1);
  return js;
}

static bool all_blank(const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
      return false;
  return true;
}

int json_stream_feed(json_stream_t *js, const char *buf, size_t len) {
  if (js == NULL)
    return -1;
  if (js->failed)
    return -1;
  if (js->finished) {
    js_fail(js, "data fed after the end of the document");
    return -1;
  }
  if (len == 0)
    return 0;
  if (buf == NULL) {
    js_fail(js, "no data");
    return -1;
  }
  if (!js->seen_data && !all_blank(buf, len))
    js->seen_data = true;
  yajl_status st = yajl_parse(js->yh, (const unsigned char *)buf, len);
  if (st != yajl_status_ok) {
    if (!js->failed) /* a hook may have said why already */
      fail_from_yajl(js);
    return -1;
  }
  js->offset += len;
  return 0;
}

int json_stream_finish(json_stream_t *js) {
  if (js == NULL)
    return -1;
  if (js->failed)
    return -1;
  if (js->finished)
    return 0;
  js->finished = true;
  /* A stream of values may be empty (no events in the window). */
  if (js->ops->top != JS_TOP_VALUES || js->seen_data) {
    if (!js->seen_data) {
      js_fail(js, "empty document");
      return -1;
    }
    if (yajl_complete_parse(js->yh) != yajl_status_ok) {
      if (!js->failed)
        fail_from_yajl(js);
      return -1;
    }
  }
  if (js->ops->finish != NULL && js->ops->finish(js) != 0) {
    if (!js->failed)
      js_fail(js, "incomplete document");
    return -1;
  }
  return 0;
}

const char *json_stream_error(const json_stream_t *js) {
  if (js == NULL || !js->failed)
    return "";
  return js->error;
}

void json_stream_free(json_stream_t *js) {
  if (js == NULL)
    return;
  if (js->ops->destroy != NULL)
    js->ops->destroy(js);
  if (js->yh != NULL)
    yajl_free(js->yh);
  free(js);
}

/* ---- helpers for parsers ----------------------------------------------- */

size_t js_utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max)
    return len;
  size_t n = max;
  /* s[n] is the first byte left out: while it continues a sequence, the cut
   * would split it.  Back up over at most 3 continuation bytes (a 4-byte
   * sequence); invalid input is then simply cut at max. */
  for (int i = 0; i < 3 && n > 0; i++) {
    if (((unsigned char)s[n] & 0xC0) != 0x80)
      return n;
    n--;
  }
  if (((unsigned char)s[n] & 0xC0) != 0x80)
    return n;
  return max;
}

char *js_strdup(json_stream_t *js, const char *s, size_t len) {
  size_t n = js_utf8_cut(s, len, JSON_MAX_STRING);
  char *p = malloc(n + 1);
  if (p == NULL) {
    js_fail(js, "out of memory");
    return NULL;
  }
  if (n > 0)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

int js_set_string(json_stream_t *js, char **dst, const char *s, size_t len) {
  char *p = js_strdup(js, s, len);
  if (p == NULL)
    return -1;
  free(*dst);
  *dst = p;
  return 0;
}

bool js_key_is(const char *k, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return len == n && memcmp(k, lit, n) == 0;
}

int js_key_lookup(const js_key_def_t *defs, size_t n, const char *k,
                  size_t len) {
  for (size_t i = 0; i < n; i++)
    if (js_key_is(k, len, defs[i].name))
      return defs[i].id;
  return 0;
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int js_number_to_int64(const char *s, size_t len, int64_t *out) {
  /* -?int(.frac)?([eE][+-]?exp)?  The value is the digit string int+frac
   * with the decimal point after `point` digits (intlen + exp): integral when
   * every digit past the point is 0. */
  size_t i = 0;
  bool neg = false;
  if (i < len && s[i] == '-') {
    neg = true;
    i++;
  }
  size_t int_start = i;
  while (i < len && is_digit(s[i]))
    i++;
  size_t int_len = i - int_start;
  if (int_len == 0)
    return -1;
  size_t frac_start = i, frac_len = 0;
  if (i < len && s[i] == '.') {
    frac_start = ++i;
    while (i < len && is_digit(s[i]))
      i++;
    frac_len = i - frac_start;
    if (frac_len == 0)
      return -1;
  }
  long exp = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
      eneg = s[i++] == '-';
    if (i >= len || !is_digit(s[i]))
      return -1;
    while (i < len && is_digit(s[i])) {
      if (exp < 100000) /* beyond that only zero mantissas fit */
        exp = exp * 10 + (s[i] - '0');
      i++;
    }
    if (eneg)
      exp = -exp;
  }
  if (i != len)
    return -1;

  size_t ndigits = int_len + frac_len;
  long point = (long)int_len + exp; /* digits before the decimal point */
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t acc = 0;
  for (size_t k = 0; k < ndigits; k++) {
    char c = k < int_len ? s[int_start + k] : s[frac_start + (k - int_len)];
    unsigned d = (unsigned)(c - '0');
    if ((long)k >= point) {
      if (d != 0)
        return -1; /* a fractional part */
      continue;
    }
    if (acc > (limit - d) / 10)
      return -1;
    acc = acc * 10 + d;
  }
  /* Trailing zeros implied by a positive exponent. */
  for (long k = (long)ndigits; k < point && acc != 0; k++) {
    if (acc > limit / 10)
      return -1;
    acc *= 10;
  }
  if (neg)
    *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
  else
    *out = (int64_t)acc;
  return 0;
}

/* ---- a tiny parser for flat error/auth bodies -------------------------- */

typedef struct {
  json_stream_t base;
  const char *const *names;
  char **out;
  size_t n;
} top_strings_t;

static int ts_key(json_stream_t *js, const char *k, size_t len) {
  top_strings_t *p = (top_strings_t *)js;
  if (js->depth != 1)
    return 0;
  for (size_t i = 0; i < p->n; i++)
    if (js_key_is(k, len, p->names[i]))
      return (int)i + 1;
  return 0;
}

static int ts_scalar(json_stream_t *js, const js_value_t *v) {
  top_strings_t *p = (top_strings_t *)js;
  int id = js_key_at(js, 1);
  if (js->depth != 1 || id == 0 || v->type != JS_STRING)
    return 1;
  return js_set_string(js, &p->out[id - 1], v->str, v->len) == 0;
}

static int ts_open(json_stream_t *js, bool is_map) {
  (void)is_map;
  return js->depth == 1 ? JS_DESCEND : JS_SKIP;
}

static const json_stream_ops_t top_strings_ops = {
    .top = JS_TOP_OBJECT,
    .key = ts_key,
    .scalar = ts_scalar,
    .open = ts_open,
};

int js_read_top_strings(const char *body, size_t len, const char *const *names,
                        char **out, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = NULL;
  if (body == NULL || n > INT_MAX - 1)
    return -1;
  top_strings_t *p =
      (top_strings_t *)js_alloc(sizeof(top_strings_t), &top_strings_ops);
  if (p == NULL)
    return -1;
  p->names = names;
  p->out = out;
  p->n = n;
  int rc = json_stream_feed(&p->base, body, len);
  if (rc == 0)
    rc = json_stream_finish(&p->base);
  json_stream_free(&p->base);
  return rc;
}
