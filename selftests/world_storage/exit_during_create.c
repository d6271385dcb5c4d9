// SPDX-License-Identifier: GPL-2.0
/*
 * A thread that exits while Create walks the threads leaves no record
 * behind: with a region live throughout (so that no last Destroy takes
 * stray records out), the world count comes back to one per thread in the
 * system once the exited ones are reaped, after
 * - a Create that walks a zombie (exited before it, reaped after it), and
 * - Creates and Destroys of a second region, over and over, while a child
 *   forks children that exit at once.
 * (A thread that starts to exit inside Create's few instructions between
 * its check and its store is rare in the second case: it shows the
 * outcome, it does not force that interleaving.)
 */

#include <signal.h>
#include <sys/wait.h>

#include "ws_test.h"

#define ROUNDS 200

/*
 * Worlds minus threads, once both stop changing and differ by `want` (at
 * most 5 s: other tasks may come and go meanwhile); the last difference
 * seen.
 */
static long worlds_minus_threads(long want)
{
	long threads = -1, worlds = -1, again;
	int i;

	for (i = 0; i < 500; i++) {
		threads = ws_count_threads();
		worlds = ws_file_value(WS_STATS, "worlds");
		again = ws_count_threads();
		if (threads == again && worlds - threads == want)
			break;
		usleep(10000);
	}
	ksft_print_msg("worlds %ld, threads %ld\n", worlds, threads);
	return worlds - threads;
}

static void fork_exit_forever(void)
{
	for (;;) {
		pid_t child = fork();

		if (child == 0)
			_exit(0);
		if (child > 0)
			waitpid(child, NULL, 0);
	}
}

int main(void)
{
	int round, failed = 0;
	long left;
	siginfo_t info;
	pid_t child;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(4);

	ksft_test_result(ws_cmd("create 0") == 0, "create\n");
	ksft_test_result(worlds_minus_threads(0) == 0, "one_world_per_thread\n");

	child = fork();
	if (child == 0)
		_exit(0);
	waitid(P_PID, child, &info, WEXITED | WNOWAIT);
	failed = ws_cmd("create 1") != 0;
	waitpid(child, NULL, 0);
	failed |= ws_cmd("destroy 1") != 0;
	left = worlds_minus_threads(0);
	ksft_test_result(!failed && left == 0, "no_world_left_by_a_zombie_walked_by_create\n");

	/* Counted from what the zombie left, if anything. */

	child = fork();
	if (child == 0)
		fork_exit_forever();
	for (round = 0; round < ROUNDS && !failed; round++)
		failed = ws_cmd("create 1") != 0 || ws_cmd("destroy 1") != 0;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ksft_test_result(!failed && worlds_minus_threads(left) == left,
			 "no_world_left_by_tasks_exiting_during_create\n");
	ws_cmd("destroy 0");
	ksft_finished();
}
