/**
 * conf_files.h: which configuration files collectd read, and whether one
 * that others can read holds a given text (a Token or Password written
 * inline, which config.c warns about).
 *
 * collectd does not tell a plugin which file an option came from.  The
 * files are found the way collectd finds them: the -C argument of its
 * command line (/proc/self/cmdline), else the compiled-in default, then,
 * recursively, what their Include lines name (a file, a directory read in
 * name order, or a glob pattern; "<Include DIR> Filter PATTERN </Include>"
 * too).  Bounded: CONF_FILES_MAX files, CONF_FILES_DEPTH levels, the first
 * CONF_FILES_READ_MAX bytes of each.  Nothing here resolves a name or
 * leaves the local file system.  Plain C, no collectd.
 */
#ifndef PORTAINER_CONF_FILES_H
#define PORTAINER_CONF_FILES_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_FILES_MAX      64
#define CONF_FILES_DEPTH    8
#define CONF_FILES_READ_MAX (1024 * 1024)
#define CONF_FILE_DEFAULT   "/etc/collectd/collectd.conf"

typedef struct {
  char *paths[CONF_FILES_MAX];
  size_t num;
} conf_files_t;

/* The configuration file named by a command line (NUL-separated arguments,
 * as /proc/self/cmdline holds them: "-C FILE", "-CFILE", "-fC FILE"), or
 * default_path; malloc'ed, NULL when out of memory. */
char *conf_files_main(const char *cmdline, size_t len,
                      const char *default_path);

/* main and every file its Include lines name, recursively (bounded). */
void conf_files_find(const char *main, conf_files_t *out);
void conf_files_free(conf_files_t *f);

/* The first of the files that others (group or world) can access with a
 * line (not a comment) "<key> <value>" whose value (quoted, with \" and \\,
 * or bare; the key matched without case) is text; its mode in *mode.  NULL
 * when none has.  Only such lines count: a short secret that merely occurs
 * in a file's text is not reported. */
const char *conf_files_exposing(const conf_files_t *f, const char *key,
                                const char *text, unsigned *mode);

#endif
