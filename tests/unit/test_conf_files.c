/* Unit tests of conf_files.c: finding collectd's configuration files (the
 * -C argument, Include lines in every form, bounds) and the warning test
 * for a secret written in one that others can read (issue 9, item 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conf_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, mode_t mode, const char *fmt, ...) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *fh = fopen(path, "w");
  assert_non_null(fh);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(fh, fmt, ap);
  va_end(ap);
  fclose(fh);
  assert_int_equal(chmod(path, mode), 0);
}

static void sub(const char *name) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  assert_int_equal(mkdir(path, 0755), 0);
}

/* Is dir/name among the files found? */
static bool has(const conf_files_t *f, const char *name) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  for (size_t i = 0; i < f->num; i++)
    if (strcmp(f->paths[i], path) == 0)
      return true;
  return false;
}

static void check_main(const char *cmdline, size_t len, const char *want) {
  char *m = conf_files_main(cmdline, len, "/etc/default.conf");
  assert_non_null(m);
  assert_string_equal(m, want);
  free(m);
}

#define CMD(s) s, sizeof(s) /* the literal's own final NUL ends the last */

static void test_main_file(void **state) {
  (void)state;
  check_main(CMD("collectd\0-f\0-C\0/x/c.conf"), "/x/c.conf");
  check_main(CMD("collectd\0-C/y.conf\0-f"), "/y.conf");
  check_main(CMD("/usr/sbin/collectd\0-fC\0/z.conf"), "/z.conf");
  check_main(CMD("collectd\0-P\0/run/c.pid\0-C\0/w.conf"), "/w.conf");
  check_main(CMD("collectd\0-P\0-C"), "/etc/default.conf"); /* a pid file */
  check_main(CMD("collectd\0-f"), "/etc/default.conf");
  check_main(CMD("collectd\0--\0-C\0/a"), "/etc/default.conf");
  check_main(CMD("collectd\0-C"), "/etc/default.conf"); /* no value */
  check_main("", 0, "/etc/default.conf");
  check_main(CMD("-C\0/only-argv0"), "/etc/default.conf");
}

static void test_includes(void **state) {
  (void)state;
  sub("conf.d");
  sub("conf.d/sub");
  sub("block");
  put("main.conf", 0600,
      "# Include \"%s/never.conf\"\n"
      "Hostname \"h\"\n"
      "Include \"%s/conf.d\" \"*.conf\"\n"
      "  include %s/extra.conf\n"
      "<Include \"%s/block\">\n  Filter \"*.inc\"\n</Include>\n"
      "Include \"%s/glob-*.conf\"\r\n",
      dir, dir, dir, dir, dir);
  put("never.conf", 0600, "");
  put("conf.d/a.conf", 0644, "LoadPlugin x\n");
  put("conf.d/b.txt", 0644, "not included\n");
  put("conf.d/sub/c.conf", 0644, "");
  put("conf.d/.hidden.conf", 0644, "");
  put("extra.conf", 0644, "Include \"%s/main.conf\"\n", dir); /* a loop */
  put("block/x.inc", 0644, "");
  put("block/y.conf", 0644, "");
  put("glob-1.conf", 0644, "");
  put("glob-2.conf", 0644, "");
  char main[512];
  snprintf(main, sizeof(main), "%s/main.conf", dir);
  conf_files_t f;
  conf_files_find(main, &f);
  assert_true(has(&f, "main.conf"));
  assert_true(has(&f, "conf.d/a.conf"));
  assert_true(has(&f, "conf.d/sub/c.conf"));
  assert_true(has(&f, "extra.conf"));
  assert_true(has(&f, "block/x.inc"));
  assert_true(has(&f, "glob-1.conf"));
  assert_true(has(&f, "glob-2.conf"));
  assert_false(has(&f, "never.conf"));
  assert_false(has(&f, "conf.d/b.txt"));
  assert_false(has(&f, "conf.d/.hidden.conf"));
  assert_false(has(&f, "block/y.conf"));
  assert_int_equal(f.num, 7); /* main.conf once, in spite of the loop */
  conf_files_free(&f);
}

static void test_bounds(void **state) {
  (void)state;
  /* A chain of includes deeper than CONF_FILES_DEPTH. */
  for (int i = 0; i < 20; i++) {
    char name[32];
    snprintf(name, sizeof(name), "d%d.conf", i);
    put(name, 0600, "Include \"%s/d%d.conf\"\n", dir, i + 1);
  }
  char path[512];
  snprintf(path, sizeof(path), "%s/d0.conf", dir);
  conf_files_t f;
  conf_files_find(path, &f);
  assert_int_equal(f.num, CONF_FILES_DEPTH + 1);
  conf_files_free(&f);
  /* A directory of more files than CONF_FILES_MAX. */
  sub("many");
  for (int i = 0; i < CONF_FILES_MAX + 10; i++) {
    char name[32];
    snprintf(name, sizeof(name), "many/%03d.conf", i);
    put(name, 0600, "");
  }
  put("top.conf", 0600, "Include \"%s/many\"\n", dir);
  snprintf(path, sizeof(path), "%s/top.conf", dir);
  conf_files_find(path, &f);
  assert_int_equal(f.num, CONF_FILES_MAX);
  conf_files_free(&f);
}

static void test_exposing(void **state) {
  (void)state;
  sub("e.d");
  put("e.conf", 0600, "Include \"%s/e.d\"\nToken \"not-this\"\n", dir);
  put("e.d/p.conf", 0644,
      "# Token \"commented\"\n"
      "LoadPlugin tokenish\n"
      "<Plugin portainer>\n <Portainer \"a\">\n  Token \"ptr_Inline1\"\n"
      "\ttoken bare-token # a comment\n"
      "  Password \"pa\\\"ss\\\\word\"\n </Portainer>\n</Plugin>\n");
  char main[512];
  snprintf(main, sizeof(main), "%s/e.conf", dir);
  conf_files_t f;
  conf_files_find(main, &f);
  unsigned mode = 0;
  const char *at = conf_files_exposing(&f, "Token", "ptr_Inline1", &mode);
  assert_non_null(at);
  assert_true(strstr(at, "/e.d/p.conf") != NULL);
  assert_int_equal(mode, 0644);
  assert_non_null(conf_files_exposing(&f, "Token", "bare-token", &mode));
  /* Written escaped in a quoted string. */
  assert_non_null(conf_files_exposing(&f, "Password", "pa\"ss\\word", &mode));
  /* Only the value of such a line: not a comment, not a mere occurrence
   * (a one-character secret occurs in any file), not another option. */
  assert_null(conf_files_exposing(&f, "Token", "commented", &mode));
  assert_null(conf_files_exposing(&f, "Token", "a", &mode));
  assert_null(conf_files_exposing(&f, "Token", "ptr_Inline", &mode));
  assert_null(conf_files_exposing(&f, "Password", "ptr_Inline1", &mode));
  /* In a file only its owner can read: nothing to say. */
  assert_null(conf_files_exposing(&f, "Token", "not-this", &mode));
  assert_null(conf_files_exposing(&f, "Token", "", &mode));
  char p[512];
  snprintf(p, sizeof(p), "%s/e.d/p.conf", dir);
  assert_int_equal(chmod(p, 0600), 0);
  assert_null(conf_files_exposing(&f, "Token", "ptr_Inline1", &mode));
  assert_int_equal(chmod(p, 0640), 0); /* the group counts too */
  assert_non_null(conf_files_exposing(&f, "Token", "ptr_Inline1", &mode));
  assert_int_equal(mode, 0640);
  conf_files_free(&f);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/portainer-conf-XXXXXX");
  return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  /* Only the directory this test made (mkdtemp), by its exact path. */
  snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_main_file),
      cmocka_unit_test_setup_teardown(test_includes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exposing, setup, teardown),
  };
  return cmocka_run_group_tests_name("conf_files", tests, NULL, NULL);
}
