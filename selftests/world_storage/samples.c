// SPDX-License-Identifier: GPL-2.0
/*
 * The samples work: ws_counter.ko (C) counts per task and sums every
 * task's count, ws_sched_stats.ko (Rust) sees a busy thread's context
 * switches and on-CPU time.
 */

#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "ws_test.h"

#define COUNTER "/dev/ws_counter"
#define TOP "/sys/kernel/debug/ws_sched_stats/top"

static int bump(int times)
{
	int fd = open(COUNTER, O_WRONLY), i, ok = fd >= 0;

	for (i = 0; ok && i < times; i++)
		ok = write(fd, "+", 1) == 1;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The counter of `tid` (0: the caller's), -1 on error. */
static long count_of(pid_t tid)
{
	char buf[64] = "";
	long count = -1;
	int got_tid = 0;
	int fd = open(COUNTER, O_RDWR);

	if (fd < 0)
		return -1;
	if (tid)
		dprintf(fd, "tid %d", tid);
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		sscanf(buf, "%d %ld", &got_tid, &count);
	close(fd);
	return count;
}

/* The sum of every task's counter and the number of tasks; 0 on error. */
static int total_count(unsigned long long *sum, long *tasks)
{
	char buf[64] = "";
	int fd = open(COUNTER, O_RDWR), ok;

	if (fd < 0)
		return 0;
	ok = write(fd, "total", 5) == 5 && read(fd, buf, sizeof(buf) - 1) > 0 &&
	     sscanf(buf, "total %llu tasks %ld", sum, tasks) == 2;
	close(fd);
	return ok;
}

/*
 * In a new pid namespace, as its init (TID 1 there): "tid 1" must name this
 * task, not global init. Returns the exit status for the parent.
 */
static int count_in_pid_namespace(void)
{
	pid_t child;
	int status;

	if (unshare(CLONE_NEWPID))
		return 0;
	child = fork();
	if (child < 0)
		return 0;
	if (child == 0)
		_exit(bump(4) && count_of(1) == 4 && count_of(0) == 4 ? 0 : 1);
	return waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

/* Runs count_in_pid_namespace() in a child, so the caller keeps its own namespace. */
static int counts_by_namespace_tid(void)
{
	pid_t child = fork();
	int status;

	if (child == 0)
		_exit(count_in_pid_namespace() ? 0 : 1);
	return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

static pthread_barrier_t bumped, checked;
static pid_t worker_tid;

static void *counter_worker(void *arg)
{
	(void)arg;
	worker_tid = ws_gettid();
	bump(5);
	pthread_barrier_wait(&bumped);
	pthread_barrier_wait(&checked);
	return NULL;
}

static atomic_int stop;

static void *busy_worker(void *arg)
{
	struct timespec nap = { 0, 1000 * 1000 };
	volatile unsigned long spin = 0;

	*(pid_t *)arg = ws_gettid();
	while (!atomic_load(&stop)) {
		for (int i = 0; i < 200000; i++)
			spin++;
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* Switches and on-CPU time of `tid` in the top table; 0 if not listed. */
static int top_entry(pid_t tid, long *switches, long *on_cpu_us)
{
	char line[128];
	int t, found = 0;
	long s, us;
	FILE *f = fopen(TOP, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		printf("# %s", line);
		if (sscanf(line, "%d %ld %ld", &t, &s, &us) == 3 && t == tid) {
			*switches = s;
			*on_cpu_us = us;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

int main(void)
{
	struct timespec run = { 0, 500 * 1000 * 1000 };
	long switches = 0, on_cpu = 0;
	pthread_t thread;
	pid_t busy_tid = 0;
	unsigned long long total = 0;
	struct stat st;
	long tasks = 0;
	int ok;

	ksft_print_header();
	ksft_set_plan(8);

	ksft_test_result(system("insmod /modules/ws_counter.ko") == 0 && bump(3) &&
			 count_of(0) == 3, "c_sample_counts_own_writes\n");
	pthread_barrier_init(&bumped, NULL, 2);
	pthread_barrier_init(&checked, NULL, 2);
	pthread_create(&thread, NULL, counter_worker, NULL);
	pthread_barrier_wait(&bumped);
	ksft_test_result(count_of(worker_tid) == 5 && count_of(0) == 3,
			 "c_sample_reads_back_by_tid\n");
	/* Only this thread (3) and the worker (5) wrote: the visit sums 8. */
	ok = total_count(&total, &tasks);
	ksft_print_msg("total %llu over %ld tasks\n", total, tasks);
	ksft_test_result(ok && total == 8 && tasks > 2, "c_sample_sums_every_task\n");
	pthread_barrier_wait(&checked);
	pthread_join(thread, NULL);
	ksft_test_result(counts_by_namespace_tid(), "c_sample_tid_is_the_readers_namespace\n");
	ksft_test_result(stat(COUNTER, &st) == 0 && (st.st_mode & 0777) == 0600,
			 "c_sample_is_root_only\n");
	ksft_test_result(system("rmmod ws_counter") == 0, "c_sample_unloads\n");

	if (system("insmod /modules/ws_sched_stats.ko"))
		ksft_exit_fail_msg("insmod ws_sched_stats.ko failed\n");
	pthread_create(&thread, NULL, busy_worker, &busy_tid);
	nanosleep(&run, NULL);
	ksft_test_result(top_entry(busy_tid, &switches, &on_cpu) && switches > 10 && on_cpu > 0,
			 "rust_sample_sees_busy_thread\n");
	atomic_store(&stop, 1);
	pthread_join(thread, NULL);
	ksft_test_result(system("rmmod ws_sched_stats") == 0, "rust_sample_unloads\n");
	ksft_finished();
}
