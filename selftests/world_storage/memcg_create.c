// SPDX-License-Identifier: GPL-2.0
/*
 * The objects that Create builds for tasks that already exist are charged
 * to each task's own memory cgroup, not to the creator's. TASKS tasks sleep
 * in HOLDERS while the test, in CREATOR, creates a region of BIG_SIZE
 * objects: HOLDERS must grow by at least 3/4 of TASKS x BIG_SIZE, CREATOR
 * (whose only holder is the test itself) by less than 1/4 of it; at
 * Destroy HOLDERS must shrink by at least 3/4 of it again.
 *
 * The bounds leave room for memory.current's per-CPU charge batches: each
 * CPU may hold up to 64 pages (256 KiB) charged ahead to a cgroup, so with
 * the VM's 2 CPUs a cgroup's memory.current can move up to 512 KiB away
 * from what its objects cost. TASKS = 256 (4 MiB of objects) keeps both
 * bounds 1/2 MiB or more away from that slack; with 128 tasks the holders'
 * bound would be within 30 KiB of it.
 */

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ws_cgroup.h"

/* The test client's `Big` objects. */
#define BIG_SIZE 16384LL
#define TASKS 256

static const char *const groups[] = { "ws_memcg_holders", "ws_memcg_creator" };
#define HOLDERS (groups[0])
#define CREATOR (groups[1])

/*
 * A child moves itself into HOLDERS and forks TASKS tasks that sleep; returns
 * once they all exist (0), or -1.
 */
static int start_holders(void)
{
	struct ws_cg_sleepers holders;

	if (ws_cg_sleepers_start(&holders, HOLDERS, TASKS, ws_fork, 0))
		return -1;
	return ws_cg_sleepers_make(&holders);
}

int main(void)
{
	long long holders, creator, expected = TASKS * BIG_SIZE;
	long long holders_created, creator_created, holders_destroyed;
	unsigned int g;
	int created;

	ws_cgroup_test_start(5);
	for (g = 0; g < ARRAY_SIZE(groups); g++)
		ws_cg_make(groups[g]);
	if (ws_cg_write(CREATOR, "cgroup.procs", "0"))
		ksft_exit_fail_msg("cannot join %s\n", CREATOR);
	if (start_holders())
		ksft_exit_fail_msg("cannot start %d tasks in %s\n", TASKS, HOLDERS);

	holders = ws_cg_memory(HOLDERS);
	creator = ws_cg_memory(CREATOR);
	created = ws_cmd("createbig") == 0;
	holders_created = ws_cg_memory(HOLDERS);
	creator_created = ws_cg_memory(CREATOR);
	ksft_test_result(created && holders >= 0 && creator >= 0,
			 "create_region_of_%lld_byte_objects\n", BIG_SIZE);
	ksft_test_result(ws_cmd("destroybig") == 0, "destroy_it\n");
	holders_destroyed = ws_cg_memory(HOLDERS);
	ksft_print_msg("Create with %d tasks in %s: it grew %lld bytes (objects %lld), %s grew %lld; Destroy: %s shrank %lld\n",
		       TASKS, HOLDERS, holders_created - holders, expected, CREATOR,
		       creator_created - creator, HOLDERS, holders_created - holders_destroyed);
	ksft_test_result(holders_created - holders >= expected * 3 / 4,
			 "holders_cgroup_is_charged_for_their_objects\n");
	ksft_test_result(creator_created - creator < expected / 4,
			 "creators_cgroup_is_not_charged_for_them\n");
	ksft_test_result(holders_created - holders_destroyed >= expected * 3 / 4,
			 "holders_cgroup_is_uncharged_at_destroy\n");

	ws_cg_write(HOLDERS, "cgroup.kill", "1");
	while (wait(NULL) > 0 || errno == EINTR)
		;
	ws_cgroup_test_end(groups, ARRAY_SIZE(groups));
}
