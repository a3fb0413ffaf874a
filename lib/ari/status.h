/* status.h: the one mapping from ARI HTTP statuses to negative errno values. */
#ifndef ARI_STATUS_H
#define ARI_STATUS_H

/*
 * Maps an HTTP status from ARI to 0 (2xx) or a negative errno:
 *   400 -EINVAL (bad parameters), 401 -EACCES (credentials), 403 -EPERM,
 *   404 -ENOENT (channel, bridge or app gone), 409 -EEXIST (id in use, or
 *   the object is in another state or app), 412 -EAGAIN (precondition,
 *   e.g. channel not answered yet), 422 -EAGAIN (channel not yet in Stasis),
 *   500 -EIO, 501 -ENOSYS, 503 -EAGAIN, other 4xx -EPROTO, other 5xx -EIO,
 *   0 (no response at all) -ECONNREFUSED, anything else -EPROTO.
 */
int ari_status_to_errno(long http_status);

#endif /* ARI_STATUS_H */
