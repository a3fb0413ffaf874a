/* internal.h: helpers shared inside lib/ari, not part of the public API. */
#ifndef ARI_INTERNAL_H
#define ARI_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>

/*
 * Maps a libcurl transfer result to 0 or a negative errno: time-outs
 * -ETIMEDOUT, refused connections -ECONNREFUSED, a peer that closed or
 * reset before answering -ECONNRESET, a body over CURLOPT_MAXFILESIZE
 * -EMSGSIZE, unresolvable hosts -EHOSTUNREACH, malformed answers -EPROTO,
 * bad URLs -EINVAL, allocation failures -ENOMEM, anything else -EIO.
 * HTTP statuses are not its business: see ari_status_to_errno().
 */
int ari__curl_to_errno(CURLcode code);

/* Returns whether a Content-Type header value (NULL allowed) names
 * application/json, parameters such as "; charset=utf-8" ignored. */
bool ari__content_type_is_json(const char *content_type);

#endif /* ARI_INTERNAL_H */
