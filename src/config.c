/**
 * config.c: see config.h.
 */
#include "config.h"

#include "plugin.h"
#include "utils/common/common.h"

#include "conf_files.h"
#include "secret.h"
#include "source_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PREFIX "portainer plugin: "

/* Errors say which source is not started and why, in one line.  The count
 * tells whether a failure was logged here or only by one of collectd's
 * cf_util_get_* helpers (whose line does not name the source). */
static unsigned errors_logged;
#define CERROR(...)                                                            \
  do {                                                                         \
    errors_logged++;                                                           \
    ERROR(LOG_PREFIX __VA_ARGS__);                                             \
  } while (0)

static const struct {
  const char *name;
  unsigned bit;
} collect_names[] = {
    {"state", COLLECT_STATE},
    {"health", COLLECT_HEALTH},
    {"restart_count", COLLECT_RESTART_COUNT},
    {"exit_code", COLLECT_EXIT_CODE},
    {"oom_killed", COLLECT_OOM_KILLED},
    {"uptime", COLLECT_UPTIME},
    {"failing_streak", COLLECT_FAILING_STREAK},
};

static const struct {
  const char *name;
  unsigned bit;
} notify_names[] = {
    {"exit", NOTIFY_EXIT},       {"oom", NOTIFY_OOM},
    {"restart", NOTIFY_RESTART}, {"health", NOTIFY_HEALTH},
    {"down", NOTIFY_DOWN},
};

static int get_positive_int(const char *src, const oconfig_item_t *ci, int min,
                            int max, int *ret) {
  double v = 0;
  /* Read as a number first: collectd's int reader would wrap 1e11. */
  if (cf_util_get_double(ci, &v) != 0)
    return -1;
  if (!(v >= min && v <= max) || v != (double)(int)v) {
    CERROR("source \"%s\" not started: %s must be a whole number between %d "
           "and %d, not %g",
           src, ci->key, min, max, v);
    return -1;
  }
  *ret = (int)v;
  return 0;
}

/* glibc's regcomp() expands repetitions into automata whose size can grow
 * exponentially ("a++++++++", "a{1,100}{1,100}{1,100}" take gigabytes): a
 * name filter needs none of that.  Returns why a pattern is refused, or
 * NULL. */
static const char *regex_too_costly(const char *p) {
  int bounds = 0;
  bool prev_quant = false;
  if (strlen(p) > 256)
    return "is longer than 256 characters";
  for (size_t i = 0; p[i] != 0; i++) {
    char ch = p[i];
    if (ch == '\\' && p[i + 1] != 0) {
      i++;
      prev_quant = false;
      continue;
    }
    if (ch == '[') { /* a bracket expression: its characters are literal */
      size_t j = i + 1;
      if (p[j] == '^')
        j++;
      if (p[j] == ']')
        j++;
      while (p[j] != 0 && p[j] != ']') {
        if (p[j] == '[' &&
            (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
          char kind = p[j + 1];
          j += 2;
          while (p[j] != 0 && !(p[j] == kind && p[j + 1] == ']'))
            j++;
          if (p[j] != 0)
            j += 2;
          continue;
        }
        j++;
      }
      if (p[j] == 0)
        return NULL; /* unbalanced: regcomp() says so */
      i = j;
      prev_quant = false;
      continue;
    }
    bool quant = ch == '*' || ch == '+' || ch == '?' || ch == '{';
    if (quant && prev_quant)
      return "repeats a repetition (like \"a++\" or \"a{2}{3}\")";
    if (ch == '{') {
      char *end = NULL;
      long lo = strtol(p + i + 1, &end, 10), hi = lo;
      if (end != NULL && *end == ',')
        hi = (end[1] == '}') ? 0 : strtol(end + 1, &end, 10);
      if (lo > 100 || hi > 100)
        return "has a repetition bound above 100";
      if (++bounds > 2)
        return "has more than two bounded repetitions {m,n}";
      const char *close = strchr(p + i, '}');
      if (close == NULL)
        return NULL; /* regcomp() says what is wrong */
      i = (size_t)(close - p);
    }
    prev_quant = quant;
  }
  return NULL;
}

static int get_regex(const char *src, const oconfig_item_t *ci,
                     source_regex_t *r) {
  char *pattern = NULL;
  if (cf_util_get_string(ci, &pattern) != 0)
    return -1;
  const char *why = regex_too_costly(pattern);
  if (why != NULL) {
    CERROR("source \"%s\" not started: %s \"%.300s\" %s", src, ci->key, pattern,
           why);
    sfree(pattern);
    return -1;
  }
  if (r->set) {
    regfree(&r->re);
    r->set = false;
  }
  int status = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);
  if (status != 0) {
    char msg[256];
    regerror(status, &r->re, msg, sizeof(msg));
    CERROR("source \"%s\" not started: %s \"%s\" is not a valid regular "
           "expression: %s",
           src, ci->key, pattern, msg);
    sfree(pattern);
    return -1;
  }
  r->set = true;
  sfree(pattern);
  return 0;
}

/* Reads a token from the first line of a file; warns when others can read
 * it.  The token itself is never logged.  read(2) straight into a buffer
 * that is wiped (stdio would keep a copy in its own buffer). */
static int read_token_file(const char *src, const char *path, char **token) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    CERROR("source \"%s\" not started: TokenFile \"%s\": %s", src, path,
           STRERRNO);
    return -1;
  }
  if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
    WARNING(LOG_PREFIX "source \"%s\": TokenFile \"%s\" can be read by "
                       "others (mode %04o); chmod 600 it",
            src, path, (unsigned)(st.st_mode & 07777));
  char buf[4096];
  size_t n = 0;
  for (int i = 0; i < 64 && n < sizeof(buf) - 1; i++) { /* short reads */
    ssize_t got = read(fd, buf + n, sizeof(buf) - 1 - n);
    if (got <= 0)
      break; /* end, or an error (a directory): what was read counts */
    n += (size_t)got;
  }
  close(fd);
  buf[n] = 0;
  buf[strcspn(buf, "\r\n")] = 0;
  /* Trim surrounding blanks. */
  char *start = buf;
  while (*start == ' ' || *start == '\t')
    start++;
  size_t len = strlen(start);
  while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
    start[--len] = 0;
  int status = 0;
  if (len == 0) {
    CERROR("source \"%s\" not started: TokenFile \"%s\" holds no token", src,
           path);
    status = -1;
  } else {
    secret_free(*token);
    *token = strdup(start);
    status = *token != NULL ? 0 : -1;
  }
  explicit_bzero(buf, sizeof(buf)); /* memset() here is a dead store */
  return status;
}

static int get_collect(const char *src, const oconfig_item_t *ci,
                       unsigned *collect, bool *first) {
  if (ci->values_num < 1) {
    CERROR("source \"%s\" not started: Collect needs at least one signal", src);
    return -1;
  }
  if (*first) {
    *collect = 0;
    *first = false;
  }
  for (int i = 0; i < ci->values_num; i++) {
    bool found = false;
    if (ci->values[i].type != OCONFIG_TYPE_STRING) {
      CERROR("source \"%s\" not started: Collect takes signal names (strings)",
             src);
      return -1;
    }
    for (size_t j = 0; j < STATIC_ARRAY_SIZE(collect_names); j++) {
      if (strcasecmp(ci->values[i].value.string, collect_names[j].name) == 0) {
        *collect |= collect_names[j].bit;
        found = true;
      }
    }
    if (!found) {
      CERROR("source \"%s\" not started: Collect: unknown signal \"%s\" "
             "(state, health, restart_count, exit_code, "
             "oom_killed, uptime, failing_streak)",
             src, ci->values[i].value.string);
      return -1;
    }
  }
  return 0;
}

/* Notify true|false, or one or more kinds; repeatable. */
static int get_notify(const char *src, const oconfig_item_t *ci,
                      unsigned *notify) {
  if (ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_BOOLEAN) {
    *notify = ci->values[0].value.boolean ? NOTIFY_ALL : 0;
    return 0;
  }
  if (ci->values_num < 1) {
    CERROR("source \"%s\" not started: Notify needs true, false or at least "
           "one kind",
           src);
    return -1;
  }
  for (int i = 0; i < ci->values_num; i++) {
    bool found = false;
    const char *v = ci->values[i].type == OCONFIG_TYPE_STRING
                        ? ci->values[i].value.string
                        : NULL;
    for (size_t j = 0; v != NULL && j < STATIC_ARRAY_SIZE(notify_names); j++) {
      if (strcasecmp(v, notify_names[j].name) == 0) {
        *notify |= notify_names[j].bit;
        found = true;
      }
    }
    if (!found) {
      CERROR("source \"%s\" not started: Notify: unknown kind \"%s\" (true, "
             "false, or exit, oom, restart, health, down)",
             src, v != NULL ? v : "(not a string)");
      return -1;
    }
  }
  return 0;
}

static int get_type_instance(const char *src, const oconfig_item_t *ci,
                             source_conf_t *c) {
  char *v = NULL;
  if (cf_util_get_string(ci, &v) != 0)
    return -1;
  int status = 0;
  sfree(c->ti_label);
  if (strcasecmp(v, "image") == 0) {
    c->ti_mode = TYPE_INSTANCE_IMAGE;
  } else if (strcasecmp(v, "none") == 0) {
    c->ti_mode = TYPE_INSTANCE_NONE;
  } else if (strncasecmp(v, "label:", 6) == 0 && v[6] != 0) {
    c->ti_mode = TYPE_INSTANCE_LABEL;
    c->ti_label = strdup(v + 6);
    if (c->ti_label == NULL)
      status = -1;
  } else {
    CERROR("source \"%s\" not started: TypeInstance must be \"image\", "
           "\"none\" or \"label:<label key>\", not \"%s\"",
           src, v);
    status = -1;
  }
  sfree(v);
  return status;
}

/* EndpointGroupId / EndpointTagId: one or more numeric ids, repeatable. */
static int get_ids(const char *src, const oconfig_item_t *ci, int64_t **ids,
                   size_t *num) {
  if (ci->values_num < 1) {
    CERROR("source \"%s\" not started: %s needs at least one id", src, ci->key);
    return -1;
  }
  for (int i = 0; i < ci->values_num; i++) {
    double v = ci->values[i].value.number;
    if (ci->values[i].type != OCONFIG_TYPE_NUMBER || v < 0 || v > 1e15 ||
        v != (double)(int64_t)v) {
      CERROR("source \"%s\" not started: %s takes numeric ids (as Portainer "
             "shows them)",
             src, ci->key);
      return -1;
    }
    int64_t *n = realloc(*ids, (*num + 1) * sizeof(*n));
    if (n == NULL)
      return -1;
    *ids = n;
    (*ids)[(*num)++] = (int64_t)v;
  }
  return 0;
}

/* HostPrefix: printable, short (it shares the host field's 127 bytes). */
static int get_host_prefix(const char *src, const oconfig_item_t *ci,
                           char **prefix) {
  char *v = NULL;
  if (cf_util_get_string(ci, &v) != 0)
    return -1;
  bool printable = true;
  for (const char *p = v; *p != 0; p++)
    printable = printable && (unsigned char)*p >= 0x20 && *p != 0x7f;
  if (!printable || strlen(v) > SOURCE_HOST_PREFIX_MAX) {
    CERROR("source \"%s\" not started: HostPrefix must be at most %d "
           "printable bytes",
           src, SOURCE_HOST_PREFIX_MAX);
    sfree(v);
    return -1;
  }
  sfree(*prefix);
  *prefix = v;
  return 0;
}

static int get_shard(const char *src, const oconfig_item_t *ci,
                     source_conf_t *c) {
  char *v = NULL;
  int idx = 0, cnt = 0, used = 0;
  if (cf_util_get_string(ci, &v) != 0)
    return -1;
  if (sscanf(v, "%d/%d%n", &idx, &cnt, &used) != 2 || v[used] != 0 || cnt < 1 ||
      cnt > 4096 || idx < 1 || idx > cnt) {
    CERROR("source \"%s\" not started: Shard must look like \"2/4\" (this "
           "instance's number, from 1, over the number of "
           "instances), not \"%s\"",
           src, v);
    sfree(v);
    return -1;
  }
  c->shard_index = idx;
  c->shard_count = cnt;
  sfree(v);
  return 0;
}

static int check_url(const char *src, char *url) {
  /* The URL is not printed: it may carry a user and password. */
  size_t scheme = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
  if (scheme == 0) {
    CERROR("source \"%s\" not started: URL must start with http:// or "
           "https://",
           src);
    return -1;
  }
  if (url[scheme] == 0 || url[scheme] == '/' || url[scheme] == '?' ||
      url[scheme] == '#' || url[scheme] == ':' || url[scheme] == '@') {
    CERROR("source \"%s\" not started: URL has no host name", src);
    return -1;
  }
  if (strpbrk(url, " \t\r\n") != NULL) {
    CERROR("source \"%s\" not started: URL contains white space", src);
    return -1;
  }
  size_t len = strlen(url);
  while (len > 8 && url[len - 1] == '/')
    url[--len] = 0;
  return 0;
}

/* Proxy: "" (no proxy) or a URL of a scheme libcurl speaks.  The value is
 * never printed: it may carry a user and password. */
static int check_proxy(const char *src, const source_conf_t *c) {
  static const char *const schemes[] = {"http://",   "https://",
                                        "socks4://", "socks4a://",
                                        "socks5://", "socks5h://"};
  const char *p = c->proxy;
  if (p == NULL || p[0] == 0)
    return 0;
  if (c->socket != NULL) {
    CERROR("source \"%s\" not started: Proxy does not apply to Socket (a "
           "unix socket never goes through a proxy)",
           src);
    return -1;
  }
  size_t scheme = 0;
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(schemes) && scheme == 0; i++)
    if (strncasecmp(p, schemes[i], strlen(schemes[i])) == 0)
      scheme = strlen(schemes[i]);
  if (scheme == 0) {
    CERROR("source \"%s\" not started: Proxy must be \"\" (none) or a URL "
           "starting with http://, https://, socks4://, socks4a://, "
           "socks5:// or socks5h://",
           src);
    return -1;
  }
  if (p[scheme] == 0 || strchr("/?#:@", p[scheme]) != NULL) {
    CERROR("source \"%s\" not started: Proxy has no host name", src);
    return -1;
  }
  for (const char *q = p; *q != 0; q++) {
    if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
      CERROR("source \"%s\" not started: Proxy contains white space or a "
             "control character",
             src);
      return -1;
    }
  }
  if (strlen(p) > 2048) {
    CERROR("source \"%s\" not started: Proxy is longer than 2048 characters",
           src);
    return -1;
  }
  return 0;
}

static int check_readable(const char *src, const char *opt, const char *path) {
  if (path != NULL && access(path, R_OK) != 0) {
    CERROR("source \"%s\" not started: %s \"%s\": %s", src, opt, path,
           STRERRNO);
    return -1;
  }
  return 0;
}

/* Does url send credentials in the clear to a host that is not loopback?
 * The host is judged by its text only (127.0.0.0/8, ::1, ::ffff:127.x.y.z,
 * "localhost"): no name is resolved to decide. */
static bool cleartext_remote(const char *url) {
  if (strncasecmp(url, "http://", 7) != 0)
    return false;
  const char *a = url + 7;
  size_t alen = strcspn(a, "/?#");
  const char *at = memrchr(a, '@', alen); /* user:password@ */
  if (at != NULL) {
    alen -= (size_t)(at + 1 - a);
    a = at + 1;
  }
  char host[256];
  bool bracket = a[0] == '[';
  const char *h = bracket ? a + 1 : a;
  size_t hlen = strcspn(h, bracket ? "]" : ":");
  if (!bracket && hlen > alen)
    hlen = alen; /* no port */
  if (hlen + bracket > alen || hlen >= sizeof(host))
    return true;
  memcpy(host, h, hlen);
  host[hlen] = 0;
  struct in_addr v4;
  struct in6_addr v6;
  if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
    return false;
  if (inet_aton(host, &v4) != 0)
    return (ntohl(v4.s_addr) >> 24) != 127;
  if (inet_pton(AF_INET6, host, &v6) == 1)
    return !(IN6_IS_ADDR_LOOPBACK(&v6) ||
             (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127));
  return true;
}

/* Warns when secret (the value of option opt) is written in a
 * configuration file that others can read (conf_files.h). */
static void warn_inline_secret(const char *src, const char *opt,
                               const char *secret) {
  char cmdline[16384];
  size_t n = 0;
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  for (int i = 0; fd >= 0 && i < 16 && n < sizeof(cmdline); i++) {
    ssize_t got = read(fd, cmdline + n, sizeof(cmdline) - n);
    if (got <= 0)
      break;
    n += (size_t)got;
  }
  if (fd >= 0)
    close(fd);
  char *main_file = conf_files_main(cmdline, n, CONF_FILE_DEFAULT);
  conf_files_t files;
  conf_files_find(main_file, &files);
  unsigned mode = 0;
  const char *at = conf_files_exposing(&files, opt, secret, &mode);
  if (at != NULL)
    WARNING(LOG_PREFIX "source \"%s\": the %s is written in \"%s\", which "
                       "others can read (mode %04o); %s",
            src, opt, at, mode,
            strcmp(opt, "Token") == 0
                ? "use TokenFile with a file only collectd can read, or "
                  "chmod 600 it"
                : "chmod 600 it");
  conf_files_free(&files);
  free(main_file);
}

/* Warnings about how a Portainer source's credentials are kept and sent. */
static void warn_credentials(const source_conf_t *c, bool token_inline) {
  const char *src = c->name;
  if (cleartext_remote(c->url))
    WARNING(LOG_PREFIX "source \"%s\": %s sent over http:// to a host that "
                       "is not loopback: anyone on the path can read %s",
            src, c->token != NULL ? "the token is" : "the password and JWT are",
            c->token != NULL ? "it" : "them");
  if (token_inline)
    warn_inline_secret(src, "Token", c->token);
  if (c->password != NULL)
    warn_inline_secret(src, "Password", c->password);
  const char *secret = c->token != NULL ? c->token : c->password;
  if (secret != NULL && strlen(secret) < SECRET_SHORT)
    WARNING(LOG_PREFIX "source \"%s\": the %s is shorter than %d characters: "
                       "log lines mask it wherever it appears in server "
                       "messages and names, which can make them hard to read",
            src, c->token != NULL ? "token" : "password", SECRET_SHORT);
}

/* Cross-option checks and defaults, once the block is read. */
static int finish(source_conf_t *c) {
  const char *src = c->name;

  if (c->kind == SOURCE_PORTAINER) {
    if (c->url == NULL) {
      const char *env = getenv("PORTAINER_URL");
      if (env != NULL && env[0] != 0 && (c->url = strdup(env)) == NULL)
        return -1;
    }
    if (c->url == NULL) {
      CERROR("source \"%s\" not started: no URL (set URL, or PORTAINER_URL "
             "in collectd's environment)",
             src);
      return -1;
    }
    if (c->socket != NULL || c->host != NULL) {
      CERROR("source \"%s\" not started: Socket and Host belong in a <Docker> "
             "block, not <Portainer>",
             src);
      return -1;
    }
    if (c->token == NULL && c->username == NULL) {
      const char *env = getenv("PORTAINER_TOKEN");
      if (env != NULL && env[0] != 0 && (c->token = strdup(env)) == NULL)
        return -1;
    }
    if (c->token != NULL && (c->username != NULL || c->password != NULL)) {
      CERROR("source \"%s\" not started: use Token (or TokenFile) or "
             "Username and Password, not both",
             src);
      return -1;
    }
    if ((c->username == NULL) != (c->password == NULL)) {
      CERROR("source \"%s\" not started: %s needs %s", src,
             c->username != NULL ? "Username" : "Password",
             c->username != NULL ? "Password" : "Username");
      return -1;
    }
    if (c->token == NULL && c->username == NULL) {
      CERROR("source \"%s\" not started: no credentials (set Token, "
             "TokenFile, or Username and Password, or "
             "PORTAINER_TOKEN in collectd's environment)",
             src);
      return -1;
    }
  } else {
    if (c->token != NULL || c->username != NULL || c->password != NULL) {
      CERROR("source \"%s\" not started: Token, TokenFile, Username and "
             "Password belong in a <Portainer> block",
             src);
      return -1;
    }
    if (c->env_include.set || c->env_exclude.set || c->shard_count > 1 ||
        c->group_ids_num > 0 || c->tag_ids_num > 0) {
      CERROR("source \"%s\" not started: EndpointInclude, EndpointExclude, "
             "EndpointGroupId, EndpointTagId and Shard belong in a "
             "<Portainer> block",
             src);
      return -1;
    }
    if (c->url != NULL && c->socket != NULL) {
      CERROR("source \"%s\" not started: set Socket or URL, not both", src);
      return -1;
    }
    if (c->url == NULL && c->socket == NULL &&
        (c->socket = strdup("/var/run/docker.sock")) == NULL)
      return -1;
  }
  if (c->url != NULL && check_url(src, c->url) != 0)
    return -1;
  if (check_proxy(src, c) != 0)
    return -1;
  if (c->token != NULL && c->token[0] == 0) {
    CERROR("source \"%s\" not started: Token is empty", src);
    return -1;
  }
  if (c->token != NULL) {
    /* It goes into a header: a line break would add headers of its own. */
    for (const char *t = c->token; *t != 0; t++) {
      if ((unsigned char)*t < 0x20 || *t == 0x7f) {
        CERROR("source \"%s\" not started: the token contains a control "
               "character",
               src);
        return -1;
      }
    }
    if (strlen(c->token) > 4096) {
      CERROR("source \"%s\" not started: the token is longer than 4096 "
             "characters",
             src);
      return -1;
    }
  }
  if ((c->username != NULL && c->username[0] == 0) ||
      (c->password != NULL && c->password[0] == 0)) {
    CERROR("source \"%s\" not started: Username and Password must not be "
           "empty",
           src);
    return -1;
  }
  if (c->socket != NULL && c->socket[0] == 0) {
    CERROR("source \"%s\" not started: Socket is empty", src);
    return -1;
  }
  if (c->client_key != NULL && c->client_cert == NULL) {
    CERROR("source \"%s\" not started: ClientKey needs ClientCert", src);
    return -1;
  }
  if (check_readable(src, "CACert", c->ca_cert) != 0 ||
      check_readable(src, "ClientCert", c->client_cert) != 0 ||
      check_readable(src, "ClientKey", c->client_key) != 0)
    return -1;
  if (!c->verify_peer || !c->verify_host)
    WARNING(LOG_PREFIX "source \"%s\": TLS verification is off (%s%s%s): "
                       "anyone on the path can read the token",
            src, c->verify_peer ? "" : "VerifyPeer false",
            (!c->verify_peer && !c->verify_host) ? ", " : "",
            c->verify_host ? "" : "VerifyHost false");
  if (c->collect == 0) {
    CERROR("source \"%s\" not started: Collect selects no signal", src);
    return -1;
  }
  /* OOM kills and restart counts are only in inspect, which a Collect
   * without these signals skips (inspects.c). */
  if ((c->notify & (NOTIFY_OOM | NOTIFY_RESTART)) &&
      !(c->collect & (COLLECT_RESTART_COUNT | COLLECT_OOM_KILLED |
                      COLLECT_UPTIME | COLLECT_FAILING_STREAK)))
    WARNING(LOG_PREFIX "source \"%s\": Notify \"oom\" and \"restart\" need "
                       "inspects, which this Collect skips (add restart_count "
                       "or oom_killed): none of them will be sent",
            src);
  return 0;
}

int config_parse_source(const oconfig_item_t *ci, source_conf_t *c) {
  bool collect_first = true;
  bool portainer = strcasecmp(ci->key, "Portainer") == 0;
  source_conf_init(c);
  c->kind = portainer ? SOURCE_PORTAINER : SOURCE_DOCKER;

  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_STRING ||
      ci->values[0].value.string[0] == 0) {
    ERROR(LOG_PREFIX "<%s> needs exactly one name, e.g. <%s \"main\">", ci->key,
          ci->key);
    return -1;
  }
  if (cf_util_get_string(ci, &c->name) != 0)
    return -1;
  const char *src = c->name;

  int status = 0;
  char *token_file = NULL;
  bool token_inline = false;
  unsigned logged_before = errors_logged;
  const char *failed_key = NULL;
  for (int i = 0; i < ci->children_num && status == 0; i++) {
    const oconfig_item_t *o = ci->children + i;
    failed_key = o->key;
    int v = 0;
    if (strcasecmp("URL", o->key) == 0)
      status = cf_util_get_string(o, &c->url);
    else if (strcasecmp("Socket", o->key) == 0)
      status = cf_util_get_string(o, &c->socket);
    else if (strcasecmp("Host", o->key) == 0)
      status = cf_util_get_string(o, &c->host);
    else if (strcasecmp("HostPrefix", o->key) == 0)
      status = get_host_prefix(src, o, &c->host_prefix);
    else if (strcasecmp("Token", o->key) == 0) {
      status = cf_util_get_string(o, &c->token);
      token_inline = true;
    } else if (strcasecmp("TokenFile", o->key) == 0)
      status = cf_util_get_string(o, &token_file);
    else if (strcasecmp("Username", o->key) == 0)
      status = cf_util_get_string(o, &c->username);
    else if (strcasecmp("Password", o->key) == 0)
      status = cf_util_get_string(o, &c->password);
    else if (strcasecmp("VerifyPeer", o->key) == 0)
      status = cf_util_get_boolean(o, &c->verify_peer);
    else if (strcasecmp("VerifyHost", o->key) == 0)
      status = cf_util_get_boolean(o, &c->verify_host);
    else if (strcasecmp("CACert", o->key) == 0)
      status = cf_util_get_string(o, &c->ca_cert);
    else if (strcasecmp("ClientCert", o->key) == 0)
      status = cf_util_get_string(o, &c->client_cert);
    else if (strcasecmp("ClientKey", o->key) == 0)
      status = cf_util_get_string(o, &c->client_key);
    else if (strcasecmp("Proxy", o->key) == 0) {
      secret_free(c->proxy); /* given twice: the last one counts */
      c->proxy = NULL;
      status = cf_util_get_string(o, &c->proxy);
    } else if (strcasecmp("Timeout", o->key) == 0) {
      status = get_positive_int(src, o, 1, 3600 * 1000, &v);
      c->timeout_ms = v;
    } else if (strcasecmp("Interval", o->key) == 0) {
      double d = 0;
      status = cf_util_get_double(o, &d);
      if (status == 0 && !(d > 0 && d <= 86400)) {
        CERROR("source \"%s\" not started: Interval must be a number of "
               "seconds above 0",
               src);
        status = -1;
      }
      c->interval = d;
    } else if (strcasecmp("MaxResponseSize", o->key) == 0) {
      status = get_positive_int(src, o, 1024, 1 << 30, &v);
      c->max_response_size = (size_t)v;
    } else if (strcasecmp("MaxConcurrentRequests", o->key) == 0) {
      status = get_positive_int(src, o, 1, 1024, &c->max_in_flight);
    } else if (strcasecmp("PageSize", o->key) == 0) {
      status = get_positive_int(src, o, 1, 10000, &c->page_size);
    } else if (strcasecmp("FullInspectEvery", o->key) == 0) {
      status = get_positive_int(src, o, 1, 1000000, &c->full_inspect_every);
    } else if (strcasecmp("EndpointInclude", o->key) == 0)
      status = get_regex(src, o, &c->env_include);
    else if (strcasecmp("EndpointExclude", o->key) == 0)
      status = get_regex(src, o, &c->env_exclude);
    else if (strcasecmp("ContainerInclude", o->key) == 0)
      status = get_regex(src, o, &c->ct_include);
    else if (strcasecmp("ContainerExclude", o->key) == 0)
      status = get_regex(src, o, &c->ct_exclude);
    else if (strcasecmp("Shard", o->key) == 0)
      status = get_shard(src, o, c);
    else if (strcasecmp("EndpointGroupId", o->key) == 0)
      status = get_ids(src, o, &c->group_ids, &c->group_ids_num);
    else if (strcasecmp("EndpointTagId", o->key) == 0)
      status = get_ids(src, o, &c->tag_ids, &c->tag_ids_num);
    else if (strcasecmp("TypeInstance", o->key) == 0)
      status = get_type_instance(src, o, c);
    else if (strcasecmp("Collect", o->key) == 0)
      status = get_collect(src, o, &c->collect, &collect_first);
    else if (strcasecmp("Notify", o->key) == 0)
      status = get_notify(src, o, &c->notify);
    else {
      CERROR("source \"%s\" not started: unknown option \"%s\"", src, o->key);
      status = -1;
    }
  }
  if (status == 0 && token_file != NULL) {
    if (c->token != NULL) {
      CERROR("source \"%s\" not started: set Token or TokenFile, not both",
             src);
      status = -1;
    } else {
      status = read_token_file(src, token_file, &c->token);
    }
  }
  sfree(token_file);
  if (status == 0)
    status = finish(c);
  if (status == 0 && c->kind == SOURCE_PORTAINER)
    warn_credentials(c, token_inline);
  if (status != 0) {
    if (errors_logged == logged_before) /* only collectd's helper said why */
      CERROR("source \"%s\" not started: option \"%s\" has a value of the "
             "wrong type (see the line above)",
             c->name != NULL ? c->name : "?",
             failed_key != NULL ? failed_key : "?");
    source_conf_free(c);
    return -1;
  }
  return 0;
}
