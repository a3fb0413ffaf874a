/* status.c: ARI HTTP status to errno, in exactly one place. */
#include "ari/status.h"

#include <errno.h>
#include <stddef.h>

static const struct {
	long status;
	int error;
} status_map[] = {
    {400, -EINVAL}, {401, -EACCES}, {403, -EPERM},  {404, -ENOENT},
    {409, -EEXIST}, {412, -EAGAIN}, {422, -EAGAIN}, {500, -EIO},
    {501, -ENOSYS}, {503, -EAGAIN},
};

int ari_status_to_errno(long http_status)
{
	if (http_status >= 200 && http_status < 300)
		return 0;
	if (http_status == 0)
		return -ECONNREFUSED;
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]);
	     i++) {
		if (status_map[i].status == http_status)
			return status_map[i].error;
	}
	if (http_status >= 500 && http_status < 600)
		return -EIO;
	return -EPROTO;
}
