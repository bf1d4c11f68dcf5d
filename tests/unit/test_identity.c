/* Unit tests of identity.c: 128-byte fields, sanitizing, collisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static container_t *mk(const char *id, const char *name, const char *image,
                       const char *node) {
  container_t *c = container_new();
  assert_non_null(c);
  c->id = strdup(id);
  c->name = strdup(name);
  c->image = strdup(image);
  c->node = node ? strdup(node) : NULL;
  return c;
}

/* Valid UTF-8 with no byte that collectd or Prometheus text would mangle. */
static bool clean_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
      return false;
    int n = *p < 0x80             ? 1
            : (*p & 0xE0) == 0xC0 ? 2
            : (*p & 0xF0) == 0xE0 ? 3
            : (*p & 0xF8) == 0xF0 ? 4
                                  : 0;
    if (n == 0)
      return false;
    for (int i = 1; i < n; i++)
      if ((p[i] & 0xC0) != 0x80)
        return false;
    p += n;
  }
  return true;
}

static void test_short_values_unchanged(void **state) {
  (void)state;
  char buf[IDENTITY_SIZE];
  identity_field(buf, "web", NULL);
  assert_string_equal(buf, "web");
  identity_field(buf, "ghcr.io/org/app:1", NULL);
  assert_string_equal(buf, "ghcr.io/org/app:1"); /* collectd does the '/' */
  identity_field(buf, "caf\xc3\xa9-\xe2\x9c\x93", NULL);
  assert_string_equal(buf, "caf\xc3\xa9-\xe2\x9c\x93");
  identity_field(buf, NULL, NULL);
  assert_string_equal(buf, "");
}

static void test_hostile_bytes_replaced(void **state) {
  (void)state;
  char buf[IDENTITY_SIZE];
  identity_field(buf, "a\nb\"c\\d\te\x7f", NULL);
  assert_string_equal(buf, "a_b_c_d_e_");
  identity_field(buf, "bad\xff\xfeutf8\xc3", NULL);
  assert_string_equal(buf, "bad__utf8_");
  identity_field(buf, "\xed\xa0\x80surrogate", NULL);
  assert_true(clean_utf8(buf));
}

static void test_long_values_truncated_distinct(void **state) {
  (void)state;
  char a[IDENTITY_SIZE], b[IDENTITY_SIZE], long1[400], long2[400];
  memset(long1, 'x', 300);
  long1[300] = 0;
  strcpy(long2, long1);
  long2[299] = 'y';
  identity_field(a, long1, NULL);
  identity_field(b, long2, NULL);
  assert_int_equal(strlen(a), IDENTITY_SIZE - 1);
  assert_int_equal(strlen(b), IDENTITY_SIZE - 1);
  assert_string_not_equal(a, b);
  assert_non_null(strchr(a, '~'));
  /* Deterministic. */
  char again[IDENTITY_SIZE];
  identity_field(again, long1, NULL);
  assert_string_equal(a, again);
}

static void test_truncation_on_utf8_boundary(void **state) {
  (void)state;
  char src[600] = "", buf[IDENTITY_SIZE];
  for (int i = 0; i < 150; i++)
    strcat(src, "\xe2\x9c\x93"); /* 3-byte characters */
  identity_field(buf, src, NULL);
  assert_true(strlen(buf) <= IDENTITY_SIZE - 1);
  assert_true(clean_utf8(buf));
}

static void test_suffix_always_kept(void **state) {
  (void)state;
  char src[300], buf[IDENTITY_SIZE];
  memset(src, 'n', 250);
  src[250] = 0;
  identity_field(buf, src, "@node-1");
  size_t len = strlen(buf);
  assert_true(len <= IDENTITY_SIZE - 1);
  assert_string_equal(buf + len - 7, "@node-1");
}

static void test_same_name_two_nodes(void **state) {
  (void)state;
  container_t *cs[3] = {mk("aaaa", "web", "nginx", "node-a"),
                        mk("bbbb", "web", "nginx", "node-b"),
                        mk("cccc", "db", "postgres", "node-a")};
  identity_t ids[3];
  identity_assign(cs, 3, TYPE_INSTANCE_IMAGE, ids);
  assert_string_equal(ids[0].plugin_instance, "web@node-a");
  assert_string_equal(ids[1].plugin_instance, "web@node-b");
  assert_string_equal(ids[2].plugin_instance, "db"); /* no collision */
  assert_string_equal(ids[2].type_instance, "postgres");
  for (int i = 0; i < 3; i++)
    container_free(cs[i]);
}

static void test_same_name_different_image_no_collision(void **state) {
  (void)state;
  container_t *cs[2] = {mk("aaaa", "web", "nginx:1", NULL),
                        mk("bbbb", "web", "nginx:2", NULL)};
  identity_t ids[2];
  identity_assign(cs, 2, TYPE_INSTANCE_IMAGE, ids);
  assert_string_equal(ids[0].plugin_instance, "web");
  assert_string_equal(ids[1].plugin_instance, "web");
  for (int i = 0; i < 2; i++)
    container_free(cs[i]);
  /* ...but with TypeInstance none they collide and get the short id. */
  cs[0] = mk("aaaa", "web", "nginx:1", NULL);
  cs[1] = mk("bbbb", "web", "nginx:2", NULL);
  identity_assign(cs, 2, TYPE_INSTANCE_NONE, ids);
  assert_string_equal(ids[0].plugin_instance, "web~aaaa");
  assert_string_equal(ids[1].plugin_instance, "web~bbbb");
  assert_string_equal(ids[0].type_instance, "");
  for (int i = 0; i < 2; i++)
    container_free(cs[i]);
}

/* The plugin_instance identity_of() gives c once settled. */
static const char *pi_of(const container_t *c) {
  static identity_t id;
  identity_of(c, TYPE_INSTANCE_IMAGE, &id);
  return id.plugin_instance;
}

/* issue 8, 7: a Swarm node missing from one poll's list must not rename
 * the series of the same name on the other node. */
static void test_suffix_kept_while_container_exists(void **state) {
  (void)state;
  container_t *a = mk("aaaa", "web", "nginx", "node-a");
  container_t *b = mk("bbbb", "web", "nginx", "node-b");
  container_t *cs[2] = {a, b};
  identity_settle(cs, 2, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(a), "web@node-a");
  assert_string_equal(pi_of(b), "web@node-b");
  /* node-b's container is not listed: a keeps its name, alone. */
  identity_settle(cs, 1, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(a), "web@node-a");
  /* Back (or a new one there): both named as before. */
  container_t *b2 = mk("bbbb", "web", "nginx", "node-b");
  cs[1] = b2;
  identity_settle(cs, 2, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(a), "web@node-a");
  assert_string_equal(pi_of(b2), "web@node-b");
  container_free(a);
  container_free(b);
  container_free(b2);
}

static void test_newcomer_takes_the_suffix(void **state) {
  (void)state;
  /* Alone, a container has no suffix, and keeps none when a second
   * container of its name arrives: the newcomer takes one. */
  container_t *a = mk("aaaa", "web", "nginx", "node-a");
  container_t *cs[3] = {a, NULL, NULL};
  identity_settle(cs, 1, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(a), "web");
  container_t *b = mk("bbbb", "web", "nginx", "node-b");
  cs[1] = b;
  identity_settle(cs, 2, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(a), "web");
  assert_string_equal(pi_of(b), "web@node-b");
  /* Next to "web@node-b", a third of that name takes a suffix too, even
   * though plain "web" is taken by a: no two alike. */
  container_t *c = mk("cccc", "web", "nginx", "node-c");
  cs[2] = c;
  identity_settle(cs, 3, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(a), "web");
  assert_string_equal(pi_of(b), "web@node-b");
  assert_string_equal(pi_of(c), "web@node-c");
  /* The same node name (two nodes sharing a hostname): the short id. */
  container_t *d = mk("dddd", "web", "nginx", "node-c");
  container_t *cs4[4] = {a, b, c, d};
  identity_settle(cs4, 4, TYPE_INSTANCE_IMAGE, NULL);
  assert_string_equal(pi_of(c), "web@node-c");
  assert_string_equal(pi_of(d), "web@node-c~dddd");
  container_free(a);
  container_free(b);
  container_free(c);
  container_free(d);
}

static void test_two_keeping_the_same_identity(void **state) {
  (void)state;
  /* A rename makes two settled containers alike: the first by id keeps
   * the identity, the other moves on. */
  container_t *a = mk("aaaa", "web", "nginx", NULL);
  container_t *b = mk("bbbb", "api", "nginx", NULL);
  container_t *cs[2] = {b, a};
  identity_settle(cs, 2, TYPE_INSTANCE_IMAGE, NULL);
  free(b->name);
  b->name = strdup("web");
  identity_t ids[2];
  identity_settle(cs, 2, TYPE_INSTANCE_IMAGE, ids);
  assert_string_equal(ids[1].plugin_instance, "web");
  assert_string_equal(ids[0].plugin_instance, "web~bbbb");
  assert_string_equal(pi_of(b), "web~bbbb");
  assert_string_equal(pi_of(a), "web");
  container_free(a);
  container_free(b);
}

static void test_label_type_instance(void **state) {
  (void)state;
  container_t *c = mk("aaaa", "stack_web.1.xyz", "nginx", NULL);
  c->label = strdup("stack_web");
  container_t *d = mk("bbbb", "plain", "nginx", NULL);
  container_t *cs[2] = {c, d};
  identity_t ids[2];
  identity_assign(cs, 2, TYPE_INSTANCE_LABEL, ids);
  assert_string_equal(ids[0].type_instance, "stack_web");
  assert_string_equal(ids[1].type_instance, ""); /* label absent */
  container_free(c);
  container_free(d);
}

static int cmp_ids(const void *a, const void *b) {
  const identity_t *x = a, *y = b;
  int r = strcmp(x->plugin_instance, y->plugin_instance);
  return r ? r : strcmp(x->type_instance, y->type_instance);
}

static void test_ten_thousand_same_name(void **state) {
  (void)state;
  enum { N = 10000 };
  container_t **cs = calloc(N, sizeof(*cs));
  identity_t *ids = calloc(N, sizeof(*ids));
  assert_non_null(cs);
  assert_non_null(ids);
  for (int i = 0; i < N; i++) {
    char id[65];
    snprintf(id, sizeof(id), "%012x%052d", i * 7919, i);
    cs[i] = mk(id, "same", "img", (i % 2) ? "node-a" : NULL);
  }
  identity_assign(cs, N, TYPE_INSTANCE_IMAGE, ids);
  qsort(ids, N, sizeof(*ids), cmp_ids);
  for (int i = 1; i < N; i++)
    assert_int_not_equal(cmp_ids(&ids[i - 1], &ids[i]), 0);
  for (int i = 0; i < N; i++)
    container_free(cs[i]);
  free(cs);
  free(ids);
}

static void test_ids_sharing_a_prefix(void **state) {
  (void)state;
  container_t *cs[3] = {mk("abcdefabcdef0001", "x", "i", NULL),
                        mk("abcdefabcdef0002", "x", "i", NULL),
                        mk("abcdefabcdef0003", "x", "i", NULL)};
  identity_t ids[3];
  identity_assign(cs, 3, TYPE_INSTANCE_IMAGE, ids);
  assert_string_not_equal(ids[0].plugin_instance, ids[1].plugin_instance);
  assert_string_not_equal(ids[1].plugin_instance, ids[2].plugin_instance);
  assert_string_not_equal(ids[0].plugin_instance, ids[2].plugin_instance);
  assert_string_equal(ids[0].plugin_instance, "x~abcdefabcdef#1");
  for (int i = 0; i < 3; i++)
    container_free(cs[i]);
}

static void test_names_cannot_imitate_suffixes(void **state) {
  (void)state;
  container_t *cs[4] = {
      mk("aaaaaaaaaaaa1111", "web", "nginx", NULL),
      mk("bbbbbbbbbbbb2222", "web", "nginx", NULL),
      mk("cccccccccccc3333", "web~aaaaaaaaaaaa", "nginx", NULL),
      mk("dddddddddddd4444", "web~aaaaaaaaaaaa#1", "nginx", NULL)};
  identity_t ids[4];
  identity_assign(cs, 4, TYPE_INSTANCE_IMAGE, ids);
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      assert_string_not_equal(ids[i].plugin_instance, ids[j].plugin_instance);
  assert_string_equal(ids[3].plugin_instance, "web_aaaaaaaaaaaa_1");
  for (int i = 0; i < 4; i++)
    container_free(cs[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_short_values_unchanged),
      cmocka_unit_test(test_hostile_bytes_replaced),
      cmocka_unit_test(test_long_values_truncated_distinct),
      cmocka_unit_test(test_truncation_on_utf8_boundary),
      cmocka_unit_test(test_suffix_always_kept),
      cmocka_unit_test(test_same_name_two_nodes),
      cmocka_unit_test(test_same_name_different_image_no_collision),
      cmocka_unit_test(test_label_type_instance),
      cmocka_unit_test(test_ten_thousand_same_name),
      cmocka_unit_test(test_ids_sharing_a_prefix),
      cmocka_unit_test(test_names_cannot_imitate_suffixes),
      cmocka_unit_test(test_suffix_kept_while_container_exists),
      cmocka_unit_test(test_newcomer_takes_the_suffix),
      cmocka_unit_test(test_two_keeping_the_same_identity),
  };
  return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
