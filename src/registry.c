/**
 * registry.c: see registry.h.
 */
#include "registry.h"

#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* A set of 64-bit hashes, open addressing; 0 marks an empty slot. */
typedef struct {
  uint64_t *slots;
  size_t cap; /* a power of two, or 0 */
  size_t num;
} hset_t;

typedef struct {
  char *name;
  hset_t published; /* what it wrote in its last completed emit */
  hset_t building;  /* what it writes in the emit in progress */
} writer_t;

struct registry_s {
  pthread_mutex_t lock;
  writer_t *w;
  size_t w_num;
  uint64_t k0, k1; /* the hash key */
  hset_t logged;   /* conflicts already logged */
};

/* --- SipHash-2-4 (Aumasson and Bernstein), 64-bit output ----------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4]) {
  v[0] += v[1];
  v[1] = ROTL(v[1], 13);
  v[1] ^= v[0];
  v[0] = ROTL(v[0], 32);
  v[2] += v[3];
  v[3] = ROTL(v[3], 16);
  v[3] ^= v[2];
  v[0] += v[3];
  v[3] = ROTL(v[3], 21);
  v[3] ^= v[0];
  v[2] += v[1];
  v[1] = ROTL(v[1], 17);
  v[1] ^= v[2];
  v[2] = ROTL(v[2], 32);
}

static uint64_t siphash(uint64_t k0, uint64_t k1, const unsigned char *in,
                        size_t len) {
  uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                   k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
  size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = 0;
    for (int j = 7; j >= 0; j--)
      m = (m << 8) | in[i + (size_t)j];
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t j = 0; j < len % 8; j++)
    b |= (uint64_t)in[whole + j] << (8 * j);
  v[3] ^= b;
  sip_round(v);
  sip_round(v);
  v[0] ^= b;
  v[2] ^= 0xff;
  for (int i = 0; i < 4; i++)
    sip_round(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Hash of the strings, each with its NUL (so "ab","c" != "a","bc"). */
static uint64_t hash_strings(const registry_t *r, const char *const *s,
                             size_t n) {
  unsigned char buf[1024];
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += strlen(s[i]) + 1;
  unsigned char *p = len <= sizeof(buf) ? buf : malloc(len);
  if (p == NULL)
    return 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(s[i]) + 1;
    memcpy(p + at, s[i], l);
    at += l;
  }
  uint64_t h = siphash(r->k0, r->k1, p, len);
  if (p != buf)
    free(p);
  return h != 0 ? h : 1; /* 0 marks empty slots */
}

/* --- hash sets ------------------------------------------------------------ */

static bool hset_has(const hset_t *s, uint64_t h) {
  if (s->cap == 0)
    return false;
  for (size_t i = (size_t)h & (s->cap - 1), n = 0; n < s->cap;
       i = (i + 1) & (s->cap - 1), n++) {
    if (s->slots[i] == h)
      return true;
    if (s->slots[i] == 0)
      return false;
  }
  return false;
}

static void hset_put_slot(uint64_t *slots, size_t cap, uint64_t h) {
  size_t i = (size_t)h & (cap - 1);
  while (slots[i] != 0 && slots[i] != h)
    i = (i + 1) & (cap - 1);
  slots[i] = h;
}

/* Adds h; -1 when out of memory. */
static int hset_add(hset_t *s, uint64_t h) {
  if (hset_has(s, h))
    return 0;
  if ((s->num + 1) * 2 > s->cap) { /* at most half full */
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
      return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i] != 0)
        hset_put_slot(slots, cap, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  hset_put_slot(s->slots, s->cap, h);
  s->num++;
  return 0;
}

static void hset_clear(hset_t *s) {
  if (s->num > 0)
    memset(s->slots, 0, s->cap * sizeof(*s->slots));
  s->num = 0;
}

/* --- the registry ------------------------------------------------------------
 */

static void random_key(uint64_t k[2]) {
  if (getrandom(k, 2 * sizeof(*k), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(*k)))
    return;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, k, 2 * sizeof(*k));
    close(fd);
    if (n == (ssize_t)(2 * sizeof(*k)))
      return;
  }
  /* No entropy at all: still a key that differs from run to run. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  k[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
         (uint64_t)(uintptr_t)k;
  k[1] = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
}

registry_t *registry_new(void) {
  registry_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  if (pthread_mutex_init(&r->lock, NULL) != 0) {
    free(r);
    return NULL;
  }
  uint64_t k[2];
  random_key(k);
  r->k0 = k[0];
  r->k1 = k[1];
  return r;
}

void registry_free(registry_t *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->w_num; i++) {
    free(r->w[i].name);
    free(r->w[i].published.slots);
    free(r->w[i].building.slots);
  }
  free(r->w);
  free(r->logged.slots);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

int registry_writer(registry_t *r, const char *name) {
  int w = -1;
  pthread_mutex_lock(&r->lock);
  writer_t *n = realloc(r->w, (r->w_num + 1) * sizeof(*n));
  if (n != NULL) {
    r->w = n;
    memset(&r->w[r->w_num], 0, sizeof(r->w[0]));
    r->w[r->w_num].name = strdup(name != NULL ? name : "");
    if (r->w[r->w_num].name != NULL)
      w = (int)r->w_num++;
  }
  pthread_mutex_unlock(&r->lock);
  return w;
}

const char *registry_writer_name(const registry_t *r, int w) {
  /* Names never change once added: no lock needed to read one. */
  if (w < 0 || (size_t)w >= r->w_num)
    return "";
  return r->w[w].name;
}

void registry_begin(registry_t *r, int w) {
  pthread_mutex_lock(&r->lock);
  if (w >= 0 && (size_t)w < r->w_num)
    hset_clear(&r->w[w].building);
  pthread_mutex_unlock(&r->lock);
}

bool registry_claim(registry_t *r, int w, const char *host,
                    const char *plugin_instance, const char *type_instance,
                    int *owner) {
  const char *parts[3] = {host, plugin_instance, type_instance};
  bool ok = true;
  pthread_mutex_lock(&r->lock);
  if (w < 0 || (size_t)w >= r->w_num || r->w_num == 1) {
    pthread_mutex_unlock(&r->lock); /* a single source: nobody to ask */
    return true;
  }
  uint64_t h = hash_strings(r, parts, 3);
  for (int v = 0; v < w && ok && h != 0; v++) {
    if (hset_has(&r->w[v].published, h)) {
      ok = false;
      if (owner != NULL)
        *owner = v;
    }
  }
  if (ok && h != 0)
    (void)hset_add(&r->w[w].building, h); /* out of memory: not remembered */
  pthread_mutex_unlock(&r->lock);
  return ok;
}

void registry_end(registry_t *r, int w) {
  pthread_mutex_lock(&r->lock);
  if (w >= 0 && (size_t)w < r->w_num) {
    hset_t t = r->w[w].published;
    r->w[w].published = r->w[w].building;
    r->w[w].building = t;
  }
  pthread_mutex_unlock(&r->lock);
}

bool registry_first_conflict(registry_t *r, int w, int owner,
                             const char *host) {
  char a[32], b[32];
  snprintf(a, sizeof(a), "%d", w);
  snprintf(b, sizeof(b), "%d", owner);
  const char *parts[3] = {a, b, host};
  bool first = false;
  pthread_mutex_lock(&r->lock);
  uint64_t h = hash_strings(r, parts, 3);
  if (h != 0 && !hset_has(&r->logged, h))
    first = hset_add(&r->logged, h) == 0;
  pthread_mutex_unlock(&r->lock);
  return first;
}
