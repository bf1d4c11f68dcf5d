/**
 * conf_files.c: see conf_files.h.
 */
#include "conf_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

char *conf_files_main(const char *cmdline, size_t len,
                      const char *default_path) {
  const char *found = NULL;
  bool value_next = false, skip_next = false;
  for (size_t i = 0, argn = 0; i < len && found == NULL; argn++) {
    const char *arg = cmdline + i;
    i += strnlen(arg, len - i) + 1;
    if (argn == 0)
      continue; /* the program */
    if (value_next) {
      found = arg;
    } else if (skip_next) {
      skip_next = false;
    } else if (strcmp(arg, "--") == 0) {
      break;
    } else if (arg[0] == '-' && arg[1] != '-') {
      /* Bundled flags ("-fC FILE", "-CFILE"); -C and -P take a value. */
      const char *c = arg + 1 + strcspn(arg + 1, "CP");
      if (*c == 'C' && c[1] != 0)
        found = c + 1;
      else if (*c == 'C')
        value_next = true;
      else if (*c == 'P' && c[1] == 0)
        skip_next = true;
    }
  }
  return strdup(found != NULL && found[0] != 0 ? found : default_path);
}

/* ---- reading ------------------------------------------------------------- */

/* The first CONF_FILES_READ_MAX bytes of a regular file, NUL-terminated;
 * NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len, struct stat *st) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return NULL;
  char *buf = NULL;
  if (fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
    size_t want = (size_t)st->st_size < CONF_FILES_READ_MAX
                      ? (size_t)st->st_size
                      : CONF_FILES_READ_MAX;
    buf = malloc(want + 1);
    size_t n = 0;
    for (int tries = 0; buf != NULL && n < want && tries < 64; tries++) {
      ssize_t got = read(fd, buf + n, want - n);
      if (got <= 0)
        break;
      n += (size_t)got;
    }
    if (buf != NULL) {
      buf[n] = 0;
      *len = n;
    }
  }
  close(fd);
  return buf;
}

/* ---- Include lines --------------------------------------------------------
 */

/* One value of a line at *p: quoted (with \" and \\) or bare; malloc'ed,
 * NULL when there is none. */
static char *value(const char **p) {
  const char *s = *p + strspn(*p, " \t");
  if (*s == 0 || *s == '#' || *s == '>')
    return NULL;
  char *out = malloc(strlen(s) + 1), *o = out;
  if (out == NULL)
    return NULL;
  if (*s == '"') {
    for (s++; *s != 0 && *s != '"'; s++) {
      if (*s == '\\' && s[1] != 0)
        s++;
      *o++ = *s;
    }
    if (*s == '"')
      s++;
  } else {
    while (*s != 0 && *s != ' ' && *s != '\t' && *s != '>')
      *o++ = *s++;
  }
  *o = 0;
  *p = s;
  return out;
}

static bool is_word(const char *s, const char *w) {
  size_t n = strlen(w);
  return strncasecmp(s, w, n) == 0 && (s[n] == ' ' || s[n] == '\t');
}

static void add_path(conf_files_t *f, const char *path, const char *pattern,
                     int depth);

static void add_file(conf_files_t *f, const char *path, int depth) {
  for (size_t i = 0; i < f->num; i++)
    if (strcmp(f->paths[i], path) == 0)
      return; /* read once */
  if (f->num >= CONF_FILES_MAX || depth > CONF_FILES_DEPTH)
    return;
  char *copy = strdup(path);
  if (copy == NULL)
    return;
  f->paths[f->num++] = copy;

  struct stat st;
  size_t len = 0;
  char *text = slurp(path, &len, &st);
  if (text == NULL)
    return;
  char *block = NULL, *filter = NULL; /* <Include block> ... </Include> */
  for (char *line = text; line != NULL && line < text + len;) {
    char *next = strchr(line, '\n');
    if (next != NULL)
      *next++ = 0;
    const char *p = line + strspn(line, " \t\r");
    if (is_word(p, "Include")) {
      p += 7;
      char *path2 = value(&p);
      char *pattern = path2 != NULL ? value(&p) : NULL;
      if (path2 != NULL)
        add_path(f, path2, pattern, depth + 1);
      free(path2);
      free(pattern);
    } else if (is_word(p, "<Include") && block == NULL) {
      p += 8;
      block = value(&p);
    } else if (is_word(p, "Filter") && block != NULL && filter == NULL) {
      p += 6;
      filter = value(&p);
    } else if (strncasecmp(p, "</Include>", 10) == 0 && block != NULL) {
      add_path(f, block, filter, depth + 1);
      free(block);
      free(filter);
      block = filter = NULL;
    }
    line = next;
  }
  free(block);
  free(filter);
  free(text);
}

/* A directory: its entries in name order (no dot files), files filtered by
 * pattern, subdirectories read the same way. */
static void add_dir(conf_files_t *f, const char *dir, const char *pattern,
                    int depth) {
  struct dirent **names = NULL;
  int n = scandir(dir, &names, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = name[0] != '.' ? malloc(len) : NULL;
    if (path != NULL) {
      struct stat st;
      strcpy(path, dir);
      strcat(path, "/");
      strcat(path, name);
      if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        add_path(f, path, pattern, depth + 1);
      else if (pattern == NULL || fnmatch(pattern, name, 0) == 0)
        add_file(f, path, depth);
      free(path);
    }
    free(names[i]);
  }
  free(names);
}

/* What an Include names: a glob pattern, each match a file or a
 * directory. */
static void add_path(conf_files_t *f, const char *path, const char *pattern,
                     int depth) {
  glob_t g;
  if (depth > CONF_FILES_DEPTH || f->num >= CONF_FILES_MAX)
    return;
  if (glob(path, GLOB_TILDE | GLOB_NOSORT, NULL, &g) != 0)
    return;
  for (size_t i = 0; i < g.gl_pathc && f->num < CONF_FILES_MAX; i++) {
    struct stat st;
    if (stat(g.gl_pathv[i], &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      add_dir(f, g.gl_pathv[i], pattern, depth);
    else
      add_file(f, g.gl_pathv[i], depth);
  }
  globfree(&g);
}

void conf_files_find(const char *main, conf_files_t *out) {
  memset(out, 0, sizeof(*out));
  if (main != NULL)
    add_file(out, main, 0);
}

void conf_files_free(conf_files_t *f) {
  for (size_t i = 0; i < f->num; i++)
    free(f->paths[i]);
  memset(f, 0, sizeof(*f));
}

/* ---- who can read what ----------------------------------------------------
 */

/* Does body hold a line "key text" (not a comment)? */
static bool holds_option(char *body, const char *key, const char *text) {
  bool found = false;
  for (char *line = body; line != NULL && !found;) {
    char *next = strchr(line, '\n');
    if (next != NULL)
      *next++ = 0;
    const char *p = line + strspn(line, " \t\r");
    if (is_word(p, key)) {
      p += strlen(key);
      char *v = value(&p);
      if (v != NULL) {
        found = strcmp(v, text) == 0;
        explicit_bzero(v, strlen(v));
        free(v);
      }
    }
    line = next;
  }
  return found;
}

const char *conf_files_exposing(const conf_files_t *f, const char *key,
                                const char *text, unsigned *mode) {
  if (text == NULL || text[0] == 0)
    return NULL;
  const char *found = NULL;
  for (size_t i = 0; i < f->num && found == NULL; i++) {
    struct stat st;
    size_t len = 0;
    char *body = slurp(f->paths[i], &len, &st);
    if (body == NULL)
      continue;
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) && holds_option(body, key, text)) {
      found = f->paths[i];
      *mode = (unsigned)(st.st_mode & 07777);
    }
    /* The file may hold the secret: wiped like any copy of it. */
    explicit_bzero(body, len);
    free(body);
  }
  return found;
}
