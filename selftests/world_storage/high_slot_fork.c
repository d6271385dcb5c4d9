// SPDX-License-Identifier: GPL-2.0
/*
 * A new task's world record is sized by the regions it holds, not by the
 * highest slot in use: with the only live region at slot 599 (after 600
 * regions were created and all but the last destroyed), TASKS new tasks
 * grow their memory cgroup by less than LIMIT more than TASKS new tasks do
 * with the only region at slot 0. An entry array that covered slots 0-599
 * (1,024 entries of 16 or 24 bytes: a 16 or 32 KiB allocation, order 2 or
 * 3, made where a new task may not sleep and killed if it fails) would
 * cost each task 16 KiB or more: 4 MiB or more for the tasks. The bound
 * leaves room for memory.current's per-CPU charge batches (64 pages per
 * CPU) and the other per-fork charges, which both batches have.
 */

#include <sys/wait.h>

#include "ws_cgroup.h"

#define TASKS 256
#define REGIONS 600
#define LIMIT (1LL << 20)

static const char *const groups[] = { "ws_slot_low", "ws_slot_high", "ws_slot_test" };

/* How much memory.current of `group` grows over TASKS forks in it. */
static long long growth_of_forks(const char *group)
{
	struct ws_cg_sleepers sleepers;
	long long before;

	if (ws_cg_sleepers_start(&sleepers, group, TASKS, ws_fork, 0))
		return -1;
	before = ws_cg_memory(group);
	if (ws_cg_sleepers_make(&sleepers))
		return -1;
	return ws_cg_memory(group) - before;
}

/* The slot of the C client's last created region, or -1. */
static int last_slot(void)
{
	unsigned long long handle;
	unsigned int region;
	char res[128];

	if (ws_c_result(res, sizeof(res)) ||
	    sscanf(res, "region=%u handle=%llx", &region, &handle) != 2)
		return -1;
	return (int)(handle & 0xffffffff);
}

static void kill_tasks(const char *group)
{
	ws_cg_write(group, "cgroup.kill", "1");
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

int main(void)
{
	long long low, high;
	int i, err = 0, slot = -1;
	unsigned int g;

	ws_cgroup_test_start(4);
	for (g = 0; g < ARRAY_SIZE(groups); g++)
		ws_cg_make(groups[g]);
	if (ws_cg_write(groups[2], "cgroup.procs", "0"))
		ksft_exit_fail_msg("cannot join %s\n", groups[2]);

	/* First, while few tasks exist: each Create walks every task. */
	ws_load_c_client();
	for (i = 0; i < REGIONS && !err; i++) {
		err = ws_c_cmd("create 8 8");
		if (!err)
			slot = last_slot();
	}
	for (i = 0; i < REGIONS - 1 && !err; i++)
		err = ws_c_cmd("destroy %d", i);
	ksft_test_result(!err && slot >= 512, "only_live_region_at_slot_%d\n", slot);
	high = growth_of_forks(groups[1]);
	kill_tasks(groups[1]);

	err = ws_c_cmd("destroy %d", REGIONS - 1) ?: ws_c_cmd("create 8 8");
	slot = err ? -1 : last_slot();
	ksft_test_result(slot == 0, "only_live_region_at_slot_0\n");
	low = growth_of_forks(groups[0]);
	kill_tasks(groups[0]);

	ksft_print_msg("%d new tasks grew their cgroup %lld bytes with the region at slot 0, %lld at the high slot (difference %lld, bound %lld)\n",
		       TASKS, low, high, high - low, LIMIT);
	ksft_test_result(low > 0 && high > 0, "tasks_were_created\n");
	ksft_test_result(low > 0 && high - low < LIMIT,
			 "a_region_at_a_high_slot_costs_a_new_task_no_more\n");

	ws_unload_c_client();
	ws_cgroup_test_end(groups, ARRAY_SIZE(groups));
}
