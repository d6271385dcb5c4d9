// SPDX-License-Identifier: GPL-2.0
/*
 * Destroy while a reference is held blocks until the release.
 */

#include <stdatomic.h>
#include <time.h>

#include "ws_test.h"

static atomic_int destroyed;
static int destroy_err = 1;

static void *destroyer(void *arg)
{
	(void)arg;
	destroy_err = ws_cmd("destroy 0");
	atomic_store(&destroyed, 1);
	return NULL;
}

int main(void)
{
	struct timespec pause = { 0, 300 * 1000 * 1000 };
	long ctor, dtor;
	pthread_t thread;
	int blocked;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(3);

	ksft_test_result(ws_cmd("create 0") == 0 && ws_cmd("hold 0 %d", getpid()) == 0,
			 "create_and_hold\n");
	pthread_create(&thread, NULL, destroyer, NULL);
	nanosleep(&pause, NULL);
	blocked = !atomic_load(&destroyed);
	ksft_test_result(blocked, "destroy_waits_for_the_reference\n");
	ws_cmd("unhold");
	pthread_join(thread, NULL);
	ws_counts(0, &ctor, &dtor);
	ksft_test_result(atomic_load(&destroyed) && destroy_err == 0 && ctor == dtor,
			 "destroy_completes_after_release\n");
	ksft_finished();
}
