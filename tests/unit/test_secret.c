/* Unit tests of secret.c: the log-line builder, and whole polls whose
 * server echoes the credentials it was sent, with the secret placed at every
 * point where a line used to be cut (issue 9, items 1 and 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mini_server.h"
#include "secret.h"
#include "source.h"
#include "testlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper-case letters appear nowhere else in the lines below (names and
 * fillers are lower case, the plugin's words "HTTP" aside): a line holding
 * any of them outside "HTTP" leaked part of the token. */
#define TOKEN_CHARS "QZXJVKWYPBGM"

/* True when line holds a byte of TOKEN_CHARS outside the word "HTTP". */
static bool leaks_token_char(const char *line) {
  for (const char *p = line; *p != 0; p++) {
    if (strncmp(p, "HTTP", 4) == 0) {
      p += 3;
      continue;
    }
    if (strchr(TOKEN_CHARS, *p) != NULL)
      return true;
  }
  return false;
}

#define SOURCE_LINE 1024 /* collectd's log line, NUL included */

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, c, n);
  s[n] = 0;
  return s;
}

/* --- the builder -----------------------------------------------------------
 */

/* The finished line of l (freed), in a static buffer of size bytes. */
static const char *finish(logline_t *l, size_t size) {
  static char out[8192];
  assert_true(size <= sizeof(out));
  logline_finish(l, out, size);
  logline_free(l);
  return out;
}

static void test_words_and_data(void **state) {
  (void)state;
  const char *secrets[] = {"e", NULL, "", "401"};
  logline_t l;
  logline_init(&l, secrets, 4);
  assert_int_equal(l.secrets_num, 2); /* NULL and "" ignored */
  /* The plugin's words are never searched; every conversion is data. */
  logline_printf(&l, "environment \"%s\" HTTP %d (%ld)", "edge", 401, 4010L);
  assert_string_equal(finish(&l, 1024),
                      "environment \"<secret>dg<secret>\" HTTP <secret> "
                      "(<secret>0)");

  /* Overlapping and adjacent occurrences make one mark. */
  const char *one[] = {"abab"};
  logline_init(&l, one, 1);
  logline_data(&l, "xabababx ababab", 15, 0);
  assert_string_equal(finish(&l, 1024), "x<secret>x <secret>");
  /* Two secrets overlapping each other, too. */
  const char *two[] = {"QZX", "XJV"};
  logline_init(&l, two, 2);
  logline_data(&l, "-QZXJV-", 7, 0);
  assert_string_equal(finish(&l, 1024), "-<secret>-");

  /* %% and the other conversions. */
  logline_init(&l, one, 1);
  const char *none = getenv("PORTAINER_TEST_UNSET_VARIABLE"); /* NULL */
  logline_printf(&l, "100%% %c%5.1f %zu %s %p", 'a', 2.25, (size_t)7, none,
                 (void *)NULL);
  assert_string_equal(finish(&l, 1024), "100% a  2.2 7 (null) (nil)");
}

/* A piece cut before it got here: a tail that is a proper prefix of a
 * secret is the head of an occurrence the cut may have broken. */
static void test_cut_pieces(void **state) {
  (void)state;
  const char *secrets[] = {"QZXJVK"};
  logline_t l;
  logline_init(&l, secrets, 1);
  logline_data(&l, "fffQZX", 6, LOGLINE_CUT);
  logline_add(&l, " then ");
  logline_data(&l, "fffQZX", 6, 0); /* not cut: an ordinary word */
  assert_string_equal(finish(&l, 1024), "fff<secret> then fffQZX");
  /* A "%.Ns" precision that cuts is a cut too. */
  logline_init(&l, secrets, 1);
  logline_printf(&l, "[%.5s] [%.9s] [%.20s]", "abQZXJVK", "abQZXJVK",
                 "abQZXJVK");
  assert_string_equal(finish(&l, 1024),
                      "[ab<secret>] [ab<secret>] [ab<secret>]");
  logline_init(&l, secrets, 1);
  logline_printf(&l, "[%.*s]", 4, "ffQZX");
  assert_string_equal(finish(&l, 1024), "[ff<secret>]");
  /* Every length from 1 to 64, cut after every byte of it. */
  char secret[65], text[256];
  for (size_t n = 1; n <= 64; n++) {
    for (size_t i = 0; i < n; i++)
      secret[i] = TOKEN_CHARS[(i * 7 + n) % strlen(TOKEN_CHARS)];
    secret[n] = 0;
    const char *one[] = {secret};
    for (size_t k = 1; k <= n; k++) {
      snprintf(text, sizeof(text), "fill %.*s", (int)k, secret);
      logline_init(&l, one, 1);
      logline_data(&l, text, strlen(text), LOGLINE_CUT);
      const char *out = finish(&l, 1024);
      if (strcmp(out, "fill <secret>") != 0)
        fail_msg("n=%zu k=%zu: %s", n, k, out);
    }
  }
}

/* The crash at the level of the builder: a 4-7 character secret in
 * the last bytes of a 1024-byte line, and secrets of every length straddling
 * the line's limit at every split. */
static void test_line_limit(void **state) {
  (void)state;
  char secret[65], text[2048];
  for (size_t n = 1; n <= 64; n++) {
    for (size_t i = 0; i < n; i++)
      secret[i] = TOKEN_CHARS[(i * 5 + n) % strlen(TOKEN_CHARS)];
    secret[n] = 0;
    const char *one[] = {secret};
    for (size_t end = 1023 - n; end <= 1023 + n; end++) {
      /* The secret ends at byte end of the text. */
      memset(text, 'f', end - n);
      memcpy(text + end - n, secret, n);
      memset(text + end, 'a', 40);
      text[end + 40] = 0;
      logline_t l;
      logline_init(&l, one, 1);
      logline_printf(&l, "x: %s", text);
      const char *out = finish(&l, SOURCE_LINE);
      if (strlen(out) > 1023 || leaks_token_char(out))
        fail_msg("n=%zu end=%zu: ...%s", n, end, out + 1000);
    }
  }
}

/* What the log gets: control characters as spaces, trimmed pieces, a line
 * cut on a UTF-8 boundary. */
static void test_cleaning(void **state) {
  (void)state;
  logline_t l;
  logline_init(&l, NULL, 0);
  const char *m = "line1\nline2\r\n\ttab";
  logline_data(&l, m, strlen(m), LOGLINE_TRIM);
  logline_add(&l, "|");
  m = " \n trimmed \x1b[31m\x7f ";
  logline_data(&l, m, strlen(m), LOGLINE_TRIM);
  assert_string_equal(finish(&l, 1024), "line1 line2   tab|trimmed  [31m");
  /* A control character in a secret is found before it is cleaned. */
  const char *tab[] = {"pa\tss"};
  logline_init(&l, tab, 1);
  logline_printf(&l, "got %s.", "pa\tss");
  assert_string_equal(finish(&l, 1024), "got <secret>.");
  /* Cut on a UTF-8 boundary. */
  logline_init(&l, NULL, 0);
  logline_add(&l, "ab\xe2\x82\xac");
  assert_string_equal(finish(&l, 5), "ab");
  logline_init(&l, NULL, 0);
  logline_add(&l, "ab\xe2\x82\xac");
  assert_string_equal(finish(&l, 6), "ab\xe2\x82\xac");
  /* A scrubbed copy for a caller to transform. */
  const char *one[] = {"QZX"};
  logline_init(&l, one, 1);
  size_t n = 0;
  char *c = logline_scrub(&l, "aQZXb\"QZ", 8, LOGLINE_CUT, &n);
  assert_string_equal(c, "a<secret>b\"<secret>");
  assert_int_equal(n, strlen(c));
  free(c);
  logline_free(&l);
}

/* --- whole polls against a server that echoes ------------------------------
 */

/* One poll of a Portainer source named name (token or username/password)
 * whose pages (and login) answer status with body; returns the one error
 * line it logged. */
static const char *echo_poll(const char *name, const char *token,
                             const char *password, int status,
                             const char *body) {
  logs_num = 0;
  mini_server_t *ms = ms_start(NULL);
  assert_non_null(ms);
  ms_route_t r[] = {
      {.path = "/api/", .prefix = true, .status = status, .body = body}};
  assert_int_equal(ms_set_routes(ms, r, 1), 0);
  source_conf_t conf;
  source_conf_init(&conf);
  conf.kind = SOURCE_PORTAINER;
  conf.name = strdup(name);
  conf.url = strdup(ms_url(ms));
  if (token != NULL)
    conf.token = strdup(token);
  if (password != NULL) {
    conf.username = strdup("admin");
    conf.password = strdup(password);
  }
  conf.interval = 10;
  source_t *s = source_new(&conf, "collector", log_cb, NULL);
  assert_non_null(s);
  assert_int_equal(source_poll(s), -1);
  source_free(s);
  ms_stop(ms);
  assert_int_equal(logs_num, 1);
  return logs[0];
}

/* {"message":"<fill x filler><secret>"} */
static char *echo_body(size_t filler, const char *secret, size_t after) {
  char *f = repeat('f', filler), *a = repeat('a', after);
  size_t n = filler + after + strlen(secret) + 32;
  char *b = malloc(n);
  assert_non_null(b);
  snprintf(b, n, "{\"message\":\"%s%s%s\"}", f, secret, a);
  free(f);
  free(a);
  return b;
}

/* The crash: a 4-7 character secret ending exactly at the end of
 * the 1024-byte line (ASan: negative-size-param in memmove). */
static void test_poll_secret_at_line_end(void **state) {
  (void)state;
  for (size_t slen = 4; slen <= 7; slen++) {
    char token[16];
    snprintf(token, sizeof(token), "%.*s", (int)slen, TOKEN_CHARS);
    /* `source "NAME": HTTP 401: <f...><token>` is 21 + 502 + 500 bytes. */
    char *name = repeat('n', 502);
    char *body = echo_body(500 - slen, token, 0);
    const char *line = echo_poll(name, token, NULL, 401, body);
    assert_false(leaks_token_char(line));
    assert_non_null(strstr(line, "HTTP 401: fff"));
    free(name);
    free(body);
  }
}

/* A secret straddling the line's 1023-byte limit, at every split. */
static void test_poll_secret_straddling_line_cut(void **state) {
  (void)state;
  const char *token = TOKEN_CHARS;
  size_t slen = strlen(token);
  for (size_t k = 1; k < slen; k++) { /* k bytes of it before the cut */
    char *name = repeat('n', 502);
    char *body = echo_body(500 - k, token, 0);
    const char *line = echo_poll(name, token, NULL, 401, body);
    if (leaks_token_char(line))
      fail_msg("k=%zu: the line ends with part of the token: ...%s", k,
               line + strlen(line) - 20);
    free(name);
    free(body);
  }
}

/* A secret straddling where the server's message used to be cut (511
 * bytes in describe()), at every split. */
static void test_poll_secret_straddling_message_cut(void **state) {
  (void)state;
  const char *token = TOKEN_CHARS;
  size_t slen = strlen(token);
  for (size_t k = 1; k < slen; k++) {
    char *body = echo_body(511 - k, token, 30);
    const char *line = echo_poll("echo", token, NULL, 401, body);
    if (leaks_token_char(line))
      fail_msg("k=%zu: part of the token leaked: %s", k, line);
    free(body);
  }
}

/* Secrets of 1 to 3 characters were never redacted. */
static void test_poll_short_secrets(void **state) {
  (void)state;
  for (size_t slen = 1; slen <= 3; slen++) {
    char token[8];
    snprintf(token, sizeof(token), "%.*s", (int)slen, TOKEN_CHARS);
    char body[128];
    snprintf(body, sizeof(body),
             "{\"message\":\"bad key %s\",\"details\":\"got %s.\"}", token,
             token);
    const char *line = echo_poll("echo", token, NULL, 401, body);
    assert_false(leaks_token_char(line));
    assert_non_null(strstr(line, "bad key <secret>"));
    assert_non_null(strstr(line, "got <secret>."));
  }
  /* A two-character password echoed by the login. */
  const char *line =
      echo_poll("echo", NULL, "Q7", 422,
                "{\"message\":\"Invalid credentials\",\"details\":"
                "\"{\\\"Username\\\":\\\"admin\\\",\\\"Password\\\":"
                "\\\"Q7\\\"}\"}");
  assert_null(strstr(line, "Q7"));
  assert_non_null(strstr(line, "\"Password\":\"<secret>\""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_words_and_data),
      cmocka_unit_test(test_cut_pieces),
      cmocka_unit_test(test_line_limit),
      cmocka_unit_test(test_cleaning),
      cmocka_unit_test(test_poll_secret_at_line_end),
      cmocka_unit_test(test_poll_secret_straddling_line_cut),
      cmocka_unit_test(test_poll_secret_straddling_message_cut),
      cmocka_unit_test(test_poll_short_secrets),
  };
  http_global_init();
  return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
