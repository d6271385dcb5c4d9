// SPDX-License-Identifier: GPL-2.0
/*
 * The objects that task creation allocates are charged to the memory cgroup,
 * as the kernel's own per-task allocations are (to the forking task's cgroup:
 * with a plain fork, as here, the new task starts in it; with
 * clone3(CLONE_INTO_CGROUP) it would not). TASKS new tasks with a region of BIG_SIZE
 * objects must grow their cgroup's memory.current by at least 3/4 of
 * TASKS x BIG_SIZE more than TASKS new tasks without the region grow
 * another cgroup; a sibling cgroup holding the test (which created the
 * region) must grow by less than 1/4 of it meanwhile. What they are
 * charged for is their objects, not the regions that once existed: after
 * PAST_REGIONS regions came and went (slots far above the live region's,
 * which then takes the lowest free one),
 * the growth beyond the other cgroup's stays below 3/2 of the objects
 * (a record whose entries covered every slot ever used would cost each
 * task 32 KiB more, twice the object).
 *
 * With clone3(CLONE_INTO_CGROUP) the new tasks start in another cgroup,
 * but their objects are charged to the forking task's, as the kernel's own
 * task_struct is: TASKS tasks cloned into INTO grow their parent's cgroup by
 * at least 3/4 of their objects more than without the region, and INTO by
 * less than 1/4 of them more.
 *
 * The bounds leave room for memory.current's per-CPU charge batches
 * (64 pages per CPU) and for the other per-fork charges (stack, task_struct,
 * page tables, copy-on-write pages), which both batches of tasks have.
 */

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ws_cgroup.h"

/* The test client's `Big` objects. */
#define BIG_SIZE 16384LL
#define TASKS 256
/* Regions of the C client created and destroyed before the new tasks. */
#define PAST_REGIONS 520

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static const char *const groups[] = { "ws_memcg_plain", "ws_memcg_region", "ws_memcg_sibling",
				      "ws_memcg_into" };
#define INTO (groups[3])

/* struct clone_args up to cgroup (CLONE_ARGS_SIZE_VER2). */
struct ws_clone_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal;
	unsigned long long stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* fork(), or with `into_fd` >= 0 clone3() into the cgroup of that fd. */
static pid_t fork_into(int into_fd)
{
	struct ws_clone_args args = { .exit_signal = SIGCHLD };

	if (into_fd < 0)
		return fork();
	args.flags = CLONE_INTO_CGROUP;
	args.cgroup = into_fd;
	return syscall(__NR_clone3, &args, sizeof(args));
}

/* Creates and destroys PAST_REGIONS regions; 0, or -errno. */
static int past_regions(void)
{
	int i, err = 0;

	ws_load_c_client();
	for (i = 0; i < PAST_REGIONS && !err; i++)
		err = ws_c_cmd("create 8 8");
	return ws_unload_c_client() ? -EBUSY : err;
}

/*
 * Kills every task in the new tasks' cgroups and reaps them all (the test is
 * their subreaper).
 */
static void kill_new_tasks(void)
{
	ws_cg_write(groups[0], "cgroup.kill", "1");
	ws_cg_write(groups[1], "cgroup.kill", "1");
	ws_cg_write(INTO, "cgroup.kill", "1");
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

/*
 * A child moves itself into `group`, then forks TASKS tasks that sleep
 * (with `other` set, cloned into the cgroup `other`). Returns how much
 * memory.current of `group` grew over those forks, and in *other_growth
 * how much that of `other` (or else of the sibling cgroup) grew meanwhile.
 */
static long long growth_of_new_tasks(const char *group, const char *other,
				     long long *other_growth)
{
	long long before, other_before;
	struct ws_cg_sleepers sleepers;
	int into_fd = -1, err;
	char path[256];

	if (other) {
		snprintf(path, sizeof(path), WS_CGROUP_ROOT "/%s", other);
		into_fd = open(path, O_RDONLY | O_DIRECTORY);
		if (into_fd < 0)
			return -1;
	} else {
		other = groups[2];
	}
	err = ws_cg_sleepers_start(&sleepers, group, TASKS, fork_into, into_fd);
	if (into_fd >= 0)
		close(into_fd);
	if (err)
		return -1;
	before = ws_cg_memory(group);
	other_before = ws_cg_memory(other);
	if (ws_cg_sleepers_make(&sleepers))
		return -1;
	*other_growth = ws_cg_memory(other) - other_before;
	return ws_cg_memory(group) - before;
}

int main(void)
{
	long long plain, region, sibling = 0, unused, expected = TASKS * BIG_SIZE;
	long long plain_parent, region_parent, plain_into = 0, region_into = 0;
	unsigned int g;

	ws_cgroup_test_start(7);
	for (g = 0; g < ARRAY_SIZE(groups); g++)
		ws_cg_make(groups[g]);
	if (ws_cg_write(groups[2], "cgroup.procs", "0"))
		ksft_exit_fail_msg("cannot join %s\n", groups[2]);

	/*
	 * First, while few tasks exist: each Create and Destroy walks every
	 * task (on the debug kernel, with the two batches below alive, these
	 * took about 700 s more).
	 */
	ksft_test_result(past_regions() == 0, "create_and_destroy_%d_regions\n", PAST_REGIONS);
	plain = growth_of_new_tasks(groups[0], NULL, &unused);
	plain_parent = growth_of_new_tasks(groups[0], INTO, &plain_into);
	ksft_test_result(ws_cmd("createbig") == 0, "create_region_of_%lld_byte_objects\n",
			 BIG_SIZE);
	region = growth_of_new_tasks(groups[1], NULL, &sibling);
	region_parent = growth_of_new_tasks(groups[1], INTO, &region_into);
	ksft_print_msg("%d new tasks: %s grew %lld bytes without the region, %s %lld with it (difference %lld, objects %lld); %s grew %lld\n",
		       TASKS, groups[0], plain, groups[1], region, region - plain, expected,
		       groups[2], sibling);
	ksft_test_result(plain >= 0 && region - plain >= expected * 3 / 4,
			 "cgroup_of_new_tasks_is_charged_for_their_objects\n");
	ksft_test_result(sibling < expected / 4, "sibling_cgroup_is_not_charged\n");
	ksft_test_result(plain >= 0 && region - plain < expected * 3 / 2,
			 "new_tasks_are_not_charged_for_past_regions\n");
	ksft_print_msg("%d tasks cloned into %s: their parent's cgroup grew %lld bytes without the region, %lld with it; %s grew %lld, then %lld\n",
		       TASKS, INTO, plain_parent, region_parent, INTO, plain_into, region_into);
	ksft_test_result(plain_parent >= 0 && region_parent - plain_parent >= expected * 3 / 4,
			 "clone_into_cgroup_charges_the_parents_cgroup\n");
	ksft_test_result(region_into - plain_into < expected / 4,
			 "clone_into_cgroup_does_not_charge_the_new_tasks_cgroup\n");

	kill_new_tasks();
	ws_cmd("destroybig");
	ws_cgroup_test_end(groups, ARRAY_SIZE(groups));
}
