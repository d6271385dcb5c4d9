// SPDX-License-Identifier: GPL-2.0
/*
 * Task creation never charges a memory cgroup past its memory.max: the
 * objects of a new task are allocated without sleeping, so a charge that
 * does not fit cannot be made to fit by reclaim and must fail, as a
 * constructor failure does (fork() returns the new task's PID, and the task
 * is killed by SIGKILL before it runs user code, counted in debugfs as
 * task_constructor_failures and tasks_killed), rather than be forced over
 * the limit, as GFP_ATOMIC's __GFP_HIGH would.
 *
 * With a region of OBJECT_SIZE objects live, a task in a cgroup whose
 * memory.max leaves HEADROOM above memory.current forks once. The fork's own
 * allocations (task_struct, kernel stack, ...: far less than HEADROOM) fit;
 * its object does not, even if the up to 64 pages that each of the VM's 2
 * CPUs may hold charged ahead to the cgroup were given back meanwhile
 * (HEADROOM + 2 x 256 KiB < OBJECT_SIZE; a charge of more than 64 pages
 * never takes pages charged ahead). The fork shares the forking task's
 * memory (clone() with CLONE_VM, but not CLONE_THREAD: a process of its
 * own), so that neither a copy of page tables nor copy-on-write faults
 * charge the cgroup too: with the object forced past memory.max, they would
 * call the cgroup's OOM killer. memory.current is read while the new task
 * would still hold its object if it had been charged: a task that runs
 * waits in pause() until the test ends it with SIGTERM.
 */

#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ws_cgroup.h"

#define OBJECT_SIZE (1024 * 1024)
#define HEADROOM (256 * 1024)
#define GROUP "ws_memcg_max"
#define STACK_SIZE (64 * 1024)

/*
 * The pipes between the test and the child that forks in GROUP. The child
 * writes `up` once before memory.max is set, so that its page, charged to
 * GROUP, is allocated then and reused after (a pipe keeps up to 2 free
 * pages); `down` is charged to the test's cgroup.
 */
struct pipes {
	int down[2];	/* test -> child: fork; then: end the new task */
	int up[2];	/* child -> test: joined GROUP; fork's result; wait status */
};

/* The stack of the new task, touched before memory.max is set. */
static char new_task_stack[STACK_SIZE] __attribute__((aligned(16)));

static int new_task(void *arg __attribute__((unused)))
{
	pause();
	return 0;
}

/* The child in GROUP: forks once when told, reports what it saw. */
static void forker(struct pipes *p)
{
	int forked, status = 0;
	char c;
	pid_t pid;

	memset(new_task_stack, 1, sizeof(new_task_stack));
	if (ws_cg_write(GROUP, "cgroup.procs", "0") || write(p->up[1], "r", 1) != 1 ||
	    read(p->down[0], &c, 1) != 1)
		_exit(1);
	pid = clone(new_task, new_task_stack + STACK_SIZE, CLONE_VM | SIGCHLD, NULL);
	forked = pid < 0 ? -errno : pid;
	if (write(p->up[1], &forked, sizeof(forked)) != sizeof(forked) || pid < 0 ||
	    read(p->down[0], &c, 1) != 1)
		_exit(1);
	/* A task that ran ends with SIGTERM; one killed at creation with SIGKILL. */
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid ||
	    write(p->up[1], &status, sizeof(status)) != sizeof(status))
		_exit(1);
	pause();
	_exit(0);
}

static long ws_stat(const char *name)
{
	return ws_file_value(WS_STATS, name);
}

int main(void)
{
	long long before, current, max;
	long killed, failures;
	int forked, status = 0;
	struct pipes p;
	char c, value[32];
	pid_t pid;

	ws_cgroup_test_start(5);
	ws_cg_make(GROUP);
	ws_load_c_client();
	ksft_test_result(ws_c_cmd("create %d 8", OBJECT_SIZE) == 0,
			 "create_region_of_%d_byte_objects\n", OBJECT_SIZE);

	if (pipe(p.down) || pipe(p.up))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid == 0)
		forker(&p);
	close(p.up[1]);
	if (read(p.up[0], &c, 1) != 1)
		ksft_exit_fail_msg("the child did not join %s\n", GROUP);
	before = ws_cg_memory(GROUP);
	snprintf(value, sizeof(value), "%lld", before + HEADROOM);
	if (before < 0 || ws_cg_write(GROUP, "memory.max", value))
		ksft_exit_fail_msg("cannot set memory.max of %s\n", GROUP);
	max = ws_cg_value(GROUP, "memory.max");
	killed = ws_stat("tasks_killed");
	failures = ws_stat("task_constructor_failures");

	if (write(p.down[1], "g", 1) != 1 ||
	    read(p.up[0], &forked, sizeof(forked)) != sizeof(forked))
		ksft_exit_fail_msg("the child in %s did not fork\n", GROUP);
	current = ws_cg_memory(GROUP);
	killed = ws_stat("tasks_killed") - killed;
	failures = ws_stat("task_constructor_failures") - failures;
	if (forked > 0 && (write(p.down[1], "k", 1) != 1 ||
			   read(p.up[0], &status, sizeof(status)) != sizeof(status)))
		ksft_exit_fail_msg("the child in %s did not wait for its child\n", GROUP);

	ksft_print_msg("fork with a %d-byte object, %lld bytes below memory.max %lld: fork() %d, memory.current %lld, constructor failures +%ld, tasks killed +%ld\n",
		       OBJECT_SIZE, max - before, max, forked, current, failures, killed);
	if (forked > 0)
		ksft_print_msg("the new task %s %d\n",
			       WIFSIGNALED(status) ? "ended by signal" : "exited with",
			       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	ksft_test_result(forked > 0, "fork_returns_the_new_tasks_pid\n");
	ksft_test_result(forked > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			 "new_task_is_killed_by_sigkill_before_it_runs\n");
	ksft_test_result(failures == 1 && killed == 1,
			 "counted_as_one_constructor_failure_and_one_task_killed\n");
	ksft_test_result(max == before + HEADROOM && current >= 0 && current <= max,
			 "cgroup_stays_within_memory_max\n");

	ws_cg_write(GROUP, "cgroup.kill", "1");
	while (wait(NULL) > 0 || errno == EINTR)
		;
	rmdir(WS_CGROUP_ROOT "/" GROUP);
	if (ws_unload_c_client())
		ksft_exit_fail_msg("rmmod ws_c_client\n");
	ksft_finished();
}
