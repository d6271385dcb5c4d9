// SPDX-License-Identifier: GPL-2.0
/*
 * An allocation that fails while a new task gets its objects: the task is
 * killed before it runs user code, and counted (debugfs `stats`:
 * task_constructor_failures, tasks_killed); it is never left to run without
 * its objects.
 *
 * For N = 1, 2, ...: /proc/thread-self/fail-nth makes the N-th fallible
 * slab allocation of our fork() fail (failslab; the task-creation hook runs
 * in the parent, and it allocates without sleeping, which failslab fails by
 * default). Each fork must end in one of three ways:
 *   - fork() fails with an errno: the failure hit the kernel's own fork path;
 *   - the child is killed by SIGKILL and both counters went up by one: the
 *     failure hit the task-creation hook;
 *   - the child runs and has its object, and the counters did not move.
 * At least one N must hit the hook. N grows until the N-th allocation is past
 * the end of fork() (fail-nth reads back non-zero: nothing was failed).
 * Kernels without fault injection (the plain dev kernel) skip the test; the
 * debug kernel (make check-debug) runs it.
 */

#include <signal.h>
#include <sys/wait.h>

#include "ws_test.h"

#define FAIL_NTH "/proc/thread-self/fail-nth"
#define FAILSLAB_VERBOSE "/sys/kernel/debug/failslab/verbose"
#define MAX_NTH 200
/* The child's exit status when it runs without its object. */
#define NO_OBJECT 3

static long stat(const char *name)
{
	return ws_file_value(WS_STATS, name);
}

/* Writes `value` to `path`; the old content (up to len) into old if given. */
static int swap_file(const char *path, const char *value, char *old, size_t len)
{
	int fd, ok;
	ssize_t n;

	if (old) {
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, old, len - 1);
		old[n > 0 ? n : 0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	/* A fresh file: debugfs attributes take a write at offset 0 only. */
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * One fork with the nth allocation failing. Returns 1 if the outcome is
 * legal; *hook is set if the hook's allocation failed; *left is what
 * fail-nth read back after fork() (0: the failure was injected).
 */
static int fork_failing(int fd, unsigned int nth, int *hook, unsigned int *left)
{
	long failures0 = stat("task_constructor_failures"), killed0 = stat("tasks_killed");
	long failures, killed;
	char buf[16];
	int status = 0, saved_errno;
	ssize_t n;
	pid_t pid;

	snprintf(buf, sizeof(buf), "%u", nth);
	if (pwrite(fd, buf, strlen(buf), 0) < 0)
		ksft_exit_fail_msg("write %s: %s\n", FAIL_NTH, strerror(errno));
	pid = fork();
	saved_errno = errno;
	if (pid == 0)
		_exit(ws_cmd("getlocal 0") ? NO_OBJECT : 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	*left = strtoul(buf, NULL, 10);
	if (pwrite(fd, "0", 1, 0) < 0)
		ksft_exit_fail_msg("write %s: %s\n", FAIL_NTH, strerror(errno));
	if (pid > 0)
		waitpid(pid, &status, 0);
	failures = stat("task_constructor_failures") - failures0;
	killed = stat("tasks_killed") - killed0;
	*hook = 0;

	if (pid < 0) {
		ksft_print_msg("nth %u: fork failed: %s\n", nth, strerror(saved_errno));
		return saved_errno != 0 && failures == 0 && killed == 0;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && failures == 1 &&
	    killed == 1) {
		ksft_print_msg("nth %u: the child was killed and counted\n", nth);
		*hook = 1;
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && failures == 0 && killed == 0)
		return 1;
	ksft_print_msg("nth %u: illegal: child %s %d, task_constructor_failures +%ld, tasks_killed +%ld\n",
		       nth, WIFSIGNALED(status) ? "killed by signal" : "exited with",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), failures,
		       killed);
	return 0;
}

int main(void)
{
	unsigned int nth, left = 0, illegal = 0, hooks = 0;
	char verbose[16] = "";
	int fd, hook;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(2);
	fd = open(FAIL_NTH, O_RDWR);
	if (fd < 0 || access(FAILSLAB_VERBOSE, W_OK)) {
		ksft_test_result_skip("every_outcome_is_legal: no %s or failslab\n", FAIL_NTH);
		ksft_test_result_skip("the_hook_allocation_failed: no %s or failslab\n", FAIL_NTH);
		ksft_finished();
	}
	/* Each injected failure would print a stack trace. */
	swap_file(FAILSLAB_VERBOSE, "0", verbose, sizeof(verbose));
	if (ws_cmd("create 0"))
		ksft_exit_fail_msg("create 0\n");

	for (nth = 1; nth <= MAX_NTH; nth++) {
		illegal += !fork_failing(fd, nth, &hook, &left);
		hooks += hook;
		if (left)
			break;
	}
	ksft_print_msg("%u forks, %u with the hook's allocation failing, %u illegal\n",
		       nth - (nth > MAX_NTH), hooks, illegal);
	ksft_test_result(illegal == 0 && left, "every_outcome_is_legal\n");
	ksft_test_result(hooks > 0, "the_hook_allocation_failed\n");

	ws_cmd("destroy 0");
	if (verbose[0])
		swap_file(FAILSLAB_VERBOSE, verbose, NULL, 0);
	close(fd);
	ksft_finished();
}
