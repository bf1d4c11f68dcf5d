/**
 * secret.c: see secret.h.
 */
#include "secret.h"

#include <stdlib.h>
#include <string.h>

void secret_free(char *p) {
  if (p == NULL)
    return;
  volatile char *v = p;
  while (*v != 0)
    *v++ = 0;
  free(p);
}

void secret_redact(char *msg, size_t size, const char *secret) {
  static const char mark[] = "<secret>";
  const size_t mlen = sizeof(mark) - 1;
  size_t slen = secret != NULL ? strlen(secret) : 0;
  if (slen < 4)
    return; /* too short to search for without mangling the message */
  char *from = msg;
  char *p;
  while ((p = strstr(from, secret)) != NULL) {
    size_t head = (size_t)(p - msg);
    size_t tail = strlen(p + slen);
    if (head + mlen + tail + 1 > size) /* the mark is longer: cut the end */
      tail = size - 1 - head - mlen;
    memmove(p + mlen, p + slen, tail);
    memcpy(p, mark, mlen);
    p[mlen + tail] = 0;
    from = p + mlen; /* never search the mark itself */
  }
}
