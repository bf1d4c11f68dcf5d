/**
 * json_stream_impl.h: the shared base of every streaming parser (internal).
 *
 * json_stream.c owns the yajl handle and its callbacks.  It does the
 * bookkeeping every parser needs and hands the parser only what is left:
 *  - the nesting depth, failing the document past JSON_MAX_DEPTH;
 *  - the key id of the current member at each of the first JS_PATH_MAX
 *    levels, so a parser knows "where" a value is without a stack of its own;
 *  - the check that the top-level value has the expected kind;
 *  - skipping: the value of a key the parser gave id 0, and every container
 *    its open hook declined, is skipped as it streams by without reaching the
 *    parser (Snapshots, NetworkSettings...: nothing of them is kept).
 *
 * Depths: js->depth counts the containers open around the current event.  The
 * top-level value is at depth 0; the members of a top-level object (or the
 * items of a top-level array) are at depth 1, and so on.  When the open hook
 * runs, js->depth already counts the new container; when the close hook runs
 * it still does.
 */
#ifndef PORTAINER_JSON_STREAM_IMPL_H
#define PORTAINER_JSON_STREAM_IMPL_H

#include "json_stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

/* Levels for which the key path is kept; parsers skip anything deeper. */
#define JS_PATH_MAX 8

/* Open hook results. */
#define JS_ABORT   0 /* fail the document (set an error with js_fail first) */
#define JS_DESCEND 1 /* deliver the container's contents */
#define JS_SKIP    2 /* skip the container and everything inside it */

/* What the top-level value must be. */
typedef enum {
  JS_TOP_ARRAY,  /* one array; anything else fails the document */
  JS_TOP_OBJECT, /* one object; anything else fails the document */
  JS_TOP_VALUES, /* a stream of values; only objects reach the parser */
} js_top_t;

typedef enum { JS_NULL, JS_BOOL, JS_NUMBER, JS_STRING } js_type_t;

/* A scalar.  str/len: the (unescaped, not NUL-terminated) bytes of a string,
 * or the literal text of a number. */
typedef struct {
  js_type_t type;
  const char *str;
  size_t len;
  bool boolean;
} js_value_t;

typedef struct {
  js_top_t top;
  /* A key in the object at js->depth: returns the id the parser gives it,
   * 0 when the member is not interesting (its value is then skipped). */
  int (*key)(json_stream_t *js, const char *k, size_t len);
  /* A scalar at js->depth (in an array, or as a member with a non-zero id).
   * Returns 0 to fail the document. */
  int (*scalar)(json_stream_t *js, const js_value_t *v);
  /* A container opened at js->depth: JS_DESCEND, JS_SKIP or JS_ABORT. */
  int (*open)(json_stream_t *js, bool is_map);
  /* A container (one that was descended into) closes. 0 fails. */
  int (*close)(json_stream_t *js, bool is_map);
  /* After the document completed without error; -1 fails it.  May be NULL. */
  int (*finish)(json_stream_t *js);
  /* Frees what the parser owns (not js itself).  May be NULL. */
  void (*destroy)(json_stream_t *js);
} json_stream_ops_t;

struct json_stream_s {
  yajl_handle yh;
  const json_stream_ops_t *ops;
  int depth;
  int skip;                   /* depth of the container being skipped */
  int path_key[JS_PATH_MAX];  /* key id of the current member per level */
  bool path_map[JS_PATH_MAX]; /* the container at that level is a map */
  bool seen_data;             /* a non-blank byte was fed */
  bool finished;              /* json_stream_finish ran */
  bool failed;                /* error[] holds the first error */
  uint64_t offset;            /* bytes fed before the current chunk */
  char error[128];
  json_stream_t *sub; /* js_delegate(): gets the events for now; not owned */
};

/* Allocates size bytes (a parser struct whose first member is the
 * json_stream_t), zeroed, with its yajl handle.  NULL when out of memory. */
json_stream_t *js_alloc(size_t size, const json_stream_ops_t *ops);

/* Records the first error of the document (printf-style, kept short). */
void js_fail(json_stream_t *js, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* From an open hook only: the container being opened, and everything inside
 * it, goes to sub (another parser, whose top-level kind it must be) as a
 * document of its own; this parser sees nothing more of it but its close
 * hook when it ends.  A failure of sub fails this document with sub's error.
 * sub stays the caller's and must outlive the container.  0, or -1 when sub
 * refused the container (its error copied here). */
int js_delegate(json_stream_t *js, json_stream_t *sub, bool is_map);

/* The key id of the member being read in the container at depth d, 0 when
 * unknown, d out of range, or that container is an array. */
int js_key_at(const json_stream_t *js, int d);

/* Length of s cut to at most max bytes without splitting a UTF-8 sequence. */
size_t js_utf8_cut(const char *s, size_t len, size_t max);
/* A NUL-terminated copy of a JSON string value, cut to JSON_MAX_STRING bytes
 * on a UTF-8 boundary.  NULL when out of memory (after js_fail). */
char *js_strdup(json_stream_t *js, const char *s, size_t len);
/* Replaces *dst with a copy of the string (js_strdup).  0, or -1 on OOM. */
int js_set_string(json_stream_t *js, char **dst, const char *s, size_t len);

/* A JSON number literal as an int64: integers, and numbers with an integral
 * value written as a double ("3.0", "2e1").  -1 when fractional or out of
 * range.  Locale-independent. */
int js_number_to_int64(const char *s, size_t len, int64_t *out);

/* Key comparison: the key (not NUL-terminated) equals the C string lit. */
bool js_key_is(const char *k, size_t len, const char *lit);

/* A parser's member names and the ids it gives them. */
typedef struct {
  const char *name;
  int id;
} js_key_def_t;
/* The id of key k in defs[0..n), 0 when it is none of them. */
int js_key_lookup(const js_key_def_t *defs, size_t n, const char *k,
                  size_t len);
#define JS_KEYS(defs, k, len)                                                  \
  js_key_lookup(defs, sizeof(defs) / sizeof(defs[0]), k, len)

/* Parses a small, complete document whose top level is an object and copies
 * the string values of the top-level members named in names[0..n) into out[]
 * (malloc'ed, capped; NULL when absent or not a string).  Returns 0 when the
 * document is a complete object, -1 otherwise; out[] then holds whatever was
 * read before the error.  The caller frees out[]. */
int js_read_top_strings(const char *body, size_t len, const char *const *names,
                        char **out, size_t n);

#endif
