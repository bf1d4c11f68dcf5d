/* Unit tests of config.c: every option, every error path, no secret logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectd_stub.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET   "ptr_s3cr3tTOKENvalue"
#define PASSWORD "hunter2-pass"

/* --- building configuration trees ------------------------------------ */

static oconfig_item_t *block(const char *key, const char *name) {
  oconfig_item_t *ci = calloc(1, sizeof(*ci));
  ci->key = strdup(key);
  if (name != NULL) {
    ci->values = calloc(1, sizeof(*ci->values));
    ci->values[0].type = OCONFIG_TYPE_STRING;
    ci->values[0].value.string = strdup(name);
    ci->values_num = 1;
  }
  return ci;
}

static oconfig_item_t *child(oconfig_item_t *parent, const char *key) {
  parent->children = realloc(parent->children, (parent->children_num + 1) *
                                                   sizeof(oconfig_item_t));
  oconfig_item_t *c = &parent->children[parent->children_num++];
  memset(c, 0, sizeof(*c));
  c->key = strdup(key);
  c->parent = parent;
  return c;
}

static oconfig_value_t *add_value(oconfig_item_t *c) {
  c->values = realloc(c->values, (c->values_num + 1) * sizeof(*c->values));
  return &c->values[c->values_num++];
}

static void opt_s(oconfig_item_t *p, const char *key, const char *v) {
  oconfig_value_t *val = add_value(child(p, key));
  val->type = OCONFIG_TYPE_STRING;
  val->value.string = strdup(v);
}

static void opt_n(oconfig_item_t *p, const char *key, double v) {
  oconfig_value_t *val = add_value(child(p, key));
  val->type = OCONFIG_TYPE_NUMBER;
  val->value.number = v;
}

static void opt_b(oconfig_item_t *p, const char *key, bool v) {
  oconfig_value_t *val = add_value(child(p, key));
  val->type = OCONFIG_TYPE_BOOLEAN;
  val->value.boolean = v;
}

static void item_free_members(oconfig_item_t *ci) {
  for (int i = 0; i < ci->values_num; i++)
    if (ci->values[i].type == OCONFIG_TYPE_STRING)
      free(ci->values[i].value.string);
  free(ci->values);
  for (int i = 0; i < ci->children_num; i++)
    item_free_members(&ci->children[i]);
  free(ci->children);
  free(ci->key);
}

static void item_free(oconfig_item_t *ci) {
  item_free_members(ci);
  free(ci);
}

/* Parses, checks the outcome, and that no secret reached the log. */
static int parse(oconfig_item_t *ci, source_conf_t *out) {
  stub_reset();
  int status = config_parse_source(ci, out);
  assert_int_equal(stub_logs_matching(SECRET), 0);
  assert_int_equal(stub_logs_matching(PASSWORD), 0);
  item_free(ci);
  return status;
}

static int setup(void **state) {
  (void)state;
  unsetenv("PORTAINER_URL");
  unsetenv("PORTAINER_TOKEN");
  return 0;
}

/* --- tests ----------------------------------------------------------- */

static void test_portainer_full(void **state) {
  (void)state;
  oconfig_item_t *ci = block("Portainer", "main");
  opt_s(ci, "URL", "https://portainer.example.org:9443/");
  opt_s(ci, "Token", SECRET);
  opt_n(ci, "Timeout", 2500);
  opt_n(ci, "Interval", 30);
  opt_s(ci, "EndpointInclude", "^prod-");
  opt_s(ci, "EndpointExclude", "-old$");
  opt_s(ci, "ContainerInclude", ".");
  opt_s(ci, "ContainerExclude", "^tmp");
  opt_s(ci, "Shard", "2/4");
  opt_s(ci, "TypeInstance", "label:com.docker.swarm.service.name");
  oconfig_item_t *col = child(ci, "Collect");
  add_value(col)->type = OCONFIG_TYPE_STRING;
  col->values[0].value.string = strdup("state");
  add_value(col)->type = OCONFIG_TYPE_STRING;
  col->values[1].value.string = strdup("Exit_Code");
  opt_n(ci, "MaxConcurrentRequests", 8);
  opt_n(ci, "MaxResponseSize", 1048576);
  opt_n(ci, "PageSize", 50);
  opt_n(ci, "FullInspectEvery", 5);
  oconfig_item_t *grp = child(ci, "EndpointGroupId");
  add_value(grp)->type = OCONFIG_TYPE_NUMBER;
  grp->values[0].value.number = 1;
  add_value(grp)->type = OCONFIG_TYPE_NUMBER;
  grp->values[1].value.number = 3;
  opt_n(ci, "EndpointTagId", 5);
  source_conf_t c;
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.kind, SOURCE_PORTAINER);
  assert_string_equal(c.name, "main");
  assert_string_equal(c.url, "https://portainer.example.org:9443");
  assert_string_equal(c.token, SECRET);
  assert_int_equal(c.timeout_ms, 2500);
  assert_true(c.interval == 30.0);
  assert_true(c.env_include.set && c.env_exclude.set);
  assert_true(c.ct_include.set && c.ct_exclude.set);
  assert_int_equal(c.shard_index, 2);
  assert_int_equal(c.shard_count, 4);
  assert_int_equal(c.ti_mode, TYPE_INSTANCE_LABEL);
  assert_string_equal(c.ti_label, "com.docker.swarm.service.name");
  assert_int_equal(c.collect, COLLECT_STATE | COLLECT_EXIT_CODE);
  assert_int_equal(c.max_in_flight, 8);
  assert_int_equal(c.max_response_size, 1048576);
  assert_int_equal(c.page_size, 50);
  assert_int_equal(c.full_inspect_every, 5);
  assert_int_equal(c.group_ids_num, 2);
  assert_int_equal(c.group_ids[1], 3);
  assert_int_equal(c.tag_ids_num, 1);
  assert_int_equal(c.tag_ids[0], 5);
  assert_true(c.verify_peer && c.verify_host);
  source_conf_free(&c);
}

static void test_defaults_and_env(void **state) {
  (void)state;
  setenv("PORTAINER_URL", "http://127.0.0.1:9000", 1);
  setenv("PORTAINER_TOKEN", SECRET, 1);
  source_conf_t c;
  assert_int_equal(parse(block("Portainer", "env"), &c), 0);
  assert_string_equal(c.url, "http://127.0.0.1:9000");
  assert_string_equal(c.token, SECRET);
  assert_int_equal(c.timeout_ms, SOURCE_DEFAULT_TIMEOUT_MS);
  assert_int_equal(c.collect, COLLECT_ALL);
  assert_int_equal(c.ti_mode, TYPE_INSTANCE_IMAGE);
  source_conf_free(&c);
  unsetenv("PORTAINER_URL");
  unsetenv("PORTAINER_TOKEN");
}

static void test_docker_defaults(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Docker", "local");
  opt_s(ci, "Host", "myhost");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.kind, SOURCE_DOCKER);
  assert_string_equal(c.socket, "/var/run/docker.sock");
  assert_string_equal(c.host, "myhost");
  assert_null(c.url);
  source_conf_free(&c);
}

static void test_username_password(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Portainer", "jwt");
  opt_s(ci, "URL", "http://127.0.0.1:9000");
  opt_s(ci, "Username", "admin");
  opt_s(ci, "Password", PASSWORD);
  assert_int_equal(parse(ci, &c), 0);
  assert_string_equal(c.username, "admin");
  assert_string_equal(c.password, PASSWORD);
  assert_null(c.token);
  source_conf_free(&c);
}

/* A new 0600 file in /tmp holding text; its name in path (mkstemp). */
static void token_file(char *path, const char *text) {
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  chmod(path, 0600);
}

/* Parses a Portainer block whose token comes from TokenFile path. */
static int parse_token_file(const char *path, source_conf_t *c) {
  oconfig_item_t *ci = block("Portainer", "tf");
  opt_s(ci, "URL", "http://127.0.0.1:9000");
  opt_s(ci, "TokenFile", path);
  return parse(ci, c);
}

static void test_token_file(void **state) {
  (void)state;
  char path[] = "/tmp/portainer-token-XXXXXX";
  token_file(path, "  " SECRET "  \nsecond line\n");
  source_conf_t c;
  assert_int_equal(parse_token_file(path, &c), 0);
  assert_string_equal(c.token, SECRET);
  assert_int_equal(stub_logs_matching("can be read by others"), 0);
  source_conf_free(&c);

  chmod(path, 0644);
  assert_int_equal(parse_token_file(path, &c), 0);
  assert_int_equal(stub_logs_matching("can be read by others"), 1);
  source_conf_free(&c);
  unlink(path);
}

/* Does the stack below the caller still hold needle (what the calls just
 * returned from left there)?  The area is read through an asm barrier:
 * the compiler cannot assume anything about it. */
static __attribute__((noinline)) bool stack_holds(const char *needle) {
  char area[64 * 1024];
  __asm__ volatile("" : : "r"(area) : "memory");
  static char copy[sizeof(area)];
  memcpy(copy, area, sizeof(area));
  return memmem(copy, sizeof(copy), needle, strlen(needle)) != NULL;
}

/* The buffer read_token_file() read the token into is wiped (a memset() of
 * a buffer about to go out of scope is a dead store gcc removes). */
static void test_token_file_buffer_wiped(void **state) {
  (void)state;
  char path[] = "/tmp/portainer-token-XXXXXX";
  token_file(path, SECRET "\n");
  source_conf_t c;
  assert_int_equal(parse_token_file(path, &c), 0);
  bool left = stack_holds(SECRET);
  source_conf_free(&c);
  unlink(path);
  assert_false(left);
}

/* Credentials over http:// to a host that is not loopback (judged by the
 * URL's text: nothing is resolved) draw one warning; nothing else does. */
static void test_cleartext_warning(void **state) {
  (void)state;
  static const struct {
    const char *url;
    bool warn;
  } cases[] = {
      {"http://portainer.example.org:9000", true},
      {"HTTP://10.0.0.5:9000/portainer", true},
      {"http://127.0.0.1.nip.io", true},
      {"http://127.0.0.1@portainer.example.org", true}, /* userinfo */
      {"http://[::2]:9000", true},
      {"http://localhost.example.org", true},
      {"http://127.0.0.1:9000", false},
      {"http://127.9.8.7", false},
      {"http://127.1:9000", false},
      {"http://localhost:9000/x", false},
      {"http://LOCALHOST", false},
      {"http://[::1]:9000", false},
      {"http://[::ffff:127.0.0.1]:9000", false},
      {"http://user:pw@127.0.0.2/x?y#z", false},
      {"https://portainer.example.org", false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    for (int login = 0; login < 2; login++) {
      source_conf_t c;
      oconfig_item_t *ci = block("Portainer", "clear");
      opt_s(ci, "URL", cases[i].url);
      if (login) {
        opt_s(ci, "Username", "admin");
        opt_s(ci, "Password", PASSWORD);
      } else {
        opt_s(ci, "Token", SECRET);
      }
      assert_int_equal(parse(ci, &c), 0);
      size_t n = stub_logs_matching("sent over http:// to a host that is "
                                    "not loopback: anyone on the path can "
                                    "read");
      if (n != (cases[i].warn ? 1u : 0u))
        fail_msg("%s (%s): %zu warnings", cases[i].url,
                 login ? "password" : "token", n);
      if (cases[i].warn)
        assert_int_equal(stub_logs_matching(login ? "the password and JWT are"
                                                  : "the token is"),
                         1);
      source_conf_free(&c);
    }
  }
  /* A Docker source carries no credentials. */
  source_conf_t c;
  oconfig_item_t *ci = block("Docker", "d");
  opt_s(ci, "URL", "http://docker.example.org:2375");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(stub_logs_matching("sent over http://"), 0);
  source_conf_free(&c);
}

/* A token or password under SECRET_SHORT characters makes log lines hard
 * to read (it is masked wherever it appears in data): said at start-up. */
static void test_short_secret_warning(void **state) {
  (void)state;
  static const struct {
    const char *option, *value, *warning;
  } cases[] = {
      {"Token", "a", "the token is shorter than 4 characters"},
      {"Token", "abc", "the token is shorter than 4 characters"},
      {"Password", "pw", "the password is shorter than 4 characters"},
      {"Token", "abcd", NULL},
      {"Password", "pass", NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    source_conf_t c;
    oconfig_item_t *ci = block("Portainer", "short");
    opt_s(ci, "URL", "http://127.0.0.1:9000");
    if (strcmp(cases[i].option, "Password") == 0)
      opt_s(ci, "Username", "admin");
    opt_s(ci, cases[i].option, cases[i].value);
    assert_int_equal(parse(ci, &c), 0);
    assert_int_equal(stub_logs_matching("shorter than 4 characters"),
                     cases[i].warning != NULL ? 1 : 0);
    if (cases[i].warning != NULL)
      assert_int_equal(stub_logs_matching(cases[i].warning), 1);
    source_conf_free(&c);
  }
}

static void test_last_value_wins(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Docker", "twice");
  opt_s(ci, "ContainerInclude", "^a");
  opt_s(ci, "ContainerInclude", "^b"); /* replaces the first */
  opt_s(ci, "TypeInstance", "label:x");
  opt_s(ci, "TypeInstance", "none");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.ti_mode, TYPE_INSTANCE_NONE);
  assert_null(c.ti_label);
  assert_int_equal(regexec(&c.ct_include.re, "b1", 0, NULL, 0), 0);
  assert_int_not_equal(regexec(&c.ct_include.re, "a1", 0, NULL, 0), 0);
  source_conf_free(&c);
  ci = block("Docker", "img");
  opt_s(ci, "TypeInstance", "Image");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.ti_mode, TYPE_INSTANCE_IMAGE);
  source_conf_free(&c);
}

static void test_regexes_accepted(void **state) {
  (void)state;
  static const char *ok[] = {"^prod-",
                             "a+b*c?",
                             "[+*]{2}x{1,100}",
                             "\\++",
                             "(a+)+",
                             "^(web|api)[0-9]{1,3}$",
                             "[[:alpha:]]+_[^]x]*"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    source_conf_t c;
    oconfig_item_t *ci = block("Portainer", "rx");
    opt_s(ci, "URL", "http://127.0.0.1:1");
    opt_s(ci, "Token", SECRET);
    opt_s(ci, "ContainerInclude", ok[i]);
    if (parse(ci, &c) != 0)
      fail_msg("refused: %s (%s)", ok[i], stub_logs_num ? stub_logs[0] : "");
    source_conf_free(&c);
  }
}

static void test_tls_off_warns(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Portainer", "tls");
  opt_s(ci, "URL", "https://127.0.0.1:9443");
  opt_s(ci, "Token", SECRET);
  opt_b(ci, "VerifyPeer", false);
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(stub_logs_matching("TLS verification is off"), 1);
  source_conf_free(&c);
}

/* Each broken block: rejected, with one line naming the source and cause. */
typedef void (*builder_t)(oconfig_item_t *ci);

static void expect_error(const char *kind, builder_t build,
                         const char *needle) {
  source_conf_t c;
  oconfig_item_t *ci = block(kind, "bad");
  build(ci);
  assert_int_equal(parse(ci, &c), -1);
  if (stub_logs_matching(needle) == 0) {
    for (size_t i = 0; i < stub_logs_num; i++)
      fprintf(stderr, "log: %s\n", stub_logs[i]);
    fail_msg("no log line contains \"%s\"", needle);
  }
  assert_true(stub_logs_matching("source \"bad\" not started") == 1);
}

static void b_no_url(oconfig_item_t *ci) {
  opt_s(ci, "Token", SECRET);
}
static void b_no_creds(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
}
static void b_both_creds(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "Username", "admin");
  opt_s(ci, "Password", PASSWORD);
}
static void b_user_only(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Username", "admin");
}
static void b_bad_scheme(oconfig_item_t *ci) {
  opt_s(ci, "URL", "ftp://127.0.0.1");
  opt_s(ci, "Token", SECRET);
}
static void b_bad_regex(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "EndpointInclude", "([unclosed");
}
static void b_bad_shard(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "Shard", "5/4");
}
static void b_bad_ti(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "TypeInstance", "label:");
}
static void b_bad_collect(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "Collect", "cpu");
}
static void b_unknown(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "Colour", "blue");
}
static void b_timeout(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_n(ci, "Timeout", 0);
}
static void b_empty_host(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://");
  opt_s(ci, "Token", SECRET);
}
static void b_empty_token(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", "");
}
static void b_huge_size(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_n(ci, "MaxResponseSize", 99999999999.0);
}
static void b_timeout_type(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "Timeout", "soon");
}
static void b_interval(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_n(ci, "Interval", -1);
}
static void b_key_no_cert(oconfig_item_t *ci) {
  opt_s(ci, "URL", "https://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "ClientKey", "/etc/hostname");
}
static void b_missing_ca(oconfig_item_t *ci) {
  opt_s(ci, "URL", "https://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "CACert", "/nonexistent/ca.pem");
}
static void b_missing_token_file(oconfig_item_t *ci) {
  opt_s(ci, "URL", "https://127.0.0.1:1");
  opt_s(ci, "TokenFile", "/nonexistent/token");
}
static void b_token_and_file(oconfig_item_t *ci) {
  opt_s(ci, "URL", "https://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "TokenFile", "/etc/hostname");
}
static void b_docker_token(oconfig_item_t *ci) {
  opt_s(ci, "Token", SECRET);
}
static void b_docker_shard(oconfig_item_t *ci) {
  opt_s(ci, "Shard", "1/2");
}
static void b_docker_both(oconfig_item_t *ci) {
  opt_s(ci, "Socket", "/run/docker.sock");
  opt_s(ci, "URL", "http://127.0.0.1:2375");
}
static void b_portainer_socket(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "Socket", "/run/docker.sock");
}
static void b_bool_type(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "VerifyPeer", "maybe");
}
static void b_group_type(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "EndpointGroupId", "prod");
}
static void b_tag_fraction(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_n(ci, "EndpointTagId", 1.5);
}
static void b_docker_group(oconfig_item_t *ci) {
  opt_n(ci, "EndpointGroupId", 1);
}
static void b_costly_regex(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "ContainerExclude", "^tmp++++++++++++++++++++-");
}
static void b_costly_bounds(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "EndpointInclude", "a{1,100}b{2}c{1,100}");
}
static void b_big_bound(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "EndpointExclude", "x{1,1000}");
}
static void b_token_crlf(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", "abc\r\nX-Injected: 1");
}
static void b_collect_empty(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  child(ci, "Collect");
}
static void b_group_empty(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  child(ci, "EndpointGroupId");
}
static void b_url_space(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1/a b");
  opt_s(ci, "Token", SECRET);
}
static void b_token_long(oconfig_item_t *ci) {
  char tok[5000];
  memset(tok, 'k', sizeof(tok) - 1);
  tok[sizeof(tok) - 1] = 0;
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", tok);
}
static void b_user_empty(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Username", "");
  opt_s(ci, "Password", PASSWORD);
}
static void b_socket_empty(oconfig_item_t *ci) {
  opt_s(ci, "Socket", "");
}
static void b_concurrency(oconfig_item_t *ci) {
  opt_s(ci, "URL", "http://127.0.0.1:1");
  opt_s(ci, "Token", SECRET);
  opt_n(ci, "MaxConcurrentRequests", 0);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("Portainer", b_no_url, "no URL");
  expect_error("Portainer", b_no_creds, "no credentials");
  expect_error("Portainer", b_both_creds, "not both");
  expect_error("Portainer", b_user_only, "Username needs Password");
  expect_error("Portainer", b_bad_scheme, "must start with http");
  expect_error("Portainer", b_bad_regex, "not a valid regular expression");
  expect_error("Portainer", b_bad_shard, "Shard must look like");
  expect_error("Portainer", b_bad_ti, "TypeInstance must be");
  expect_error("Portainer", b_bad_collect, "unknown signal \"cpu\"");
  expect_error("Portainer", b_unknown, "unknown option \"Colour\"");
  expect_error("Portainer", b_timeout, "Timeout must be a whole number");
  expect_error("Portainer", b_empty_host, "URL has no host name");
  expect_error("Portainer", b_empty_token, "Token is empty");
  expect_error("Portainer", b_huge_size, "MaxResponseSize must be a whole");
  expect_error("Portainer", b_timeout_type, "Timeout");
  expect_error("Portainer", b_interval, "Interval must be");
  expect_error("Portainer", b_key_no_cert, "ClientKey needs ClientCert");
  expect_error("Portainer", b_missing_ca, "CACert \"/nonexistent/ca.pem\"");
  expect_error("Portainer", b_missing_token_file, "TokenFile");
  expect_error("Portainer", b_token_and_file, "Token or TokenFile");
  expect_error("Docker", b_docker_token, "belong in a <Portainer> block");
  expect_error("Docker", b_docker_shard, "belong in a <Portainer> block");
  expect_error("Docker", b_docker_both, "Socket or URL, not both");
  expect_error("Portainer", b_portainer_socket, "belong in a <Docker> block");
  expect_error("Portainer", b_bool_type, "VerifyPeer");
  expect_error("Portainer", b_concurrency, "MaxConcurrentRequests");
  expect_error("Portainer", b_group_type, "EndpointGroupId takes numeric ids");
  expect_error("Portainer", b_costly_regex, "repeats a repetition");
  expect_error("Portainer", b_collect_empty, "Collect needs at least one");
  expect_error("Portainer", b_group_empty, "needs at least one id");
  expect_error("Portainer", b_url_space, "URL contains white space");
  expect_error("Portainer", b_token_long, "longer than 4096");
  expect_error("Portainer", b_user_empty, "must not be empty");
  expect_error("Docker", b_socket_empty, "Socket is empty");
  expect_error("Portainer", b_costly_bounds, "more than two bounded");
  expect_error("Portainer", b_big_bound, "bound above 100");
  expect_error("Portainer", b_token_crlf, "token contains a control");
  expect_error("Portainer", b_tag_fraction, "EndpointTagId takes numeric ids");
  expect_error("Docker", b_docker_group, "belong in a <Portainer> block");
}

/* Notify: off by default; true, false, kinds (repeatable), bad kinds. */
static void test_notify(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Docker", "n");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.notify, 0);
  source_conf_free(&c);

  ci = block("Docker", "n");
  opt_b(ci, "Notify", true);
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.notify, NOTIFY_ALL);
  source_conf_free(&c);

  ci = block("Docker", "n");
  opt_b(ci, "Notify", true);
  opt_b(ci, "Notify", false);
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.notify, 0);
  source_conf_free(&c);

  ci = block("Docker", "n");
  opt_s(ci, "Notify", "exit");
  oconfig_item_t *o = &ci->children[ci->children_num - 1];
  oconfig_value_t *v = add_value(o);
  v->type = OCONFIG_TYPE_STRING;
  v->value.string = strdup("OOM");
  opt_s(ci, "Notify", "down");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(c.notify, NOTIFY_EXIT | NOTIFY_OOM | NOTIFY_DOWN);
  assert_int_equal(stub_logs_num, 0);
  source_conf_free(&c);

  /* Restart and OOM kills need inspects: a Collect without them warns. */
  ci = block("Docker", "n");
  opt_s(ci, "Notify", "restart");
  opt_s(ci, "Collect", "state");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(stub_logs_matching("need inspects"), 1);
  source_conf_free(&c);
  ci = block("Docker", "n");
  opt_s(ci, "Notify", "exit");
  opt_s(ci, "Collect", "state");
  assert_int_equal(parse(ci, &c), 0);
  assert_int_equal(stub_logs_num, 0);
  source_conf_free(&c);
}

static void b_notify_kind(oconfig_item_t *ci) {
  opt_s(ci, "Notify", "exited");
}
static void b_notify_number(oconfig_item_t *ci) {
  opt_n(ci, "Notify", 1);
}
static void b_notify_empty(oconfig_item_t *ci) {
  child(ci, "Notify");
}

static void test_notify_errors(void **state) {
  (void)state;
  expect_error("Docker", b_notify_kind, "Notify: unknown kind \"exited\"");
  expect_error("Docker", b_notify_number, "Notify: unknown kind");
  expect_error("Docker", b_notify_empty, "Notify needs true, false or");
}

static void test_block_without_name(void **state) {
  (void)state;
  source_conf_t c;
  stub_reset();
  oconfig_item_t *ci = block("Portainer", NULL);
  assert_int_equal(config_parse_source(ci, &c), -1);
  assert_int_equal(stub_logs_matching("needs exactly one name"), 1);
  item_free(ci);
}

/* issue 8, 6: HostPrefix keeps two sources with hosts of the same name
 * apart, in both kinds of block. */
static void test_host_prefix(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Portainer", "second");
  opt_s(ci, "URL", "http://127.0.0.1:9000");
  opt_s(ci, "Token", SECRET);
  opt_s(ci, "HostPrefix", "pt2/");
  assert_int_equal(parse(ci, &c), 0);
  assert_string_equal(c.host_prefix, "pt2/");
  source_conf_free(&c);
  ci = block("Docker", "local");
  opt_s(ci, "Host", "local");
  opt_s(ci, "HostPrefix", "docker-");
  assert_int_equal(parse(ci, &c), 0);
  assert_string_equal(c.host_prefix, "docker-");
  source_conf_free(&c);
  /* Unset: no prefix. */
  ci = block("Docker", "plain");
  assert_int_equal(parse(ci, &c), 0);
  assert_null(c.host_prefix);
  source_conf_free(&c);
  /* Too long for the host field, or not printable: refused, one line. */
  char longp[SOURCE_HOST_PREFIX_MAX + 2];
  memset(longp, 'p', sizeof(longp) - 1);
  longp[sizeof(longp) - 1] = 0;
  ci = block("Docker", "long");
  opt_s(ci, "HostPrefix", longp);
  assert_int_equal(parse(ci, &c), -1);
  assert_int_equal(stub_logs_matching("source \"long\" not started: "
                                      "HostPrefix must be at most 64"),
                   1);
  assert_int_equal(stub_logs_num, 1);
  ci = block("Docker", "ctl");
  opt_s(ci, "HostPrefix", "a\nb");
  assert_int_equal(parse(ci, &c), -1);
  assert_int_equal(stub_logs_matching("HostPrefix must be"), 1);
  ci = block("Docker", "num");
  opt_n(ci, "HostPrefix", 3);
  assert_int_equal(parse(ci, &c), -1);
}

/* Proxy: unset (libcurl's environment), "" (none), or a URL; rejected when
 * malformed or with Socket, never printed (it may hold a password). */
static void test_proxy(void **state) {
  (void)state;
  source_conf_t c;
  oconfig_item_t *ci = block("Docker", "d");
  opt_s(ci, "URL", "http://127.0.0.1:2375");
  assert_int_equal(parse(ci, &c), 0);
  assert_null(c.proxy); /* not set: the environment's, libcurl decides */
  source_conf_free(&c);

  ci = block("Docker", "d");
  opt_s(ci, "URL", "http://127.0.0.1:2375");
  opt_s(ci, "Proxy", "");
  assert_int_equal(parse(ci, &c), 0);
  assert_non_null(c.proxy);
  assert_string_equal(c.proxy, ""); /* none, not even the environment's */
  source_conf_free(&c);

  static const char *good[] = {"http://127.0.0.1:3128",
                               "HTTPS://proxy.example.org",
                               "socks5h://u:" PASSWORD "@127.0.0.1:1080",
                               "socks4://127.0.0.1",
                               "socks4a://127.0.0.1",
                               "socks5://127.0.0.1:1080/"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    ci = block("Portainer", "p");
    opt_s(ci, "URL", "http://127.0.0.1:9000");
    opt_s(ci, "Token", SECRET);
    opt_s(ci, "Proxy", "http://first.example.org:1"); /* the last one wins */
    opt_s(ci, "Proxy", good[i]);
    assert_int_equal(parse(ci, &c), 0);
    assert_string_equal(c.proxy, good[i]);
    source_conf_free(&c);
  }

  static const struct {
    const char *value, *cause;
  } bad[] = {
      {"127.0.0.1:3128", "Proxy must be \"\" (none) or a URL"},
      {"ftp://u:" PASSWORD "@127.0.0.1", "Proxy must be \"\" (none) or a URL"},
      {"http://", "Proxy has no host name"},
      {"http://:" PASSWORD "@", "Proxy has no host name"},
      {"http://u:" PASSWORD "@127.0.0.1:3128 x", "white space or a control"},
      {"http://127.0.0.1:3128\n", "white space or a control"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ci = block("Docker", "d");
    opt_s(ci, "URL", "http://127.0.0.1:2375");
    opt_s(ci, "Proxy", bad[i].value);
    assert_int_equal(parse(ci, &c), -1); /* parse(): no password logged */
    assert_int_equal(stub_logs_matching("source \"d\" not started"), 1);
    assert_int_equal(stub_logs_matching(bad[i].cause), 1);
  }

  char longp[3000];
  memset(longp, 'a', sizeof(longp) - 1);
  longp[sizeof(longp) - 1] = 0;
  memcpy(longp, "http://", 7);
  ci = block("Docker", "d");
  opt_s(ci, "URL", "http://127.0.0.1:2375");
  opt_s(ci, "Proxy", longp);
  assert_int_equal(parse(ci, &c), -1);
  assert_int_equal(stub_logs_matching("Proxy is longer than 2048"), 1);

  ci = block("Docker", "d");
  opt_s(ci, "Socket", "/run/docker.sock");
  opt_s(ci, "Proxy", "http://127.0.0.1:3128");
  assert_int_equal(parse(ci, &c), -1);
  assert_int_equal(stub_logs_matching("Proxy does not apply to Socket"), 1);

  ci = block("Docker", "d");
  opt_s(ci, "Socket", "/run/docker.sock");
  opt_s(ci, "Proxy", ""); /* "none" with a socket is what happens anyway */
  assert_int_equal(parse(ci, &c), 0);
  source_conf_free(&c);

  ci = block("Docker", "d");
  opt_s(ci, "URL", "http://127.0.0.1:2375");
  opt_n(ci, "Proxy", 3128);
  assert_int_equal(parse(ci, &c), -1);
  assert_int_equal(stub_logs_matching("option \"Proxy\" has a value of the "
                                      "wrong type"),
                   1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_portainer_full, setup),
      cmocka_unit_test_setup(test_proxy, setup),
      cmocka_unit_test_setup(test_defaults_and_env, setup),
      cmocka_unit_test_setup(test_docker_defaults, setup),
      cmocka_unit_test_setup(test_username_password, setup),
      cmocka_unit_test_setup(test_token_file, setup),
      cmocka_unit_test_setup(test_token_file_buffer_wiped, setup),
      cmocka_unit_test_setup(test_cleartext_warning, setup),
      cmocka_unit_test_setup(test_short_secret_warning, setup),
      cmocka_unit_test_setup(test_tls_off_warns, setup),
      cmocka_unit_test_setup(test_regexes_accepted, setup),
      cmocka_unit_test_setup(test_last_value_wins, setup),
      cmocka_unit_test_setup(test_errors, setup),
      cmocka_unit_test_setup(test_block_without_name, setup),
      cmocka_unit_test_setup(test_host_prefix, setup),
      cmocka_unit_test_setup(test_notify, setup),
      cmocka_unit_test_setup(test_notify_errors, setup),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
