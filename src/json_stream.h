/**
 * json_stream.h: one interface for every streaming document parser.
 *
 * Each parser (docker_api.h, portainer_api.h) is a yajl stream: bytes are fed
 * as they arrive from the network, results are handed out through the
 * callback given at creation, and nothing of the document is kept but the
 * fields the plugin reports.  Field presence, type and length are never
 * trusted: a field of the wrong type is ignored, strings are capped, and
 * nesting deeper than JSON_MAX_DEPTH fails the document.
 */
#ifndef PORTAINER_JSON_STREAM_H
#define PORTAINER_JSON_STREAM_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64
/* Strings longer than this are truncated on a UTF-8 boundary. */
#define JSON_MAX_STRING 4096

typedef struct json_stream_s json_stream_t;

/* 0 on success, -1 on a parse error (see json_stream_error). Feeding after
 * an error is a no-op returning -1. */
int json_stream_feed(json_stream_t *js, const char *buf, size_t len);
/* Completes the parse: -1 when the document is truncated or invalid. */
int json_stream_finish(json_stream_t *js);
/* A short, printable description of the first error ("" when none). */
const char *json_stream_error(const json_stream_t *js);
void json_stream_free(json_stream_t *js);

#endif
