// SPDX-License-Identifier: GPL-2.0
/*
 * A Destroy that waits for references is visible: debugfs `regions` lists
 * the region as "destroying" with the references it waits for, and a wait
 * longer than five seconds logs once which region (handle, owner) and how
 * many references are left. The C client holds two references and destroys
 * the region from another thread; the release lets the Destroy finish.
 * Log lines are counted from the start of the Destroy: a handle is reused
 * after world_storage.ko is reloaded, and an earlier load's line for it may
 * already be in the log.
 */

#include <time.h>

#include "ws_test.h"

/* Polls of 100 ms: the log line comes after the module's 5 s. */
#define LOG_POLLS 200

static void pause_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

/*
 * The region's line while it is being destroyed; 1 if found. Polled for as
 * long as the log line is (the Destroy cannot end before the release): a
 * starved VM may start the destroyer late.
 */
static int find_destroying(unsigned long long handle, struct ws_region *r)
{
	int i;

	for (i = 0; i < LOG_POLLS * 5; i++) {
		if (ws_find_region(handle, "ws_c_client", r) && !strcmp(r->state, "destroying"))
			return 1;
		pause_ms(20);
	}
	return 0;
}

int main(void)
{
	struct ws_region r = { 0 };
	unsigned long long handle = 0;
	char res[128], needle[128];
	struct ws_background_cmd destroy;
	int i, lines = 0, logged_before, listed, destroy_err;

	ksft_print_header();
	ws_load_c_client();
	ksft_set_plan(5);

	ksft_test_result(!ws_c_cmd("create 8 8") && !ws_c_result(res, sizeof(res)) &&
			 sscanf(res, "region=0 handle=%llx", &handle) == 1 &&
			 !ws_c_cmd("hold 0 %d", getpid()) && !ws_c_cmd("hold 0 %d", getpid()),
			 "create_and_hold_two_references\n");
	if (!handle)
		ksft_exit_fail_msg("no region\n");
	snprintf(needle, sizeof(needle), "destroy of region %#llx (owner ws_c_client) still waits for 2 remote references",
		 handle);
	logged_before = ws_kernel_log_lines(needle);
	ws_background_c_cmd(&destroy, "destroy 0");

	listed = find_destroying(handle, &r);
	ksft_print_msg("region %#llx: %s, remote_refs %ld\n", handle,
		       listed ? r.state : "not listed as destroying", r.remote_refs);
	ksft_test_result(listed && r.remote_refs == 2 && !ws_background_done(&destroy),
			 "listed_as_destroying_with_its_references\n");

	for (i = 0; i < LOG_POLLS && !(lines = ws_kernel_log_lines(needle) - logged_before); i++)
		pause_ms(100);
	ksft_test_result(lines > 0 && !ws_background_done(&destroy), "long_wait_logged\n");

	ksft_test_result(ws_c_cmd("unhold") == 0, "release\n");
	destroy_err = ws_background_join(&destroy);
	/* Once for the whole wait. */
	lines = ws_kernel_log_lines(needle) - logged_before;
	ksft_print_msg("kernel log lines with \"%s\" since the Destroy: %d\n", needle, lines);
	listed = ws_find_region(handle, "ws_c_client", &r);
	/* Unloaded whatever failed, so that world_storage.ko can be. */
	ksft_test_result(!ws_unload_c_client() && destroy_err == 0 &&
			 lines == 1 && !listed,
			 "destroy_completes_logged_once_and_the_region_leaves_debugfs\n");
	ksft_finished();
}
