/* Unit tests of registry.c: which source writes a container identity when
 * several of one collectd could (issue 8, 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void test_first_configured_wins(void **state) {
  (void)state;
  registry_t *r = registry_new();
  assert_non_null(r);
  int a = registry_writer(r, "alpha");
  int b = registry_writer(r, "beta");
  assert_int_equal(a, 0);
  assert_int_equal(b, 1);
  assert_string_equal(registry_writer_name(r, b), "beta");
  assert_string_equal(registry_writer_name(r, 7), "");

  /* beta polls first: nobody wrote "local/portainer" yet. */
  int owner = -1;
  registry_begin(r, b);
  assert_true(registry_claim(r, b, "local", "portainer", "img", &owner));
  registry_end(r, b);
  /* alpha, configured first, writes it whatever beta did. */
  registry_begin(r, a);
  assert_true(registry_claim(r, a, "local", "portainer", "img", &owner));
  assert_true(registry_claim(r, a, "local", "web", "img", &owner));
  registry_end(r, a);
  /* From now on beta is refused that identity, every poll, and only that
   * one: another host, name or type is its own. */
  for (int poll = 0; poll < 3; poll++) {
    registry_begin(r, b);
    owner = -1;
    assert_false(registry_claim(r, b, "local", "portainer", "img", &owner));
    assert_int_equal(owner, a);
    assert_true(registry_claim(r, b, "local", "db", "img", NULL));
    assert_true(registry_claim(r, b, "other", "portainer", "img", NULL));
    assert_true(registry_claim(r, b, "local", "portainer", "img2", NULL));
    registry_end(r, b);
  }
  /* alpha's next emit no longer has it (its environment went down): beta
   * may write it again. */
  registry_begin(r, a);
  assert_true(registry_claim(r, a, "local", "web", "img", NULL));
  registry_end(r, a);
  registry_begin(r, b);
  assert_true(registry_claim(r, b, "local", "portainer", "img", NULL));
  registry_end(r, b);
  registry_free(r);
}

static void test_fields_do_not_run_together(void **state) {
  (void)state;
  registry_t *r = registry_new();
  int a = registry_writer(r, "a");
  int b = registry_writer(r, "b");
  registry_begin(r, a);
  assert_true(registry_claim(r, a, "ab", "c", "d", NULL));
  registry_end(r, a);
  registry_begin(r, b);
  assert_true(registry_claim(r, b, "a", "bc", "d", NULL));
  assert_true(registry_claim(r, b, "ab", "", "cd", NULL));
  assert_false(registry_claim(r, b, "ab", "c", "d", NULL));
  registry_end(r, b);
  registry_free(r);
}

static void test_single_source_and_conflict_log_once(void **state) {
  (void)state;
  registry_t *r = registry_new();
  int a = registry_writer(r, "only");
  registry_begin(r, a);
  assert_true(registry_claim(r, a, "h", "x", "t", NULL));
  assert_true(registry_claim(r, a, "h", "x", "t", NULL));
  registry_end(r, a);
  assert_true(registry_first_conflict(r, 1, 0, "local"));
  assert_false(registry_first_conflict(r, 1, 0, "local"));
  assert_true(registry_first_conflict(r, 1, 0, "other"));
  assert_true(registry_first_conflict(r, 2, 0, "local"));
  assert_true(registry_claim(r, -1, "h", "x", "t", NULL)); /* no writer */
  registry_free(r);
  registry_free(NULL);
}

/* Read callbacks run on several threads at once. */
typedef struct {
  registry_t *r;
  int w;
  int refused;
} worker_t;

static void *worker(void *p) {
  worker_t *wk = p;
  char name[32];
  for (int poll = 0; poll < 50; poll++) {
    registry_begin(wk->r, wk->w);
    for (int i = 0; i < 200; i++) {
      snprintf(name, sizeof(name), "c%d", i);
      if (!registry_claim(wk->r, wk->w, "shared", name, "img", NULL))
        wk->refused++;
    }
    registry_end(wk->r, wk->w);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  registry_t *r = registry_new();
  worker_t wk[3];
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    char n[8];
    snprintf(n, sizeof(n), "s%d", i);
    wk[i] = (worker_t){.r = r, .w = registry_writer(r, n), .refused = 0};
  }
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&t[i], NULL, worker, &wk[i]), 0);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  /* The first is never refused; the others are, once it has written. */
  assert_int_equal(wk[0].refused, 0);
  registry_begin(r, wk[2].w);
  assert_false(registry_claim(r, wk[2].w, "shared", "c7", "img", NULL));
  registry_end(r, wk[2].w);
  registry_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_configured_wins),
      cmocka_unit_test(test_fields_do_not_run_together),
      cmocka_unit_test(test_single_source_and_conflict_log_once),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
