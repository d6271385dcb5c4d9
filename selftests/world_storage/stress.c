// SPDX-License-Identifier: GPL-2.0
/*
 * stress: world storage under concurrent load, bounded in time and count.
 *
 *   stress [-s seconds] [-n min_tasks]
 *
 * While ws_stress.ko churns regions and looks objects up from a kthread and
 * from hard IRQ, and ws_sched_stats.ko looks up on every context switch:
 * worker processes create and reap tasks (fork, threads, vfork+exec), some
 * of them named "wsvictim" so that their children's constructors fail (and
 * they get SIGKILL); the test client is loaded and unloaded in a loop, with
 * and without destroying its region; failslab fails atomic slab
 * allocations where the kernel has it. ws_stress.ko pins the slots below 8
 * first, so each Create of a churned region grows the entry arrays of the
 * worlds made while none was live, under all of that. At the end: totals,
 * and the checks.
 */

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "ws_test.h"

#define WORKERS 4
#define FAILSLAB "/sys/kernel/debug/failslab/"

struct counts {
	long forks, threads, execs, killed, reloads, restarts;
};

static struct counts *shared;
static time_t deadline;

static void *thread_fn(void *arg)
{
	return arg;
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/* vfork + exec of /bin/true, in its own frame (vfork shares the stack). */
static __attribute__((noinline)) void vfork_exec(void)
{
	int status;
	pid_t pid = vfork();

	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		__atomic_add_fetch(&shared->execs, 1, __ATOMIC_RELAXED);
}

/* A worker: creates and reaps tasks until the deadline. */
static void worker(int victim)
{
	int status;
	pid_t pid;
	pthread_t t;
	long n = 0;

	if (victim)
		prctl(PR_SET_NAME, "wsvictim");
	while (time(NULL) < deadline) {
		switch (n++ % (victim ? 1 : 4)) {
		case 0:
		case 1:
			pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid > 0 && waitpid(pid, &status, 0) == pid) {
				__atomic_add_fetch(&shared->forks, 1, __ATOMIC_RELAXED);
				if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
					__atomic_add_fetch(&shared->killed, 1, __ATOMIC_RELAXED);
			}
			break;
		case 2:
			if (!pthread_create(&t, NULL, thread_fn, NULL) && !pthread_join(t, NULL))
				__atomic_add_fetch(&shared->threads, 1, __ATOMIC_RELAXED);
			break;
		case 3:
			vfork_exec();
			break;
		}
	}
	_exit(0);
}

/*
 * Runs a command until it succeeds: under failslab, a new task whose world
 * storage allocation failed is killed before it runs (that is the contract),
 * and that includes the shell system() starts.
 */
static int insist(const char *command)
{
	int tries;

	for (tries = 0; tries < 50; tries++)
		if (system(command) == 0)
			return 0;
	return -1;
}

/* Loads and unloads the test client, leaking its region every other time. */
static void reloader(void)
{
	long n = 0;

	while (time(NULL) < deadline) {
		if (insist("insmod /modules/ws_test_client.ko 2>/dev/null"))
			continue;
		ws_cmd("create 0");
		if (n++ % 2)
			ws_cmd("leak 0");
		if (insist("rmmod ws_test_client 2>/dev/null") == 0)
			__atomic_add_fetch(&shared->reloads, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	long seconds = 5, min_tasks = 1000, tasks, objects, regions, worlds;
	long created, mismatches, release_errors, irq_hits, irq_wrong_task, remote_hits, injected;
	long churned_low, visits, visit_errors, visit_missed_self, visit_bad_objects;
	int opt, i, failslab;
	pid_t pids[WORKERS + 1];

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			seconds = atol(optarg);
		else if (opt == 'n')
			min_tasks = atol(optarg);
	}
	ksft_print_header();
	ksft_set_plan(8);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		ksft_exit_fail_msg("mmap\n");

	/* The test client must not be loaded: the reloader owns it. */
	system("rmmod ws_test_client 2>/dev/null");
	if (system("insmod /modules/ws_sched_stats.ko"))
		ksft_exit_fail_msg("insmod ws_sched_stats.ko\n");
	char param[64];

	snprintf(param, sizeof(param), "insmod /modules/ws_stress.ko seconds=%ld", seconds);
	if (system(param))
		ksft_exit_fail_msg("insmod ws_stress.ko\n");
	failslab = !access(FAILSLAB "probability", W_OK);
	if (failslab) {
		write_file(FAILSLAB "verbose", "0");
		write_file(FAILSLAB "ignore-gfp-wait", "Y");
		write_file(FAILSLAB "interval", "1");
		write_file(FAILSLAB "times", "-1");
		write_file(FAILSLAB "probability", "1");
	}

	deadline = time(NULL) + seconds;
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(i % 2);
	}
	pids[WORKERS] = fork();
	if (pids[WORKERS] == 0)
		reloader();
	/*
	 * A worker killed before the deadline (a failed allocation for one of
	 * its threads kills its whole thread group) is replaced.
	 */
	for (int left = WORKERS + 1; left > 0;) {
		pid_t done = wait(NULL);

		if (done < 0)
			break;
		for (i = 0; i <= WORKERS; i++) {
			if (pids[i] != done)
				continue;
			pids[i] = -1;
			left--;
			if (time(NULL) < deadline) {
				pids[i] = fork();
				if (pids[i] == 0) {
					if (i == WORKERS)
						reloader();
					worker(i % 2);
				}
				left += pids[i] > 0;
				__atomic_add_fetch(&shared->restarts, 1, __ATOMIC_RELAXED);
			}
		}
	}
	if (failslab)
		write_file(FAILSLAB "probability", "0");
	/* The module's threads stop at its own deadline. */
	sleep(2);

	tasks = shared->forks + shared->threads + shared->execs;
	created = ws_file_value("/sys/kernel/debug/ws_stress/results", "regions_created");
	mismatches = ws_file_value("/sys/kernel/debug/ws_stress/results", "mismatches");
	release_errors = ws_file_value("/sys/kernel/debug/ws_stress/results", "release_errors");
	irq_hits = ws_file_value("/sys/kernel/debug/ws_stress/results", "irq_hits");
	irq_wrong_task = ws_file_value("/sys/kernel/debug/ws_stress/results", "irq_wrong_task");
	remote_hits = ws_file_value("/sys/kernel/debug/ws_stress/results", "remote_hits");
	injected = ws_file_value("/sys/kernel/debug/ws_stress/results", "ctor_failures_injected");
	churned_low = ws_file_value("/sys/kernel/debug/ws_stress/results", "churned_low_slots");
	visits = ws_file_value("/sys/kernel/debug/ws_stress/results", "visits");
	visit_errors = ws_file_value("/sys/kernel/debug/ws_stress/results", "visit_errors");
	visit_missed_self = ws_file_value("/sys/kernel/debug/ws_stress/results",
					  "visit_missed_self");
	visit_bad_objects = ws_file_value("/sys/kernel/debug/ws_stress/results",
					  "visit_bad_objects");
	ksft_print_msg("tasks %ld (forks %ld, threads %ld, vfork+exec %ld), killed %ld\n",
		       tasks, shared->forks, shared->threads, shared->execs, shared->killed);
	ksft_print_msg("client reloads %ld, workers restarted %ld, failslab %s\n", shared->reloads,
		       shared->restarts, failslab ? "on (1%, atomic)" : "absent");
	system("sed 's/^/# ws_stress: /' /sys/kernel/debug/ws_stress/results");
	system("sed 's/^/# world_storage: /' " WS_STATS);

	ksft_test_result(tasks >= min_tasks, "at_least_%ld_tasks\n", min_tasks);
	ksft_test_result(created > 0 && churned_low == 0,
			 "churned_regions_beyond_the_smallest_entry_array\n");
	ksft_test_result(created > 0 && mismatches == 0,
			 "every_constructor_has_its_destructor\n");
	ksft_test_result(release_errors == 0 && remote_hits > 0, "remote_lookups_and_releases\n");
	ksft_test_result(irq_hits > 0 && irq_wrong_task == 0,
			 "hard_irq_lookups_find_the_interrupted_task\n");
	ksft_test_result(injected > 0 && shared->reloads > 0,
			 "failures_injected_and_client_reloaded\n");
	ksft_test_result(visits > 0 && visit_errors == 0 && visit_missed_self == 0 &&
			 visit_bad_objects == 0,
			 "visits_reach_the_visitor_and_constructed_objects_only\n");

	system("rmmod ws_stress ws_sched_stats");
	regions = ws_file_value(WS_STATS, "regions");
	objects = ws_file_value(WS_STATS, "objects");
	worlds = ws_file_value(WS_STATS, "worlds");
	ksft_print_msg("after: regions %ld, objects %ld, worlds %ld\n", regions, objects, worlds);
	ksft_test_result(regions == 0 && objects == 0 && worlds == 0, "nothing_left\n");
	/* The other tests expect the client loaded. */
	system("insmod /modules/ws_test_client.ko");
	ksft_finished();
}
