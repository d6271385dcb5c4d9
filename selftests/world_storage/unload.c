// SPDX-License-Identifier: GPL-2.0
/*
 * A client module that unloads without destroying its region: the region
 * is destroyed for it, with a warning, and nothing calls into its freed
 * text afterwards.
 */

#include <sys/wait.h>

#include "ws_test.h"

#define CLIENT "/modules/ws_test_client.ko"

/* Whether the kernel log holds a line containing `needle`. */
static int kernel_log_has(const char *needle)
{
	char line[1024];
	int found = 0;
	FILE *f = popen("dmesg", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, needle) != NULL;
	pclose(f);
	return found;
}

int main(void)
{
	int status = -1, i, ok = 1;
	pid_t child;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(4);

	ksft_test_result(ws_cmd("create 2") == 0 && ws_cmd("leak 2") == 0,
			 "create_and_leak\n");
	ksft_test_result(system("rmmod ws_test_client") == 0, "client_unloads\n");
	ksft_test_result(kernel_log_has("ws_test_client unloaded without destroying region"),
			 "warning_logged\n");

	/* New tasks and exits would call the freed callbacks if it were left. */
	for (i = 0; i < 20; i++) {
		child = fork();
		if (child == 0)
			_exit(0);
		waitpid(child, &status, 0);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	ksft_test_result(ok && system("insmod " CLIENT) == 0,
			 "tasks_come_and_go_and_client_reloads\n");
	ksft_finished();
}
