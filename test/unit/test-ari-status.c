/* test-ari-status.c: the HTTP status to errno table. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdlib.h>

#include "ari/status.h"

START_TEST(status_table)
{
	static const struct {
		long status;
		int error;
	} rows[] = {
	    {200, 0},       {201, 0},       {204, 0},       {0, -ECONNREFUSED},
	    {400, -EINVAL}, {401, -EACCES}, {403, -EPERM},  {404, -ENOENT},
	    {405, -EPROTO}, {409, -EEXIST}, {412, -EAGAIN}, {422, -EAGAIN},
	    {500, -EIO},    {501, -ENOSYS}, {502, -EIO},    {503, -EAGAIN},
	    {302, -EPROTO}, {999, -EPROTO},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(ari_status_to_errno(rows[i].status) ==
				  rows[i].error,
			      "status %ld", rows[i].status);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ari-status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, status_table);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
