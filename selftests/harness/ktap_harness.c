// SPDX-License-Identifier: GPL-2.0
/*
 * ktap_harness: a kselftest that fails on request, to prove that the test
 * harness notices a failing kselftest. It passes unless the kernel command
 * line carries "ws.plant=ktap-fail".
 */

#include <stdio.h>
#include <string.h>

#include "kselftest.h"

static int planted(const char *what)
{
	char cmdline[4096] = "", needle[64];
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (!fgets(cmdline, sizeof(cmdline), f))
		cmdline[0] = '\0';
	fclose(f);
	snprintf(needle, sizeof(needle), "ws.plant=%s", what);
	return strstr(cmdline, needle) != NULL;
}

int main(void)
{
	ksft_print_header();
	ksft_set_plan(1);
	ksft_test_result(!planted("ktap-fail"), "ktap_harness_result\n");
	ksft_finished();
}
