// SPDX-License-Identifier: GPL-2.0
/*
 * Destroy frees the objects of tasks created while the region was live,
 * not only those Create built for tasks that existed before it: with a
 * small region KEPT live (so every world keeps its record), BIG regions of
 * SIZE-byte objects are created, then TASKS tasks are forked in HOLDERS,
 * then the BIG regions are destroyed. HOLDERS must shrink by at least 3/4
 * of TASKS x BIG x SIZE at those Destroys, as the contract says Destroy
 * "frees everything, then returns".
 *
 * The bound leaves room for memory.current's per-CPU charge batches: up to
 * 512 KiB on the VM's 2 CPUs; TASKS x BIG x SIZE is 3 MiB, so 3/4 of it is
 * 1/4 MiB away from what a Destroy that frees everything can show at worst.
 */

#include <signal.h>
#include <sys/wait.h>

#include "ws_cgroup.h"

#define TASKS 1024
#define BIG 6
#define SIZE 512LL

static const char *const groups[] = { "ws_destroy_forked" };
#define HOLDERS (groups[0])

int main(void)
{
	long long before, created, destroyed, expected = TASKS * BIG * SIZE;
	struct ws_cg_sleepers holders;
	int i, made, gone = 1;

	ws_cgroup_test_start(3);
	ws_load_c_client();
	ws_cg_make(HOLDERS);
	/* Region 0 stays live: the worlds keep their records. */
	made = ws_c_cmd("create 8 8") == 0;
	for (i = 1; i <= BIG; i++)
		made &= ws_c_cmd("create %lld 8", SIZE) == 0;
	ksft_test_result(made, "create_%d_regions_of_%lld_byte_objects\n", BIG, SIZE);

	if (ws_cg_sleepers_start(&holders, HOLDERS, TASKS, ws_fork, 0))
		ksft_exit_fail_msg("cannot start %d tasks in %s\n", TASKS, HOLDERS);
	before = ws_cg_memory(HOLDERS);
	if (ws_cg_sleepers_make(&holders))
		ksft_exit_fail_msg("cannot start %d tasks in %s\n", TASKS, HOLDERS);
	created = ws_cg_memory(HOLDERS);
	for (i = 1; i <= BIG; i++)
		gone &= ws_c_cmd("destroy %d", i) == 0;
	destroyed = ws_cg_memory(HOLDERS);
	ksft_test_result(gone, "destroy_them\n");
	ksft_print_msg("%d forks in %s grew it %lld bytes (objects %lld); Destroy shrank it %lld\n",
		       TASKS, HOLDERS, created - before, expected, created - destroyed);
	ksft_test_result(created - destroyed >= expected * 3 / 4,
			 "destroy_uncharges_the_objects_of_tasks_forked_after_create\n");

	ws_cg_write(HOLDERS, "cgroup.kill", "1");
	while (wait(NULL) > 0 || errno == EINTR)
		;
	ws_unload_c_client();
	ws_cgroup_test_end(groups, ARRAY_SIZE(groups));
}
