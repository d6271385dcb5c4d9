// SPDX-License-Identifier: GPL-2.0
/*
 * A reference held across the target's exit: the destructor runs only at
 * release, exactly once.
 */

#include "ws_test.h"

static pid_t thread_tid;

static void *worker(void *arg)
{
	(void)arg;
	thread_tid = ws_gettid();
	return NULL;
}

static pthread_barrier_t ready, go;

static void *holder_target(void *arg)
{
	(void)arg;
	thread_tid = ws_gettid();
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	return NULL;
}

int main(void)
{
	long ctor0, dtor0, ctor1, dtor1, ctor2, dtor2;
	unsigned long long value;
	pthread_t thread;
	int wid;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(5);

	ksft_test_result(ws_cmd("create 0") == 0, "create\n");

	pthread_barrier_init(&ready, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);
	pthread_create(&thread, NULL, holder_target, NULL);
	pthread_barrier_wait(&ready);
	ksft_test_result(ws_cmd("hold 0 %d", thread_tid) == 0, "hold_reference\n");
	ws_counts(0, &ctor0, &dtor0);
	pthread_barrier_wait(&go);
	pthread_join(thread, NULL);

	ws_counts(0, &ctor1, &dtor1);
	ksft_test_result(dtor1 == dtor0 &&
			 ws_query(&wid, &value, "get 0 %d", thread_tid) == -ESRCH,
			 "exited_world_gone_but_not_destructed\n");
	ws_cmd("unhold");
	ws_counts(0, &ctor2, &dtor2);
	ksft_test_result(dtor2 == dtor1 + 1, "destructor_runs_at_release_once\n");

	/* A thread that exits with no reference held is destructed at exit. */
	pthread_create(&thread, NULL, worker, NULL);
	pthread_join(thread, NULL);
	ws_counts(0, &ctor1, &dtor1);
	ksft_test_result(dtor1 == dtor2 + 1, "destructor_runs_at_exit_without_reference\n");
	ws_cmd("destroy 0");
	ksft_finished();
}
