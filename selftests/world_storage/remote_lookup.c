// SPDX-License-Identifier: GPL-2.0
/*
 * Remote lookups by TID and by task see the right world's object; unknown
 * worlds get -ESRCH, and so do exited ones, including a zombie that was
 * already one when the region was created (Create walks it, as it walks
 * every thread, and must not give it a world its exit has passed).
 */

#include <sys/wait.h>

#include "ws_test.h"

static pthread_barrier_t set, done;
static pid_t thread_tid;
static int leader_wid = -1;
static unsigned long long leader_value;

static void *worker(void *arg)
{
	(void)arg;
	thread_tid = ws_gettid();
	ws_cmd("set 0 4242");
	pthread_barrier_wait(&set);
	/* By task: the group leader, looked up from this thread. */
	ws_query(&leader_wid, &leader_value, "getleader 0");
	pthread_barrier_wait(&done);
	return NULL;
}

int main(void)
{
	unsigned long long value = 0;
	pthread_t thread;
	int wid = -1;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(7);

	ksft_test_result(ws_cmd("create 0") == 0, "create\n");
	ws_cmd("set 0 1717");
	pthread_barrier_init(&set, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	pthread_create(&thread, NULL, worker, NULL);
	pthread_barrier_wait(&set);

	ksft_test_result(ws_query(&wid, &value, "get 0 %d", thread_tid) == 0 &&
			 wid == thread_tid && value == 4242, "lookup_by_tid_sees_that_thread\n");
	pthread_barrier_wait(&done);
	ksft_test_result(leader_wid == getpid() && leader_value == 1717,
			 "lookup_by_task_sees_that_task\n");
	pthread_join(thread, NULL);

	ksft_test_result(ws_query(&wid, &value, "get 0 %d", thread_tid) == -ESRCH,
			 "exited_thread_is_not_found\n");
	ksft_test_result(ws_query(&wid, &value, "get 0 %d", 4000000) == -ESRCH,
			 "unknown_tid_is_esrch\n");

	/* A zombie: exited, not yet reaped. */
	pid_t zombie = fork();
	siginfo_t info;

	if (zombie == 0)
		_exit(0);
	waitid(P_PID, zombie, &info, WEXITED | WNOWAIT);
	ksft_test_result(ws_query(&wid, &value, "get 0 %d", zombie) == -ESRCH,
			 "zombie_tid_is_esrch\n");
	waitpid(zombie, NULL, 0);
	ws_cmd("destroy 0");

	zombie = fork();
	if (zombie == 0)
		_exit(0);
	waitid(P_PID, zombie, &info, WEXITED | WNOWAIT);
	ws_cmd("create 0");
	ksft_test_result(ws_query(&wid, &value, "get 0 %d", zombie) == -ESRCH,
			 "zombie_before_create_is_esrch\n");
	waitpid(zombie, NULL, 0);
	ws_cmd("destroy 0");
	ksft_finished();
}
