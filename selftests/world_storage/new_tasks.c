// SPDX-License-Identifier: GPL-2.0
/*
 * New threads and processes get exactly one constructor call each; every
 * thread writes its own value through local() and reads back only its own;
 * their exits run exactly one destructor each.
 */

#include <sys/wait.h>

#include "ws_test.h"

#define THREADS 8

static pthread_barrier_t written;

/* Sets a value unique to this thread, waits for all to write, reads back. */
static int own_value_roundtrip(void)
{
	unsigned long long value;
	pid_t tid = ws_gettid();
	int wid;

	if (ws_cmd("set 0 %d", tid * 10 + 7))
		return 0;
	pthread_barrier_wait(&written);
	if (ws_query(&wid, &value, "getlocal 0"))
		return 0;
	return wid == tid && value == (unsigned long long)tid * 10 + 7;
}

static void *worker(void *arg)
{
	*(int *)arg = own_value_roundtrip();
	return NULL;
}

int main(void)
{
	pthread_t threads[THREADS];
	int ok[THREADS], i, good = 0, status = -1;
	long ctor0, dtor0, ctor1, dtor1, ctor2, dtor2;
	pid_t child;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(5);

	ksft_test_result(ws_cmd("create 0") == 0, "create\n");
	ws_counts(0, &ctor0, &dtor0);

	pthread_barrier_init(&written, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, worker, &ok[i]);
	for (i = 0; i < THREADS; i++) {
		pthread_join(threads[i], NULL);
		good += ok[i];
	}
	ksft_test_result(good == THREADS, "each_thread_reads_back_only_its_own_value\n");

	child = fork();
	if (child == 0) {
		pthread_barrier_destroy(&written);
		pthread_barrier_init(&written, NULL, 1);
		_exit(own_value_roundtrip() ? 0 : 1);
	}
	waitpid(child, &status, 0);
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			 "new_process_has_its_own_object\n");

	ws_counts(0, &ctor1, &dtor1);
	ksft_print_msg("constructor calls %ld, destructor calls %ld for %d threads + 1 process\n",
		       ctor1 - ctor0, dtor1 - dtor0, THREADS);
	ksft_test_result(ctor1 - ctor0 == THREADS + 1 && dtor1 - dtor0 == THREADS + 1,
			 "one_constructor_and_one_destructor_per_new_task\n");

	ws_cmd("destroy 0");
	ws_counts(0, &ctor2, &dtor2);
	ksft_test_result(ctor2 == dtor2, "constructed_equals_destructed\n");
	ksft_finished();
}
