/**
 * http_transfer.c: one transfer on a libcurl easy handle (http_internal.h):
 * its options, the response's status line, headers (X-Total-Count, Date) and
 * body, and what its outcome means.
 */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_USER_AGENT "collectd-portainer/0.1"

/* ------------------------------------------------------------------------ */
/* Parsing of response headers and body                                     */

static bool is_ows(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "HTTP/1.1 200 OK\r\n", "HTTP/2 404\r\n": the status code, or -1. */
static long parse_status_line(const char *s, size_t len) {
  size_t i = 5; /* after "HTTP/" */
  while (i < len && s[i] != ' ' && !is_ows(s[i]))
    i++;
  while (i < len && s[i] == ' ')
    i++;
  if (len - i < 3)
    return -1;
  long st = 0;
  for (size_t k = 0; k < 3; k++) {
    char c = s[i + k];
    if (c < '0' || c > '9')
      return -1;
    st = st * 10 + (c - '0');
  }
  if (i + 3 < len && !is_ows(s[i + 3]))
    return -1;
  return st;
}

/* The value of X-Total-Count: digits only (surrounding blanks allowed), at
 * most 18 of them so it cannot overflow; -1 for anything else. */
static int64_t parse_count(const char *s, size_t len) {
  size_t b = 0, e = len;
  while (b < e && is_ows(s[b]))
    b++;
  while (e > b && is_ows(s[e - 1]))
    e--;
  if (e == b || e - b > 18)
    return -1;
  int64_t v = 0;
  for (size_t i = b; i < e; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

size_t http_on_header(char *buf, size_t size, size_t nitems, void *ud) {
  http_req_t *r = ud;
  size_t len = size * nitems;
  static const char tc[] = "X-Total-Count:";
  const size_t tclen = sizeof(tc) - 1;

  if (r->answered_ms == 0)
    r->answered_ms = http_now_ms();
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    long st = parse_status_line(buf, len);
    if (st >= 0) {
      /* A new response (after a 100 Continue, say): forget the last one. */
      r->status = st;
      r->total_count = -1;
      r->date = 0;
      r->received = 0;
      r->errbody_len = 0;
      if (r->errbody)
        r->errbody[0] = '\0';
    }
  } else if (len > tclen && strncasecmp(buf, tc, tclen) == 0) {
    r->total_count = parse_count(buf + tclen, len - tclen);
  } else if (len > 5 && len < 128 && strncasecmp(buf, "Date:", 5) == 0) {
    char date[128];
    memcpy(date, buf + 5, len - 5);
    date[len - 5] = '\0';
    time_t t = curl_getdate(date, NULL);
    r->date = t > 0 ? (int64_t)t : 0;
  }
  return len;
}

size_t http_on_write(char *buf, size_t size, size_t nmemb, void *ud) {
  http_req_t *r = ud;
  size_t len = size * nmemb;
  size_t max = r->hc->opts.max_response_size;

  /* received <= max always holds, so max - received cannot wrap. */
  if (max > 0 && len > max - r->received) {
    r->abort = ABORT_TOO_LARGE;
    return 0; /* != len: libcurl stops with CURLE_WRITE_ERROR */
  }
  r->received += len;

  if (http_status_is_2xx(r->status)) {
    if (r->on_body != NULL && len > 0 && r->on_body(r->ud, buf, len) != 0) {
      r->abort = ABORT_CALLBACK;
      return 0;
    }
    return len;
  }

  /* Error response: keep the start of it for the message, drop the rest. */
  if (r->errbody == NULL) {
    r->errbody = malloc(HTTP_ERROR_BODY_MAX + 1);
    if (r->errbody == NULL)
      return len; /* no memory: the body is merely lost */
    r->errbody_len = 0;
  }
  size_t room = HTTP_ERROR_BODY_MAX - r->errbody_len;
  size_t n = len < room ? len : room;
  memcpy(r->errbody + r->errbody_len, buf, n);
  r->errbody_len += n;
  r->errbody[r->errbody_len] = '\0';
  return len;
}

/* ------------------------------------------------------------------------ */
/* Easy handles                                                             */

CURL *http_easy_get(http_client_t *hc) {
  if (hc->n_idle > 0)
    return hc->idle[--hc->n_idle];
  return curl_easy_init();
}

void http_easy_put(http_client_t *hc, CURL *e) {
  if (e == NULL)
    return;
  curl_easy_reset(e);
  if (hc->n_idle < hc->opts.max_in_flight)
    hc->idle[hc->n_idle++] = e;
  else
    curl_easy_cleanup(e);
}

CURLcode http_easy_setup(http_client_t *hc, http_req_t *r, CURL *e) {
  const http_options_t *o = &hc->opts;
  CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                          \
  do {                                                                         \
    if (rc == CURLE_OK)                                                        \
      rc = curl_easy_setopt(e, opt, val);                                      \
  } while (0)

  r->errbuf[0] = '\0';
  SET(CURLOPT_ERRORBUFFER, r->errbuf);
  SET(CURLOPT_URL, r->url);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_SHARE, hc->share);
  SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_USERAGENT, HTTP_USER_AGENT);
  SET(CURLOPT_HTTPHEADER, r->headers);
  SET(CURLOPT_HEADERFUNCTION, http_on_header);
  SET(CURLOPT_HEADERDATA, r);
  SET(CURLOPT_WRITEFUNCTION, http_on_write);
  SET(CURLOPT_WRITEDATA, r);
  if (o->timeout_ms > 0) {
    SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
  }
  if (o->max_response_size > 0 && o->max_response_size <= (size_t)INT64_MAX)
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response_size);
  if (o->unix_socket != NULL) {
    SET(CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
    SET(CURLOPT_PROXY, ""); /* never through a proxy, whatever the env */
  } else if (o->proxy != NULL) {
    SET(CURLOPT_PROXY, o->proxy); /* "": none, not even the environment's */
  }
  SET(CURLOPT_SSL_VERIFYPEER, o->verify_peer ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, o->verify_host ? 2L : 0L);
  if (o->ca_cert != NULL)
    SET(CURLOPT_CAINFO, o->ca_cert);
  if (o->client_cert != NULL)
    SET(CURLOPT_SSLCERT, o->client_cert);
  if (o->client_key != NULL)
    SET(CURLOPT_SSLKEY, o->client_key);

  if (strcmp(r->method, "POST") == 0) {
    const char *b = r->body != NULL ? r->body : "";
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, b); /* not copied: r->body outlives the transfer */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
  } else if (strcmp(r->method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
  } else {
    SET(CURLOPT_CUSTOMREQUEST, r->method);
  }
#undef SET
  return rc;
}

static http_error_t map_curl_error(CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return HTTP_OK;
  case CURLE_COULDNT_CONNECT:
    return HTTP_ERR_CONNECT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return HTTP_ERR_RESOLVE;
  case CURLE_OPERATION_TIMEDOUT:
    return HTTP_ERR_TIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_INITFAILED:
#if LIBCURL_VERSION_NUM >= 0x074D00 /* 7.77.0 */
  case CURLE_SSL_CLIENTCERT:
#endif
    return HTTP_ERR_TLS;
  case CURLE_FILESIZE_EXCEEDED:
    return HTTP_ERR_TOO_LARGE;
  default:
    return HTTP_ERR_OTHER;
  }
}

void http_req_complete(http_req_t *r, CURLcode rc) {
  char msg[128];
  if (r->abort == ABORT_TOO_LARGE) {
    snprintf(msg, sizeof(msg), "response body larger than %zu bytes",
             r->hc->opts.max_response_size);
    http_req_finish(r, HTTP_ERR_TOO_LARGE, msg);
  } else if (r->abort == ABORT_CALLBACK) {
    http_req_finish(r, HTTP_ERR_ABORTED,
                    "transfer aborted by the body callback");
  } else if (rc == CURLE_OK) {
    http_req_finish(r, HTTP_OK, NULL);
  } else {
    /* errbuf is copied by req_finish before the request is freed. */
    const char *m = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(rc);
    http_error_t e = map_curl_error(rc);
    /* With TLS 1.3 a server refusing our client certificate says so in an
     * alert read after the handshake: a receive error naming SSL. */
    if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
        (strstr(m, "SSL") != NULL || strstr(m, "TLS") != NULL))
      e = HTTP_ERR_TLS;
    http_req_finish(r, e, m);
  }
}
