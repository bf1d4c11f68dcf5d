/**
 * secret.h: tokens, passwords and JWTs kept out of log lines and freed
 * memory.
 */
#ifndef PORTAINER_SECRET_H
#define PORTAINER_SECRET_H

#include <stddef.h>

/* Overwrites a NUL-terminated secret, then frees it.  NULL is fine. */
void secret_free(char *p);

/* Replaces every occurrence of secret in the NUL-terminated msg (a buffer
 * of size bytes) with "<secret>": a server may well echo what it was sent
 * (a token, a login body) in its error message.  NULL or short secrets are
 * left alone. */
void secret_redact(char *msg, size_t size, const char *secret);

#endif
