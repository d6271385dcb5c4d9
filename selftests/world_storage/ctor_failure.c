// SPDX-License-Identifier: GPL-2.0
/*
 * Constructor failures: during Create (Create fails with the constructor's
 * error, everything constructed is destructed), and at the creation of a
 * user task (the task is killed by SIGKILL before it runs user code).
 */

#include <signal.h>
#include <sys/wait.h>

#include "ws_test.h"

int main(void)
{
	long ctor0, dtor0, ctor, dtor;
	int pipefd[2], status = 0, err;
	char byte = 0;
	ssize_t n;
	pid_t child;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(5);

	ws_counts(1, &ctor0, &dtor0);
	ws_cmd("fail after 3");
	err = ws_cmd("create 1");
	ws_cmd("fail none");
	ws_counts(1, &ctor, &dtor);
	ksft_print_msg("create: %d, constructed %ld, destructed %ld\n", err, ctor - ctor0,
		       dtor - dtor0);
	ksft_test_result(err == -EDOM, "create_returns_constructor_error\n");
	ksft_test_result(ctor - ctor0 == 3 && dtor - dtor0 == 3,
			 "create_destructs_what_it_constructed\n");
	ksft_test_result(ws_cmd("getlocal 1") == -ENOENT, "failed_region_does_not_exist\n");

	ksft_test_result(ws_cmd("create 1") == 0, "create\n");
	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	ws_cmd("fail all");
	child = fork();
	if (child == 0) {
		/* User code: must never run. */
		n = write(pipefd[1], "x", 1);
		_exit(n == 1 ? 0 : 2);
	}
	ws_cmd("fail none");
	close(pipefd[1]);
	if (child > 0)
		waitpid(child, &status, 0);
	n = read(pipefd[0], &byte, 1);
	ksft_print_msg("child: %s %d, read %zd\n",
		       WIFSIGNALED(status) ? "signal" : "exit",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), n);
	ksft_test_result(child > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
			 n == 0, "new_user_task_killed_before_user_code\n");
	ws_cmd("destroy 1");
	ksft_finished();
}
