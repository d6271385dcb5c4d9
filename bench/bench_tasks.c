// SPDX-License-Identifier: GPL-2.0
/*
 * bench_tasks: the user-space half of `make bench`.
 *
 *   bench_tasks fork N      fork + exit + wait, N times: "<ns per op>"
 *   bench_tasks thread N    pthread_create + exit + join, N times: "<ns per op>"
 *                           (fork and thread: pinned to CPU 0, children and
 *                           threads too, after N / 10 untimed operations)
 *   bench_tasks create N    with N extra sleeping threads, reads
 *                           /sys/kernel/debug/ws_bench/create (Create and
 *                           Destroy over every thread) and prints it
 *   bench_tasks sleep N     N threads that sleep until killed; prints
 *                           "ready" once they all exist
 *   bench_tasks hold-tid N  forks until a child's TID is at least N and
 *                           leaves that child sleeping (the others exit):
 *                           prints its TID
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static pthread_barrier_t started, stop;

static int barriers;

static void *thread_fn(void *arg)
{
	return arg;
}

static void *sleeper(void *arg)
{
	(void)arg;
	if (!barriers) {
		pause();
		return NULL;
	}
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&stop);
	return NULL;
}

/* One fork + exit + wait. */
static int fork_op(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	return waitpid(pid, NULL, 0) == pid ? 0 : -1;
}

/* One pthread_create + exit + join. */
static int thread_op(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_fn, NULL))
		return -1;
	return pthread_join(t, NULL) ? -1 : 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0, i;
	long long t0;

	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "fork") || !strcmp(argv[1], "thread")) {
		int (*op)(void) = strcmp(argv[1], "fork") ? thread_op : fork_op;
		cpu_set_t cpu0;

		/*
		 * One CPU: the parent waits while its child runs, and no
		 * operation pays for a wakeup on another CPU or its idle time.
		 */
		CPU_ZERO(&cpu0);
		CPU_SET(0, &cpu0);
		if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
			return 1;
		for (i = 0; i < n / 10; i++)
			if (op())
				return 1;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (op())
				return 1;
		printf("%lld\n", (now_ns() - t0) / n);
		return 0;
	}
	if (!strcmp(argv[1], "sleep")) {
		pthread_t t;

		for (i = 0; i < n; i++)
			if (pthread_create(&t, NULL, sleeper, NULL))
				return 1;
		printf("ready\n");
		fflush(stdout);
		pause();
		return 0;
	}
	if (!strcmp(argv[1], "hold-tid")) {
		for (;;) {
			pid_t pid = fork();

			if (pid < 0)
				return 1;
			if (pid == 0) {
				if (getpid() >= n)
					pause();
				_exit(0);
			}
			if (pid >= n) {
				printf("%d\n", pid);
				return 0;
			}
			waitpid(pid, NULL, 0);
		}
	}
	if (!strcmp(argv[1], "create")) {
		pthread_t *threads = calloc(n, sizeof(*threads));
		pthread_attr_t attr;
		char line[256];
		FILE *f;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		barriers = 1;
		pthread_barrier_init(&started, NULL, n + 1);
		pthread_barrier_init(&stop, NULL, n + 1);
		for (i = 0; i < n; i++)
			if (pthread_create(&threads[i], &attr, sleeper, NULL))
				return 1;
		pthread_barrier_wait(&started);
		f = fopen("/sys/kernel/debug/ws_bench/create", "r");
		if (f && fgets(line, sizeof(line), f))
			fputs(line, stdout);
		if (f)
			fclose(f);
		pthread_barrier_wait(&stop);
		for (i = 0; i < n; i++)
			pthread_join(threads[i], NULL);
		return 0;
	}
	return 2;
}
