/**
 * secret.h: tokens, passwords and JWTs kept out of log lines and out of
 * freed memory.
 *
 * What "no part of a secret reaches a log line" means
 * ---------------------------------------------------
 * The secrets are a source's token, password and current JWT, whatever
 * their length (one character included).  A log line is built from two
 * kinds of text:
 *
 *   - the plugin's own words: the literal text of a format, and text this
 *     builder already scrubbed (logline_add);
 *   - data: everything else: each conversion of a format (%s, %d, ...),
 *     server messages, environment and container names, libcurl's messages,
 *     values from the configuration (logline_data, logline_printf).
 *
 * The guarantee: no byte of a line comes from an occurrence of a secret in
 * a piece of data as that piece was before anything cut it.  The builder
 * keeps it in this order:
 *
 *   1. a piece of data, whole, has every occurrence of every secret
 *      (overlapping and adjacent ones merged) replaced by "<secret>";
 *   2. a piece that was cut short before it reached the builder (its caller
 *      says so: a JSON string capped at JSON_MAX_STRING, libcurl's 256-byte
 *      message, a "%.Ns" precision that cut) also has its longest tail that
 *      is a proper prefix of a secret - the possible head of an occurrence
 *      the cut broke - replaced by "<secret>";
 *   3. only then are blanks trimmed (when asked), control characters turned
 *      into spaces and the line cut to its limit on a UTF-8 boundary: that
 *      cut can split a "<secret>" mark, never a secret.
 *
 * So the plugin's own words are never searched (a one-character secret "e"
 * does not mangle "environment"), and a short secret is masked wherever it
 * occurs in data, which can make lines hard to read: config.c warns about a
 * Token or Password shorter than SECRET_SHORT at start-up.  Data is only
 * ever cut at its end.  Out of scope: a server that transforms a secret
 * before sending it back (encodes, reverses, splits it over fields or
 * requests) knows it anyway; this guards collectd's log against servers and
 * proxies that echo what they were sent.
 *
 * Everything here is plain C (no collectd), pure, and fuzzed
 * (fuzz/fuzz_redact.c).
 */
#ifndef PORTAINER_SECRET_H
#define PORTAINER_SECRET_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define SECRET_MARK  "<secret>"
#define SECRET_SHORT 4 /* shorter secrets mask ordinary words in data */
#define SECRETS_MAX  4 /* per line */

/* Overwrites a NUL-terminated secret, then frees it.  NULL is fine. */
void secret_free(char *p);
/* Overwrites len bytes at p, then frees it.  NULL is fine. */
void secret_free_n(void *p, size_t len);

/* How a piece of data came (logline_data flags). */
enum {
  LOGLINE_CUT = 1,  /* cut short at its end before it got here */
  LOGLINE_TRIM = 2, /* drop blanks and control characters at both ends */
};

/* A log line being built: its text (already scrubbed) grows on the heap. */
typedef struct {
  const char *secrets[SECRETS_MAX];
  size_t secrets_num;
  char *text;
  size_t len, cap;
  bool failed; /* out of memory: the line says so instead */
} logline_t;

/* NULL and empty secrets are ignored; at most SECRETS_MAX are kept.  The
 * secrets must outlive the line. */
void logline_init(logline_t *l, const char *const *secrets, size_t n);
void logline_free(logline_t *l);
/* The plugin's own words, or text logline_scrub() returned: added as is. */
void logline_add(logline_t *l, const char *s);
/* Data: scrubbed (steps 1 and 2 above), then added. */
void logline_data(logline_t *l, const char *s, size_t len, int flags);
/* The literal text of fmt is the plugin's words, each conversion's output is
 * data (cut when a "%.Ns" precision cut its string). */
__attribute__((format(printf, 2, 0))) void
logline_vprintf(logline_t *l, const char *fmt, va_list ap);
__attribute__((format(printf, 2, 3))) void logline_printf(logline_t *l,
                                                          const char *fmt, ...);
/* A scrubbed copy of a piece of data (steps 1 and 2, and trimmed if asked),
 * for a caller that transforms it further (a name made into an identity);
 * malloc'ed and NUL-terminated, its length in *out_len (may be NULL); NULL
 * when out of memory. */
char *logline_scrub(const logline_t *l, const char *s, size_t len, int flags,
                    size_t *out_len);
/* The finished line in out: control characters as spaces, cut to size - 1
 * bytes on a UTF-8 boundary. */
void logline_finish(const logline_t *l, char *out, size_t size);

#endif
