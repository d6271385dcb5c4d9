// SPDX-License-Identifier: GPL-2.0
/*
 * Create constructs exactly once on every thread that exists, and Destroy
 * destructs every object.
 */

#include "ws_test.h"

#define THREADS 5

static pthread_barrier_t started, stop;

static void *sleeper(void *arg)
{
	*(pid_t *)arg = ws_gettid();
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&stop);
	return NULL;
}

int main(void)
{
	pthread_t threads[THREADS];
	pid_t tids[THREADS];
	long before, after, ctor0, dtor0, ctor, dtor;
	unsigned long long value;
	int i, wid, seen = 0;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(4);

	pthread_barrier_init(&started, NULL, THREADS + 1);
	pthread_barrier_init(&stop, NULL, THREADS + 1);
	for (i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, sleeper, &tids[i]);
	pthread_barrier_wait(&started);

	ws_counts(0, &ctor0, &dtor0);
	before = ws_count_threads();
	ksft_test_result(ws_cmd("create 0") == 0, "create\n");
	after = ws_count_threads();
	ws_counts(0, &ctor, &dtor);
	ksft_print_msg("threads %ld (after: %ld), constructor calls %ld\n",
		       before, after, ctor - ctor0);
	ksft_test_result(before == after && ctor - ctor0 == before,
			 "constructor_once_per_existing_thread\n");

	for (i = 0; i < THREADS; i++)
		seen += ws_query(&wid, &value, "get 0 %d", tids[i]) == 0 && wid == tids[i];
	ksft_test_result(seen == THREADS, "every_thread_has_its_object\n");

	pthread_barrier_wait(&stop);
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	ws_cmd("destroy 0");
	ws_counts(0, &ctor, &dtor);
	ksft_test_result(ctor - ctor0 >= before && ctor - dtor == ctor0 - dtor0,
			 "destroy_destructs_every_object\n");
	ksft_finished();
}
