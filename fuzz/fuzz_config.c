/**
 * fuzz_config.c: config_parse_source on configuration trees built from the
 * input, then source_new/source_free on what it accepts.
 *
 * Input format (a tiny line format, one item per line):
 *   Portainer "main"          first line: the block's key and values
 *   URL "http://127.0.0.1:9"  an option: key, then values
 *    Nested 1 2               a line starting with a blank: a child of the
 *                             option above (options never take children)
 * Values: "..." (up to the next '"' or the end of the line) is a string;
 * true/false a boolean; -?[0-9]{1,9}(.[0-9]{1,6})? a number; anything else
 * a string.  (Numbers stay in int range: collectd's cf_util_get_int, like
 * the stub, casts the double to int, undefined beyond that range.)
 *
 * Paths given to TokenFile, CACert, ClientCert and ClientKey are mapped
 * into a scratch directory made at start-up (token files with good, empty
 * and world-readable contents), so the harness reads nothing else.  Regular
 * expressions go to config.c as they are: its check against patterns that
 * blow up glibc's regcomp (found by this harness) is fuzzed too.
 *
 * Checks: a rejected block logs at least one error and leaves the
 * source_conf_t zeroed; an accepted one is complete and consistent; the
 * log is identical when the Token and Password values are replaced by
 * other strings of the same length (their content never reaches a log
 * line); source_new takes an accepted configuration and frees it.
 */
#include "fuzz_common.h"

#include "collectd_stub.h"
#include "config.h"
#include "http.h"
#include "source.h"

#include <ctype.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ITEMS  64
#define MAX_VALUES 16

static char scratch[64];

static void write_file(const char *name, const char *content, mode_t mode) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", scratch, name);
  FILE *fh = fopen(path, "w");
  FUZZ_CHECK(fh != NULL, "cannot create %s", path);
  fputs(content, fh);
  fclose(fh);
  chmod(path, mode);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Removes the scratch directory when the fuzzer exits normally. */
static void remove_scratch(void) {
  static const char *const names[] = {
      "token", "token_open", "token_blank", "token_empty", "ca.pem", "dir"};
  char path[128];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", scratch, names[i]);
    if (unlink(path) != 0)
      rmdir(path);
  }
  rmdir(scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(scratch, sizeof(scratch), "/tmp/fuzz_config.%d", (int)getpid());
  mkdir(scratch, 0700);
  write_file("token", "ptr_abcdef0123456789\n", 0600);
  write_file("token_open", "ptr_abcdef0123456789\n", 0644);
  write_file("token_blank", "  \t \n", 0600);
  write_file("token_empty", "", 0600);
  write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
  char dir[128];
  snprintf(dir, sizeof(dir), "%s/dir", scratch);
  mkdir(dir, 0700);
  atexit(remove_scratch);
  unsetenv("PORTAINER_URL");
  unsetenv("PORTAINER_TOKEN");
  FUZZ_CHECK(http_global_init() == 0, "http_global_init");
  return 0;
}

/* ---- building the tree --------------------------------------------------- */

static bool is_path_option(const char *key) {
  return strcasecmp(key, "TokenFile") == 0 || strcasecmp(key, "CACert") == 0 ||
         strcasecmp(key, "ClientCert") == 0 ||
         strcasecmp(key, "ClientKey") == 0;
}

static char *xstrndup(const char *s, size_t n) {
  char *p = strndup(s, n);
  FUZZ_CHECK(p != NULL, "out of memory");
  return p;
}

static bool is_number(const char *s, size_t n) {
  size_t i = 0, d = 0;
  if (i < n && s[i] == '-')
    i++;
  while (i < n && isdigit((unsigned char)s[i]) && d < 10)
    i++, d++;
  if (d == 0 || d > 9)
    return false;
  if (i < n && s[i] == '.') {
    i++;
    d = 0;
    while (i < n && isdigit((unsigned char)s[i]) && d < 7)
      i++, d++;
    if (d == 0 || d > 6)
      return false;
  }
  return i == n;
}

/* Parses the values of a line (s, n) into item. */
static void parse_values(oconfig_item_t *item, const char *s, size_t n) {
  size_t i = 0;
  item->values = calloc(MAX_VALUES, sizeof(*item->values));
  FUZZ_CHECK(item->values != NULL, "out of memory");
  while (i < n && item->values_num < MAX_VALUES) {
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i >= n)
      break;
    oconfig_value_t *v = &item->values[item->values_num++];
    if (s[i] == '"') {
      size_t start = ++i;
      while (i < n && s[i] != '"')
        i++;
      v->type = OCONFIG_TYPE_STRING;
      v->value.string = xstrndup(s + start, i - start);
      if (i < n)
        i++;
      continue;
    }
    size_t start = i;
    while (i < n && s[i] != ' ' && s[i] != '\t')
      i++;
    const char *w = s + start;
    size_t wl = i - start;
    if (wl == 4 && strncasecmp(w, "true", 4) == 0) {
      v->type = OCONFIG_TYPE_BOOLEAN;
      v->value.boolean = 1;
    } else if (wl == 5 && strncasecmp(w, "false", 5) == 0) {
      v->type = OCONFIG_TYPE_BOOLEAN;
      v->value.boolean = 0;
    } else if (is_number(w, wl)) {
      char tmp[32];
      memcpy(tmp, w, wl);
      tmp[wl] = '\0';
      v->type = OCONFIG_TYPE_NUMBER;
      v->value.number = strtod(tmp, NULL);
    } else {
      v->type = OCONFIG_TYPE_STRING;
      v->value.string = xstrndup(w, wl);
    }
  }
}

/* Maps a path option's string values into the scratch directory. */
static void confine_paths(oconfig_item_t *item) {
  if (!is_path_option(item->key))
    return;
  for (int i = 0; i < item->values_num; i++) {
    if (item->values[i].type != OCONFIG_TYPE_STRING)
      continue;
    char *old = item->values[i].value.string;
    size_t n = strlen(scratch) + 1 + strlen(old) + 1;
    char *p = malloc(n);
    FUZZ_CHECK(p != NULL, "out of memory");
    snprintf(p, n, "%s/%s", scratch, old);
    for (char *q = p + strlen(scratch) + 1; *q != '\0'; q++)
      if (*q == '/' || (q[0] == '.' && q[1] == '.'))
        *q = '_';
    free(old);
    item->values[i].value.string = p;
  }
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

/* A line: key (up to a blank), then values. */
static void parse_line(oconfig_item_t *item, const char *s, size_t n) {
  size_t k = 0;
  while (k < n && s[k] != ' ' && s[k] != '\t')
    k++;
  item->key = xstrndup(s, k);
  parse_values(item, s + k, n - k);
  confine_paths(item);
}

static oconfig_item_t *build_tree(const uint8_t *data, size_t size) {
  oconfig_item_t *root = calloc(1, sizeof(*root));
  FUZZ_CHECK(root != NULL, "out of memory");
  root->children = calloc(MAX_ITEMS, sizeof(*root->children));
  FUZZ_CHECK(root->children != NULL, "out of memory");
  const char *p = (const char *)data, *end = p + size;
  bool first = true;
  while (p <= end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL)
      eol = end;
    size_t n = (size_t)(eol - p);
    if (first) {
      parse_line(root, p, n);
      first = false;
    } else if (n > 0 && (p[0] == ' ' || p[0] == '\t') &&
               root->children_num > 0) {
      oconfig_item_t *opt = &root->children[root->children_num - 1];
      if (opt->children_num < MAX_VALUES) {
        oconfig_item_t *grown = realloc(
            opt->children, (size_t)(opt->children_num + 1) * sizeof(*grown));
        FUZZ_CHECK(grown != NULL, "out of memory");
        opt->children = grown;
        oconfig_item_t *c = &opt->children[opt->children_num++];
        memset(c, 0, sizeof(*c));
        c->parent = opt;
        parse_line(c, p + 1, n - 1);
      }
    } else if (n > 0 && root->children_num < MAX_ITEMS) {
      oconfig_item_t *c = &root->children[root->children_num++];
      c->parent = root;
      parse_line(c, p, n);
    }
    p = eol + 1;
  }
  return root;
}

/* Replaces the string values of Token and Password with other strings of
 * the same length (letters and digits rotated). */
static void swap_secrets(oconfig_item_t *root) {
  for (int i = 0; i < root->children_num; i++) {
    oconfig_item_t *c = &root->children[i];
    if (strcasecmp(c->key, "Token") != 0 && strcasecmp(c->key, "Password") != 0)
      continue;
    for (int k = 0; k < c->values_num; k++) {
      if (c->values[k].type != OCONFIG_TYPE_STRING)
        continue;
      for (char *q = c->values[k].value.string; *q != '\0'; q++) {
        if (*q >= 'a' && *q <= 'z')
          *q = (char)('a' + (*q - 'a' + 7) % 26);
        else if (*q >= 'A' && *q <= 'Z')
          *q = (char)('A' + (*q - 'A' + 7) % 26);
        else if (*q >= '0' && *q <= '9')
          *q = (char)('0' + (*q - '0' + 3) % 10);
      }
    }
  }
}

/* ---- checks -------------------------------------------------------------- */

static void check_accepted(const oconfig_item_t *root, const source_conf_t *c) {
  FUZZ_CHECK(c->name != NULL && c->name[0] != '\0', "no name");
  FUZZ_CHECK(c->kind == (strcasecmp(root->key, "Portainer") == 0
                             ? SOURCE_PORTAINER
                             : SOURCE_DOCKER),
             "kind");
  if (c->kind == SOURCE_PORTAINER) {
    FUZZ_CHECK(c->url != NULL, "Portainer without a URL");
    FUZZ_CHECK(c->socket == NULL && c->host == NULL, "Portainer with Socket");
    FUZZ_CHECK((c->token != NULL) != (c->username != NULL),
               "credentials: token %d, username %d", c->token != NULL,
               c->username != NULL);
    FUZZ_CHECK((c->username == NULL) == (c->password == NULL),
               "username without password");
  } else {
    FUZZ_CHECK((c->url != NULL) != (c->socket != NULL), "URL and Socket");
    FUZZ_CHECK(c->token == NULL && c->username == NULL && c->password == NULL,
               "Docker with credentials");
    FUZZ_CHECK(!c->env_include.set && !c->env_exclude.set &&
                   c->shard_count == 1,
               "Docker with Portainer options");
  }
  if (c->url != NULL)
    FUZZ_CHECK(strncasecmp(c->url, "http://", 7) == 0 ||
                   strncasecmp(c->url, "https://", 8) == 0,
               "URL %s", c->url);
  FUZZ_CHECK(c->timeout_ms >= 1, "timeout %ld", c->timeout_ms);
  FUZZ_CHECK(c->interval >= 0 && c->interval <= 86400, "interval");
  FUZZ_CHECK(c->max_response_size >= 1024, "max_response_size");
  FUZZ_CHECK(c->max_in_flight >= 1, "max_in_flight");
  FUZZ_CHECK(c->page_size >= 1, "page_size");
  FUZZ_CHECK(c->full_inspect_every >= 1, "full_inspect_every");
  FUZZ_CHECK(c->shard_count >= 1 && c->shard_index >= 1 &&
                 c->shard_index <= c->shard_count,
             "shard %d/%d", c->shard_index, c->shard_count);
  FUZZ_CHECK(c->collect != 0 && (c->collect & ~(unsigned)COLLECT_ALL) == 0,
             "collect 0x%x", c->collect);
  FUZZ_CHECK((c->ti_mode == TYPE_INSTANCE_LABEL) == (c->ti_label != NULL),
             "TypeInstance label");
  FUZZ_CHECK(c->client_key == NULL || c->client_cert != NULL,
             "ClientKey without ClientCert");
}

static bool all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0)
      return false;
  return true;
}

/* A rejected block owns nothing any more ("out is then freed"). */
static void check_released(const source_conf_t *c) {
  FUZZ_CHECK(c->name == NULL && c->url == NULL && c->socket == NULL &&
                 c->host == NULL && c->token == NULL && c->username == NULL &&
                 c->password == NULL && c->ca_cert == NULL &&
                 c->client_cert == NULL && c->client_key == NULL &&
                 c->ti_label == NULL,
             "a rejected block still owns a string");
  FUZZ_CHECK(!c->env_include.set && !c->env_exclude.set && !c->ct_include.set &&
                 !c->ct_exclude.set,
             "a rejected block still owns a regex");
}

static void source_log(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  (void)msg;
}

/* One parse; returns its status and copies the log into tr. */
static int parse_once(oconfig_item_t *root, fuzz_transcript_t *tr) {
  source_conf_t conf;
  memset(&conf, 0x5A, sizeof(conf));
  stub_reset();
  int rc = config_parse_source(root, &conf);
  fuzz_tr_reset(tr);
  for (size_t i = 0; i < stub_logs_num; i++) {
    fuzz_tr_printf(tr, "%d ", stub_log_levels[i]);
    fuzz_tr_str(tr, "log", stub_logs[i]);
    fuzz_tr_add(tr, "\n", 1);
  }
  fuzz_tr_printf(tr, "rc=%d\n", rc);
  if (rc != 0) {
    FUZZ_CHECK(rc == -1, "rc %d", rc);
    bool error_logged = false;
    for (size_t i = 0; i < stub_logs_num; i++)
      if (stub_log_levels[i] == LOG_ERR)
        error_logged = true;
    FUZZ_CHECK(error_logged, "rejected without an error line");
    check_released(&conf);
    return rc;
  }
  check_accepted(root, &conf);
  source_t *s = source_new(&conf, "fuzzhost", source_log, NULL);
  if (s != NULL) {
    FUZZ_CHECK(all_zero(&conf, sizeof(conf)), "source_new left conf");
    source_free(s);
  } else {
    source_conf_free(&conf);
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  oconfig_item_t *root = build_tree(data, size);
  fuzz_transcript_t a = {0}, b = {0};
  int rc = parse_once(root, &a);
  swap_secrets(root);
  int rc2 = parse_once(root, &b);
  FUZZ_CHECK(rc == rc2, "a secret's content changed the outcome");
  fuzz_tr_compare(&a, &b, "secrets");
  fuzz_tr_free(&a);
  fuzz_tr_free(&b);
  item_free_members(root);
  free(root);
  return 0;
}
