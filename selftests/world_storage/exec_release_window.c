// SPDX-License-Identifier: GPL-2.0
/*
 * A reference taken on a thread before it calls execve() is released by
 * the thread's old TID while the exec is under way: after de_thread() gave
 * the thread its leader's TID and before world storage's exec hook. The
 * old TID is one the world had when it was made, so the release succeeds
 * (the contract: a world ID the world had, at creation or after an exec).
 *
 * The C client releases from the exec'ing thread itself, in its
 * task_rename tracepoint: begin_new_exec() renames the task after
 * de_thread() and before the exec hook (sched_process_exec), so every run
 * lands in that window.
 */

#define _GNU_SOURCE
#include <sys/wait.h>

#include "ws_test.h"

#define AS_EXECED "--execed"

static int ready[2], go[2];

/* Tells main its TID, waits for the go, then execs this program. */
static void *execer(void *arg)
{
	pid_t tid = ws_gettid();
	char c;

	(void)arg;
	if (write(ready[1], &tid, sizeof(tid)) != sizeof(tid) || read(go[0], &c, 1) != 1)
		_exit(2);
	execl("/proc/self/exe", "exec_release_window", AS_EXECED, (char *)NULL);
	_exit(3);
}

int main(int argc, char **argv)
{
	int release = 1, cleanup = 1, status = -1;
	char buf[96];
	pthread_t thread;
	pid_t child, tid = 0;

	if (argc > 1 && !strcmp(argv[1], AS_EXECED))
		return 0;

	ksft_print_header();
	ws_load_c_client();
	ksft_set_plan(4);

	if (ws_c_cmd("create 8 8"))
		ksft_exit_fail_msg("create\n");
	if (pipe(ready) || pipe(go))
		ksft_exit_fail_msg("pipe\n");
	child = fork();
	if (child == 0) {
		pthread_create(&thread, NULL, execer, NULL);
		pthread_join(thread, NULL);
		_exit(4);
	}
	if (read(ready[0], &tid, sizeof(tid)) != sizeof(tid))
		ksft_exit_fail_msg("no TID from the thread\n");
	ksft_print_msg("thread %d of process %d execs\n", tid, child);
	ksft_test_result(tid != child && ws_c_cmd("execarm 0 %d", tid) == 0,
			 "reference_taken_on_the_thread\n");
	if (write(go[1], "g", 1) != 1)
		ksft_exit_fail_msg("go\n");
	waitpid(child, &status, 0);
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec_and_exit\n");

	if (ws_c_cmd("execresult") || ws_c_result(buf, sizeof(buf)) ||
	    sscanf(buf, "release=%d cleanup=%d", &release, &cleanup) != 2)
		ksft_exit_fail_msg("execresult: '%s'\n", buf);
	ksft_print_msg("%s\n", buf);
	/* 1: the probe did not run (no rename after the TID changed). */
	ksft_test_result(release == 0, "release_by_old_tid_inside_exec\n");
	ksft_test_result(ws_c_cmd("destroy 0") == 0, "destroy_after_release\n");
	ws_unload_c_client();
	ksft_finished();
}
