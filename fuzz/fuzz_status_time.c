/**
 * fuzz_status_time.c: container_status_parse (the list's Status strings),
 * container_parse_time (RFC 3339), and the state and health names.
 *
 * The input is the string.  container_parse_time reads it with an explicit
 * length from an exact-size block, whole and cut at a few places derived
 * from the input; container_status_parse reads a NUL-terminated copy.  A
 * time that parses is checked against gmtime().
 */
#include "fuzz_common.h"

#include "container.h"
#include "inventory.h"

#include <time.h>

static void check_status(const char *s) {
  container_status_t st;
  memset(&st, 0x5A, sizeof(st)); /* every field must be written */
  container_status_parse(s, &st);
  FUZZ_CHECK(st.health >= CHEALTH_NONE && st.health <= CHEALTH_STARTING,
             "health %d out of range", (int)st.health);
  FUZZ_CHECK(st.health_known || st.health == CHEALTH_NONE,
             "health without health_known");
  FUZZ_CHECK(st.exit_code_known || st.exit_code == 0,
             "exit code without exit_code_known");
  FUZZ_CHECK((int)st.health_known == 0 || (int)st.health_known == 1,
             "bool not written");
  FUZZ_CHECK((int)st.paused == 0 || (int)st.paused == 1, "bool not written");
  FUZZ_CHECK(!(st.paused && st.health_known), "paused and a health");
  int64_t lo = 0, hi = 0;
  if (status_uptime_bounds(s, &lo, &hi) == 0) {
    FUZZ_CHECK(strncmp(s, "Up ", 3) == 0, "uptime from \"%s\"", s);
    FUZZ_CHECK(lo <= hi, "uptime bounds %lld > %lld for \"%s\"", (long long)lo,
               (long long)hi, s);
  }
  if (st.exit_code_known)
    FUZZ_CHECK(strncmp(s, "Exited (", 8) == 0 ||
                   strncmp(s, "Restarting (", 12) == 0,
               "exit code from \"%s\"", s);
}

static void check_time(const uint8_t *data, size_t len) {
  char *s = malloc(len > 0 ? len : 1); /* not NUL-terminated on purpose */
  FUZZ_CHECK(s != NULL, "out of memory");
  if (len > 0)
    memcpy(s, data, len);
  int64_t t = container_parse_time(s, len);
  FUZZ_CHECK(t >= 0, "negative time %lld", (long long)t);
  if (t > 0 && len >= 20 && (s[len - 1] == 'Z' || s[len - 1] == 'z')) {
    /* UTC: the fields must come back from gmtime (leap second 60 aside). */
    time_t tt = (time_t)t;
    struct tm tm;
    FUZZ_CHECK(gmtime_r(&tt, &tm) != NULL, "gmtime");
    char want[20];
    snprintf(want, sizeof(want), "%04d-%02d-%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    bool leap = s[17] == '6' && s[18] == '0';
    if (!leap)
      FUZZ_CHECK(memcmp(s, want, 10) == 0, "\"%.*s\" gave %lld (%s)", (int)len,
                 s, (long long)t, want);
  }
  free(s);
}

static void check_names(const uint8_t *data, size_t len) {
  char *s = malloc(len > 0 ? len : 1);
  FUZZ_CHECK(s != NULL, "out of memory");
  if (len > 0)
    memcpy(s, data, len);
  container_state_t st = container_state_from_string(s, len);
  FUZZ_CHECK(st >= CSTATE_EXITED && st <= CSTATE_REMOVING, "state");
  const char *name = container_state_name(st);
  FUZZ_CHECK(name != NULL, "state name");
  if (st != CSTATE_UNKNOWN) /* names round-trip */
    FUZZ_CHECK(container_state_from_string(name, strlen(name)) == st,
               "state name round trip");
  int h = container_health_from_string(s, len);
  FUZZ_CHECK(h >= -1 && h <= CHEALTH_STARTING, "health %d", h);
  if (h >= 0) {
    const char *hn = container_health_name((container_health_t)h);
    FUZZ_CHECK(container_health_from_string(hn, strlen(hn)) == h,
               "health name round trip");
  }
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  FUZZ_CHECK(s != NULL, "out of memory");
  memcpy(s, data, size);
  s[size] = '\0';
  check_status(s);
  free(s);

  check_time(data, size);
  check_names(data, size);
  uint64_t seed = fuzz_hash(data, size);
  for (int i = 0; i < 3 && size > 1; i++) {
    size_t cut = (size_t)(fuzz_rand(&seed) % size);
    check_time(data, cut);
    char *p = malloc(cut + 1);
    FUZZ_CHECK(p != NULL, "out of memory");
    memcpy(p, data, cut);
    p[cut] = '\0';
    check_status(p);
    free(p);
  }
  return 0;
}
