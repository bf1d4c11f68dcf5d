/**
 * identity.c: see identity.h.
 */
#include "identity.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (max bytes available), 0 if none. */
static size_t utf8_seq_len(const unsigned char *s, size_t max) {
  size_t len;
  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xE0) == 0xC0 && s[0] >= 0xC2)
    len = 2;
  else if ((s[0] & 0xF0) == 0xE0)
    len = 3;
  else if ((s[0] & 0xF8) == 0xF0 && s[0] <= 0xF4)
    len = 4;
  else
    return 0;
  if (len > max)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  /* Overlong 3- and 4-byte forms, surrogates and > U+10FFFF. */
  if (len == 3 && s[0] == 0xE0 && s[1] < 0xA0)
    return 0;
  if (len == 3 && s[0] == 0xED && s[1] >= 0xA0)
    return 0;
  if (len == 4 && s[0] == 0xF0 && s[1] < 0x90)
    return 0;
  if (len == 4 && s[0] == 0xF4 && s[1] >= 0x90)
    return 0;
  return len;
}

/* FNV-1a, 32 bits: stable across platforms and releases. */
static uint32_t hash32(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s != 0; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

/* Appends the sanitized form of src to dst (at *pos, capacity cap, NUL
 * excluded) while it fits; returns 0 when all of src fitted. */
static int append_sanitized(char *dst, size_t *pos, size_t cap,
                            const char *src) {
  const unsigned char *s = (const unsigned char *)src;
  size_t n = strlen(src);
  size_t i = 0;
  while (i < n) {
    size_t len = utf8_seq_len(s + i, n - i);
    const char *out = (const char *)s + i;
    size_t out_len = len;
    if (len == 0 || (len == 1 && (s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ||
                                  s[i] == '\\'))) {
      out = "_";
      out_len = 1;
      len = 1;
    }
    if (*pos + out_len > cap)
      return -1;
    memcpy(dst + *pos, out, out_len);
    *pos += out_len;
    i += len;
  }
  return 0;
}

void identity_field(char *dst, const char *src, const char *suffix) {
  char tail[IDENTITY_SIZE] = "";
  size_t tail_len = 0;
  if (suffix != NULL) {
    append_sanitized(tail, &tail_len, IDENTITY_SIZE / 2, suffix);
    tail[tail_len] = 0;
  }
  size_t cap = IDENTITY_SIZE - 1 - tail_len;
  size_t pos = 0;
  if (append_sanitized(dst, &pos, cap, src != NULL ? src : "") != 0) {
    /* Too long: cut to leave room for '~' and 8 hex digits of the hash. */
    char mark[16];
    snprintf(mark, sizeof(mark), "~%08x", (unsigned)hash32(src));
    size_t keep = cap - strlen(mark);
    pos = 0;
    append_sanitized(dst, &pos, keep, src); /* stops at a boundary */
    memcpy(dst + pos, mark, strlen(mark));
    pos += strlen(mark);
  }
  memcpy(dst + pos, tail, tail_len);
  dst[pos + tail_len] = 0;
}

void identity_host(char *dst, const char *prefix, const char *name) {
  char buf[512];
  const char *p = prefix != NULL ? prefix : "";
  const char *n = name != NULL ? name : "";
  size_t len = strlen(p) + strlen(n) + 1;
  char *whole = len <= sizeof(buf) ? buf : malloc(len);
  if (whole == NULL) {
    identity_field(dst, n, NULL);
    return;
  }
  snprintf(whole, len, "%s%s", p, n);
  identity_field(dst, whole, NULL);
  if (whole != buf)
    free(whole);
}

/* '~', '@' and '#' are the suffixes' own characters: names and nodes
 * never carry them. */
static void unmark(char *s) {
  for (; *s != 0; s++)
    if (*s == '~' || *s == '@' || *s == '#')
      *s = '_';
}

/* A container name as a plugin instance, with suffix. */
static void name_field(char *dst, const char *name, const char *suffix) {
  char buf[4 * IDENTITY_SIZE];
  const char *src = name != NULL ? name : "";
  size_t n = strlen(src);
  char *tmp = n < sizeof(buf) ? buf : malloc(n + 1);
  if (tmp == NULL) {
    identity_field(dst, src, suffix);
    return;
  }
  for (size_t i = 0; i <= n; i++)
    tmp[i] = (src[i] == '~' || src[i] == '@' || src[i] == '#') ? '_' : src[i];
  identity_field(dst, tmp, suffix);
  if (tmp != buf)
    free(tmp);
}

static const char *type_instance_of(const container_t *c,
                                    type_instance_mode_t mode) {
  switch (mode) {
  case TYPE_INSTANCE_LABEL:
    return c->label != NULL ? c->label : "";
  case TYPE_INSTANCE_NONE:
    return "";
  case TYPE_INSTANCE_IMAGE:
  default:
    return c->image != NULL ? c->image : "";
  }
}

typedef struct {
  size_t index; /* into cs and ids */
  const identity_t *id;
  const container_t *c;
  int pass;    /* suffix ladder step taken so far (0: none) */
  size_t nth;  /* its place in the group it was last renamed in, from 1 */
  bool frozen; /* keeps the suffix it was given in an earlier poll */
} slot_t;

static int slot_cmp(const void *a, const void *b) {
  const slot_t *x = a, *y = b;
  int r = strcmp(x->id->plugin_instance, y->id->plugin_instance);
  if (r == 0)
    r = strcmp(x->id->type_instance, y->id->type_instance);
  if (r == 0)
    r = strcmp(x->c->id, y->c->id); /* deterministic order */
  return r;
}

static bool same_key(const slot_t *a, const slot_t *b) {
  return strcmp(a->id->plugin_instance, b->id->plugin_instance) == 0 &&
         strcmp(a->id->type_instance, b->id->type_instance) == 0;
}

/* Sorts slots by identity; returns true when any two collide. */
static bool sort_and_check(slot_t *slots, size_t n) {
  qsort(slots, n, sizeof(*slots), slot_cmp);
  for (size_t i = 1; i < n; i++)
    if (same_key(&slots[i - 1], &slots[i]))
      return true;
  return false;
}

/* The suffix of step 1, 2 or 3 of the ladder for the nth (from 1) of a
 * group of colliding containers; "" for step 0 and when the step adds none
 * (step 1 without a node). */
static void suffix_for(int pass, const container_t *c, size_t nth, char *sfx,
                       size_t size) {
  bool has_node = c->node != NULL && c->node[0] != 0;
  size_t len = 0;
  sfx[0] = 0;
  if (pass == 0)
    return;
  if (has_node && pass < 3) { /* "@node" */
    snprintf(sfx, size, "@%.*s", pass == 1 ? 60 : 40, c->node);
    unmark(sfx + 1);
    len = strlen(sfx);
  }
  if (pass >= 2) { /* "~<first 12 characters of the id>" */
    snprintf(sfx + len, size - len, "~%.12s", c->id);
    unmark(sfx + len + 1);
    len = strlen(sfx);
  }
  if (pass == 3) /* "#<n>": only a hostile server gets this far */
    snprintf(sfx + len, size - len, "#%zu", nth);
}

/* Every member of a group of colliding identities takes the next step of
 * the ladder, but the first (by id) of those keeping an earlier suffix:
 * a container's series keeps its name while the container exists. */
static void rename_collisions(slot_t *slots, size_t n, identity_t *ids) {
  size_t i = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && same_key(&slots[i], &slots[j]))
      j++;
    bool kept = false;
    for (size_t k = i; j - i > 1 && k < j; k++) {
      slot_t *sl = &slots[k];
      if (sl->frozen && !kept) {
        kept = true;
        continue;
      }
      sl->frozen = false;
      if (sl->pass < 3)
        sl->pass++;
      sl->nth = k - i + 1;
      char sfx[IDENTITY_SIZE];
      suffix_for(sl->pass, sl->c, sl->nth, sfx, sizeof(sfx));
      name_field(ids[sl->index].plugin_instance, sl->c->name, sfx);
    }
    i = j;
  }
}

/* Containers given no suffix yet whose plain identity is shared with another
 * container (given one or not) start on the ladder: a container arriving
 * next to "web@node-a" becomes "web@node-b", not "web". */
static void start_shared_names(slot_t *slots, size_t n, identity_t *ids) {
  if (!sort_and_check(slots, n))
    return;
  size_t i = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && same_key(&slots[i], &slots[j]))
      j++;
    for (size_t k = i; j - i > 1 && k < j; k++) {
      slot_t *sl = &slots[k];
      if (sl->frozen)
        continue;
      char sfx[IDENTITY_SIZE];
      sl->pass = 1;
      sl->nth = k - i + 1;
      suffix_for(1, sl->c, sl->nth, sfx, sizeof(sfx));
      name_field(ids[sl->index].plugin_instance, sl->c->name, sfx);
    }
    i = j;
  }
}

/* A suffix chosen in an earlier poll is kept, but a numbered one ("#n",
 * hostile servers only), which is chosen again every time. */
static bool keeps_suffix(const container_t *c) {
  return c->id_settled &&
         (c->id_suffix == NULL || strchr(c->id_suffix, '#') == NULL);
}

/* Remembers the suffix a container ended with. */
static void remember(container_t *c, const slot_t *sl) {
  if (sl->frozen)
    return;
  char sfx[IDENTITY_SIZE];
  suffix_for(sl->pass, c, sl->nth, sfx, sizeof(sfx));
  free(c->id_suffix);
  c->id_suffix = NULL;
  c->id_settled = true;
  if (sfx[0] != 0) {
    c->id_suffix = strdup(sfx);
    c->id_settled = c->id_suffix != NULL; /* out of memory: chosen again */
  }
}

void identity_of(const container_t *c, type_instance_mode_t mode,
                 identity_t *id) {
  name_field(id->plugin_instance, c->name, c->id_settled ? c->id_suffix : NULL);
  identity_field(id->type_instance, type_instance_of(c, mode), NULL);
}

void identity_settle(container_t *const *cs, size_t n,
                     type_instance_mode_t mode, identity_t *ids) {
  if (ids == NULL) {
    if (n == 0)
      return;
    identity_t *tmp = malloc(n * sizeof(*tmp));
    if (tmp != NULL)
      identity_settle(cs, n, mode, tmp);
    free(tmp);
    return;
  }
  /* First everyone's plain identity, to find the shared names. */
  for (size_t i = 0; i < n; i++) {
    name_field(ids[i].plugin_instance, cs[i]->name, NULL);
    identity_field(ids[i].type_instance, type_instance_of(cs[i], mode), NULL);
  }
  slot_t *slots = calloc(n > 0 ? n : 1, sizeof(*slots));
  if (slots == NULL)
    return; /* identities stay valid, possibly colliding */
  for (size_t i = 0; i < n; i++)
    slots[i] = (slot_t){.index = i,
                        .id = &ids[i],
                        .c = cs[i],
                        .nth = 1,
                        .frozen = keeps_suffix(cs[i])};
  start_shared_names(slots, n, ids);
  for (size_t k = 0; k < n; k++) /* those keeping a suffix take it back */
    if (slots[k].frozen)
      name_field(ids[slots[k].index].plugin_instance, slots[k].c->name,
                 slots[k].c->id_suffix);
  /* Then up the ladder until no two collide: "@node" where nodes tell them
   * apart, the short id, numbered in id order. */
  for (int round = 0; round < 4 && sort_and_check(slots, n); round++)
    rename_collisions(slots, n, ids);
  for (size_t k = 0; k < n; k++)
    remember(cs[slots[k].index], &slots[k]);
  free(slots);
}

void identity_assign(container_t *const *cs, size_t n,
                     type_instance_mode_t mode, identity_t *ids) {
  identity_settle(cs, n, mode, ids);
}
