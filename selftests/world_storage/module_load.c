// SPDX-License-Identifier: GPL-2.0
/*
 * module_load: world_storage.ko is loaded, live and unpinned.
 */

#include <stdio.h>
#include <string.h>

#include "kselftest.h"

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int main(void)
{
	char buf[64];

	ksft_print_header();
	ksft_set_plan(2);

	ksft_test_result(read_line("/sys/module/world_storage/initstate", buf, sizeof(buf)) == 0 &&
			 !strcmp(buf, "live"), "initstate_is_live\n");
	ksft_test_result(read_line("/sys/module/world_storage/refcnt", buf, sizeof(buf)) == 0 &&
			 !strcmp(buf, "0"), "refcnt_is_zero\n");
	ksft_finished();
}
