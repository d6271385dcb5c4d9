// SPDX-License-Identifier: GPL-2.0
/*
 * module_load: world_storage.ko is loaded and live, and the only references
 * on it are its client modules (the loader's own dependency tracking).
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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

static long count_holders(void)
{
	DIR *d = opendir("/sys/module/world_storage/holders");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int main(void)
{
	char buf[64];
	long holders;

	ksft_print_header();
	ksft_set_plan(2);

	ksft_test_result(read_line("/sys/module/world_storage/initstate", buf, sizeof(buf)) == 0 &&
			 !strcmp(buf, "live"), "initstate_is_live\n");
	holders = count_holders();
	ksft_print_msg("holders: %ld\n", holders);
	ksft_test_result(holders >= 0 &&
			 read_line("/sys/module/world_storage/refcnt", buf, sizeof(buf)) == 0 &&
			 strtol(buf, NULL, 10) == holders, "refcnt_is_its_holders\n");
	ksft_finished();
}
