/**
 * fuzz_errors.c: the small whole-body parsers and builders.
 *
 *  - api_error_parse (Docker/Portainer error bodies), on the whole input
 *    and on prefixes of it (error bodies are capped, so often cut short),
 *    from an exact-size heap block;
 *  - pt_auth_parse_jwt (POST /api/auth response), whole and prefixes;
 *  - pt_auth_body: the input split at its first NUL is a username and a
 *    password; the body built from them must parse back to the same two
 *    strings (no JSON injection);
 *  - docker_path_inspect with the input as the id.
 */
#include "fuzz_common.h"

#include "docker_api.h"
#include "json_stream_impl.h"
#include "portainer_api.h"

/* Each string handed out is whole (NUL-terminated within the cap), never
 * empty, details never repeat the message, and a cut flag is set when a
 * string reached the cap. */
static void check_error_parse(const uint8_t *body, size_t len) {
  /* An exact-size copy: reads past len trip ASan. */
  char *b = malloc(len > 0 ? len : 1);
  FUZZ_CHECK(b != NULL, "out of memory");
  if (len > 0)
    memcpy(b, body, len);
  api_error_t e;
  api_error_parse(b, len, &e);
  const char *parts[] = {e.message, e.details};
  const bool cut[] = {e.message_cut, e.details_cut};
  for (size_t i = 0; i < 2; i++) {
    if (parts[i] == NULL)
      continue;
    size_t n = strnlen(parts[i], JSON_MAX_STRING + 1);
    FUZZ_CHECK(n <= JSON_MAX_STRING, "part %zu longer than the cap", i);
    FUZZ_CHECK(n < JSON_MAX_STRING - 3 || cut[i], "part %zu cut, not flagged",
               i);
  }
  FUZZ_CHECK(e.details == NULL || e.details[0] != 0, "empty details");
  FUZZ_CHECK(e.details == NULL || e.message == NULL ||
                 strcmp(e.message, e.details) != 0,
             "details repeat the message");
  api_error_free(&e);
  FUZZ_CHECK(e.message == NULL && e.details == NULL, "not released");
  free(b);
}

static void check_jwt(const uint8_t *body, size_t len) {
  char *b = malloc(len > 0 ? len : 1);
  FUZZ_CHECK(b != NULL, "out of memory");
  if (len > 0)
    memcpy(b, body, len);
  char *jwt = pt_auth_parse_jwt(b, len);
  if (jwt != NULL) {
    size_t n = strlen(jwt);
    FUZZ_CHECK(n > 0 && n < JSON_MAX_STRING, "jwt length %zu", n);
    for (size_t k = 0; k < n; k++) {
      char ch = jwt[k];
      bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                (ch >= 'A' && ch <= 'Z') || strchr("-_.=+/", ch) != NULL;
      FUZZ_CHECK(ok, "jwt with byte 0x%02x (goes into a header)",
                 (unsigned char)ch);
    }
    free(jwt);
  }
  free(b);
}

static void check_auth_body(const uint8_t *data, size_t size) {
  /* username NUL password (NUL-free tails are cut at the next NUL). */
  char *copy = malloc(size + 2);
  FUZZ_CHECK(copy != NULL, "out of memory");
  memcpy(copy, data, size);
  copy[size] = '\0';
  copy[size + 1] = '\0';
  const char *user = copy;
  size_t ulen = strlen(user);
  const char *pass = ulen < size ? copy + ulen + 1 : copy + size + 1;
  char *body = pt_auth_body(user, pass);
  FUZZ_CHECK(body != NULL, "pt_auth_body failed");
  /* Portainer's decoder matches member names case-insensitively: accept
   * either spelling, but exactly one member of each. */
  static const char *const names[] = {"Username", "username", "Password",
                                      "password"};
  char *out[4];
  int rc = js_read_top_strings(body, strlen(body), names, out, 4);
  FUZZ_CHECK(rc == 0, "the auth body is not a JSON object: %s", body);
  FUZZ_CHECK((out[0] != NULL) + (out[1] != NULL) == 1 &&
                 (out[2] != NULL) + (out[3] != NULL) == 1,
             "a member is missing or repeated: %s", body);
  const char *u = out[0] != NULL ? out[0] : out[1];
  const char *pw = out[2] != NULL ? out[2] : out[3];
  /* Values up to the cap must come back byte for byte. */
  if (strlen(user) <= JSON_MAX_STRING)
    FUZZ_CHECK(strcmp(u, user) == 0, "username changed: %s", body);
  if (strlen(pass) <= JSON_MAX_STRING)
    FUZZ_CHECK(strcmp(pw, pass) == 0, "password changed: %s", body);
  for (int i = 0; i < 4; i++)
    free(out[i]);
  free(body);
  free(copy);
}

static void check_path_inspect(const uint8_t *data, size_t size) {
  char *id = malloc(size + 1);
  FUZZ_CHECK(id != NULL, "out of memory");
  memcpy(id, data, size);
  id[size] = '\0';
  static const size_t sizes[] = {1, 16, 64, 300};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *buf = malloc(sizes[i]);
    FUZZ_CHECK(buf != NULL, "out of memory");
    int rc = docker_path_inspect(buf, sizes[i], id);
    FUZZ_CHECK(strnlen(buf, sizes[i]) < sizes[i], "path not terminated");
    if (rc == 0) {
      const char *seg = buf + strlen("/containers/");
      size_t n = strlen(seg) - strlen("/json");
      FUZZ_CHECK(n > 0, "empty id accepted");
      FUZZ_CHECK(!(n == 1 && seg[0] == '.') &&
                     !(n == 2 && seg[0] == '.' && seg[1] == '.'),
                 "dot segment accepted: %s", buf);
      for (size_t k = 0; k < n; k++)
        FUZZ_CHECK(strchr("/?#%&+ ", seg[k]) == NULL &&
                       (unsigned char)seg[k] > 0x20 &&
                       (unsigned char)seg[k] < 0x7f,
                   "unsafe byte 0x%02x in the path", (unsigned char)seg[k]);
    } else {
      FUZZ_CHECK(buf[0] == '\0', "failed but left a path");
    }
    free(buf);
  }
  free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_error_parse(data, size);
  check_jwt(data, size);
  /* Prefixes: bodies cut short at a few places derived from the input. */
  uint64_t seed = fuzz_hash(data, size);
  for (int i = 0; i < 3 && size > 1; i++) {
    size_t cut = (size_t)(fuzz_rand(&seed) % size);
    check_error_parse(data, cut);
    check_jwt(data, cut);
  }
  check_auth_body(data, size);
  check_path_inspect(data, size);
  return 0;
}
