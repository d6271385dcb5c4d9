// SPDX-License-Identifier: GPL-2.0
/*
 * Destroy while a reference is held blocks until the release (the C API,
 * through the C client). The safe Rust API cannot express that: a `Ref`
 * borrows its region, and a reference kept across calls (`ArcRef`, which
 * the Rust client's `hold` takes) shares it, so dropping the region there
 * returns at once and the last release destroys it.
 */

#include <time.h>

#include "ws_test.h"

int main(void)
{
	struct timespec pause = { 0, 300 * 1000 * 1000 };
	struct ws_region region = { 0 }, after;
	unsigned long long handle = 0;
	long ctor, dtor, ctor1, dtor1;
	char res[64];
	struct ws_background_cmd destroy;
	int blocked, unhold_err, destroy_err;

	ksft_print_header();
	ws_require_client();
	ws_load_c_client();
	ksft_set_plan(5);

	ksft_test_result(!ws_c_cmd("create 8 8") && !ws_c_result(res, sizeof(res)) &&
			 sscanf(res, "region=0 handle=%llx", &handle) == 1 &&
			 !ws_c_cmd("hold 0 %d", getpid()),
			 "c_create_and_hold\n");
	ws_background_c_cmd(&destroy, "destroy 0");
	nanosleep(&pause, NULL);
	blocked = !ws_background_done(&destroy);
	ksft_test_result(blocked, "c_destroy_waits_for_the_reference\n");
	unhold_err = ws_c_cmd("unhold");
	destroy_err = ws_background_join(&destroy);
	ksft_print_msg("unhold %d, destroy %d\n", unhold_err, destroy_err);
	ksft_test_result(!unhold_err && destroy_err == 0 &&
			 !ws_find_region(handle, "ws_c_client", &after),
			 "c_destroy_completes_after_release\n");
	ws_unload_c_client();

	/* The Rust client: `destroy` drops its share; the region stays. */
	ws_counts(0, &ctor, &dtor);
	ksft_test_result(ws_cmd("create 0") == 0 && ws_cmd("hold 0 %d", getpid()) == 0 &&
			 ws_cmd("destroy 0") == 0 && ws_find_region(0, "ws_test_client", &region) &&
			 region.remote_refs == 1,
			 "rust_destroy_with_a_held_reference_returns_and_keeps_the_region\n");
	ksft_test_result(ws_cmd("unhold") == 0 &&
			 !ws_find_region(region.handle, "ws_test_client", &after) &&
			 !ws_counts(0, &ctor1, &dtor1) && ctor1 > ctor && ctor1 - ctor == dtor1 - dtor,
			 "rust_last_release_destroys_the_region\n");
	ksft_finished();
}
