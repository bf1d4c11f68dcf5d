/**
 * fuzz_identity.c: identity_field and identity_assign.
 *
 * Input: one container per line, tab-separated fields
 *   name \t image \t label \t node \t id
 * (missing fields are NULL, an empty id gets a generated 64-hex id).  The
 * type_instance mode comes from a hash of the input.
 *
 * Checks: every field written is NUL-terminated within IDENTITY_SIZE, valid
 * UTF-8, free of control characters, '"' and '\'; a short suffix is kept
 * whole (identity_field keeps at most IDENTITY_SIZE / 2 bytes of it, less
 * than identity.h's "always kept whole" promises; the plugin's own suffixes
 * are at most 61 bytes); a short, clean value is copied as it is; results are
 * deterministic; and when every id is 12+ hex digits, distinct in its first
 * 12, no two containers share a (plugin_instance, type_instance) pair.
 *
 * The last check applies to names and nodes Docker itself accepts
 * ([a-zA-Z0-9][a-zA-Z0-9_.-]*); with FUZZ_IDENTITY_STRICT=1 in the
 * environment it applies to any name a hostile server could send (names
 * holding '~', '@' or '#' can still collide: see fuzz/RESULTS.md).
 */
#include "fuzz_common.h"

#include "container.h"
#include "identity.h"

#define MAX_CONTAINERS 256

/* Strict UTF-8 (RFC 3629): length of the sequence at s, 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t max) {
  if (s[0] < 0x80)
    return 1;
  size_t n;
  uint32_t cp;
  if (s[0] >= 0xC2 && s[0] <= 0xDF) {
    n = 2;
    cp = s[0] & 0x1F;
  } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    n = 3;
    cp = s[0] & 0x0F;
  } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    n = 4;
    cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if (n > max)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

static void check_field(const char *f, const char *what) {
  size_t n = strnlen(f, IDENTITY_SIZE);
  FUZZ_CHECK(n < IDENTITY_SIZE, "%s not terminated", what);
  const unsigned char *s = (const unsigned char *)f;
  for (size_t i = 0; i < n;) {
    FUZZ_CHECK(s[i] >= 0x20 && s[i] != 0x7f && s[i] != '"' && s[i] != '\\',
               "%s has byte 0x%02x: \"%s\"", what, s[i], f);
    size_t l = utf8_len(s + i, n - i);
    FUZZ_CHECK(l > 0, "%s is not valid UTF-8 at %zu: \"%s\"", what, i, f);
    i += l;
  }
}

/* Printable ASCII without '"' and '\': identity_field copies it as is. */
static bool clean_ascii(const char *s) {
  for (; *s != '\0'; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"' ||
        *s == '\\')
      return false;
  return true;
}

static void check_identity_field(const char *src, const char *suffix) {
  char a[IDENTITY_SIZE], b[IDENTITY_SIZE];
  memset(a, 'X', sizeof(a));
  identity_field(a, src, suffix);
  check_field(a, "identity_field");
  identity_field(b, src, suffix);
  FUZZ_CHECK(strcmp(a, b) == 0, "identity_field not deterministic");
  size_t sl = suffix != NULL ? strlen(suffix) : 0;
  if (suffix != NULL && clean_ascii(suffix) && sl <= IDENTITY_SIZE / 2) {
    size_t al = strlen(a);
    FUZZ_CHECK(al >= sl && strcmp(a + al - sl, suffix) == 0,
               "suffix \"%s\" lost: \"%s\"", suffix, a);
  }
  if (src != NULL && clean_ascii(src) &&
      (suffix == NULL || (clean_ascii(suffix) && sl <= IDENTITY_SIZE / 2)) &&
      strlen(src) + sl < IDENTITY_SIZE) {
    char want[2 * IDENTITY_SIZE];
    snprintf(want, sizeof(want), "%s%s", src, suffix != NULL ? suffix : "");
    FUZZ_CHECK(strcmp(a, want) == 0, "\"%s\" became \"%s\"", want, a);
  }
}

static char *dup_field(const char *s, size_t n) {
  char *p = malloc(n + 1);
  FUZZ_CHECK(p != NULL, "out of memory");
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* A name Docker accepts for a container (and a plausible node name). */
static bool docker_name_ok(const char *s) {
  if (s == NULL || s[0] == '\0')
    return false;
  for (const char *p = s; *p != '\0'; p++) {
    bool alnum = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= 'A' && *p <= 'Z');
    if (!alnum && (p == s || (*p != '_' && *p != '.' && *p != '-')))
      return false;
  }
  return true;
}

static bool hex12(const char *id) {
  size_t n = strlen(id);
  if (n < 12)
    return false;
  for (size_t i = 0; i < 12; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return false;
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  container_t *cs[MAX_CONTAINERS];
  size_t n = 0;
  uint64_t seed = fuzz_hash(data, size);
  const char *p = (const char *)data, *end = p + size;
  while (p < end && n < MAX_CONTAINERS) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL)
      eol = end;
    char *f[5] = {NULL, NULL, NULL, NULL, NULL};
    const char *q = p;
    for (int k = 0; k < 5 && q <= eol; k++) {
      const char *tab = memchr(q, '\t', (size_t)(eol - q));
      if (tab == NULL)
        tab = eol;
      f[k] = dup_field(q, (size_t)(tab - q)); /* cut at a NUL byte */
      q = tab + 1;
    }
    container_t *c = container_new();
    FUZZ_CHECK(c != NULL, "out of memory");
    c->name = f[0];
    c->image = f[1];
    c->label = f[2];
    c->node = f[3];
    c->id = f[4];
    if (c->name == NULL)
      c->name = dup_field("", 0);
    if (c->id == NULL || c->id[0] == '\0') { /* a generated, unique id */
      free(c->id);
      c->id = malloc(65);
      FUZZ_CHECK(c->id != NULL, "out of memory");
      for (int k = 0; k < 4; k++)
        snprintf(c->id + 16 * k, 17, "%016llx",
                 (unsigned long long)fuzz_rand(&seed));
    }
    cs[n++] = c;
    p = eol + 1;
  }

  /* identity_field on every value, with and without a suffix. */
  for (size_t i = 0; i < n; i++) {
    check_identity_field(cs[i]->name, NULL);
    check_identity_field(cs[i]->name, cs[i]->node);
    check_identity_field(cs[i]->image, cs[i]->label);
    check_identity_field(NULL, cs[i]->id);
  }

  type_instance_mode_t mode = (type_instance_mode_t)(fuzz_hash(data, size) % 3);
  identity_t *ids = calloc(n > 0 ? n : 1, sizeof(*ids));
  identity_t *again = calloc(n > 0 ? n : 1, sizeof(*again));
  FUZZ_CHECK(ids != NULL && again != NULL, "out of memory");
  identity_assign(cs, n, mode, ids);
  identity_assign(cs, n, mode, again);
  static int strict = -1;
  if (strict < 0) {
    const char *e = getenv("FUZZ_IDENTITY_STRICT");
    strict = e != NULL && e[0] == '1';
  }
  bool ids_distinct = true;
  for (size_t i = 0; i < n; i++) {
    check_field(ids[i].plugin_instance, "plugin_instance");
    check_field(ids[i].type_instance, "type_instance");
    /* (The fields, not the bytes past their NUL: a second call starts from
     * the suffixes the first one settled and writes each field fewer times.) */
    FUZZ_CHECK(strcmp(ids[i].plugin_instance, again[i].plugin_instance) == 0 &&
                   strcmp(ids[i].type_instance, again[i].type_instance) == 0,
               "identity_assign not deterministic");
    if (!hex12(cs[i]->id))
      ids_distinct = false;
    if (!strict && (!docker_name_ok(cs[i]->name) ||
                    (cs[i]->node != NULL && cs[i]->node[0] != '\0' &&
                     !docker_name_ok(cs[i]->node))))
      ids_distinct = false; /* not a name Docker would send */
    for (size_t j = 0; j < i && ids_distinct; j++)
      if (strncmp(cs[i]->id, cs[j]->id, 12) == 0)
        ids_distinct = false;
  }
  if (ids_distinct) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < i; j++)
        FUZZ_CHECK(strcmp(ids[i].plugin_instance, ids[j].plugin_instance) !=
                           0 ||
                       strcmp(ids[i].type_instance, ids[j].type_instance) != 0,
                   "containers %zu and %zu (ids %.12s, %.12s) share the "
                   "identity \"%s\"/\"%s\"",
                   j, i, cs[j]->id, cs[i]->id, ids[i].plugin_instance,
                   ids[i].type_instance);
  }
  free(ids);
  free(again);
  for (size_t i = 0; i < n; i++)
    container_free(cs[i]);
  return 0;
}
