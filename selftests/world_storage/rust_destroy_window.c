// SPDX-License-Identifier: GPL-2.0
/*
 * Lookups fail from the moment Destroy starts, through the safe Rust API's
 * local() too (its own inlined fast path, in asm!): the Rust client runs
 * the rounds of ws_abi_test's local_lookup_fails_once_destroy_started
 * ("destroywindow"), with this task pinned to one CPU so that the CPU keeps
 * pointing at its record. (Were the fast path to trust the world's entry
 * until Destroy reaches it, nearly every round would find the object.)
 */

#define _GNU_SOURCE
#include <sched.h>

#include "ws_test.h"

#define ROUNDS 50

int main(void)
{
	int rc, raced = -1, found_after = -1;
	char res[128];
	cpu_set_t one;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(2);

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		ksft_exit_fail_msg("sched_setaffinity: %s\n", strerror(errno));
	rc = ws_cmd("destroywindow %d", ROUNDS);
	if (!rc)
		rc = ws_result(res, sizeof(res));
	if (!rc && sscanf(res, "raced=%d found_after=%d", &raced, &found_after) != 2)
		rc = -EPROTO;
	ksft_print_msg("destroywindow %d: rc %d, %d rounds raced, %d of them found the object after the remote lookup failed\n",
		       ROUNDS, rc, raced, found_after);
	ksft_test_result(rc == 0 && raced > 0, "destroy_window_rounds_race\n");
	ksft_test_result(rc == 0 && found_after == 0,
			 "rust_local_lookup_fails_once_destroy_started\n");
	ksft_finished();
}
