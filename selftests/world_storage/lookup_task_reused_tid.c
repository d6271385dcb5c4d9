// SPDX-License-Identifier: GPL-2.0
/*
 * world_storage_lookup_task() names a world by its task, never by the TID
 * it had: a task that has exited, whose TID now names another task, gets
 * -ESRCH (world_storage.h), not the other task's object. The C client
 * (ws_c_client.ko) keeps a reference on the first task across its exit;
 * clone3() with set_tid gives its TID to the second one.
 */

#include <sys/wait.h>

#include "ws_test.h"

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

/* struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1). */
struct ws_clone_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal;
	unsigned long long stack, stack_size, tls, set_tid, set_tid_size;
};

/*
 * A child that stores `value` in its object, says so on `ready` and waits
 * until `release` is closed.
 */
static void child(unsigned long long value, int ready[2], int release[2])
{
	char byte = ws_c_cmd("set 0 %llu", value) ? 'e' : 'k';

	close(ready[0]);
	close(release[1]);
	if (write(ready[1], &byte, 1) != 1 || read(release[0], &byte, 1) < 0)
		_exit(2);
	_exit(0);
}

/* Forks (with TID `tid` unless 0) a child running child(). */
static pid_t spawn(pid_t tid, unsigned long long value, int ready[2], int release[2])
{
	struct ws_clone_args args = { .exit_signal = SIGCHLD };
	char byte = 0;
	pid_t pid;

	if (pipe(ready) || pipe(release))
		return -1;
	if (tid) {
		args.set_tid = (unsigned long)&tid;
		args.set_tid_size = 1;
	}
	fflush(stdout);
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid == 0)
		child(value, ready, release);
	if (pid < 0)
		return -errno;
	close(ready[1]);
	close(release[0]);
	if (read(ready[0], &byte, 1) != 1 || byte != 'k')
		return -EIO;
	return pid;
}

/* Runs a command of the C client whose result is "value=V". */
static int get_value(const char *cmd, unsigned long long *value)
{
	char res[128];
	int err = ws_c_cmd("%s", cmd);

	if (!err)
		err = ws_c_result(res, sizeof(res));
	if (!err && sscanf(res, "value=%llu", value) != 1)
		err = -EPROTO;
	return err;
}

int main(void)
{
	int ready_a[2], release_a[2], ready_b[2], release_b[2], err;
	unsigned long long value = 0;
	pid_t a, b = -1;
	char cmd[32];

	ksft_print_header();
	ws_load_c_client();
	ksft_set_plan(4);

	if (ws_c_cmd("create 8 8"))
		ksft_exit_fail_msg("create 8 8\n");
	a = spawn(0, 1111, ready_a, release_a);
	err = a > 0 ? ws_c_cmd("pin %d", a) : -ECHILD;
	if (!err)
		err = get_value("getpinned 0", &value);
	ksft_print_msg("task %d: %d, value %llu\n", a, err, value);
	ksft_test_result(!err && value == 1111, "lookup_task_of_live_task\n");

	/* The first task exits and is reaped; its TID goes to a new task. */
	if (a > 0) {
		close(release_a[1]);
		waitpid(a, NULL, 0);
		b = spawn(a, 2222, ready_b, release_b);
	}
	value = 0;
	snprintf(cmd, sizeof(cmd), "get 0 %d", a);
	err = b == a ? get_value(cmd, &value) : -ECHILD;
	ksft_print_msg("new task %d: %d, value %llu\n", b, err, value);
	ksft_test_result(b == a && !err && value == 2222, "tid_now_names_a_new_task\n");

	value = 0;
	err = get_value("getpinned 0", &value);
	ksft_print_msg("lookup of the exited task: %d, value %llu\n", err, value);
	ksft_test_result(err == -ESRCH, "lookup_task_of_exited_task_is_esrch\n");

	if (b > 0) {
		close(release_b[1]);
		waitpid(b, NULL, 0);
	}
	ksft_test_result(!ws_c_cmd("unpin") && !ws_c_cmd("destroyall") && !ws_unload_c_client(),
			 "unpin_destroy_unload\n");
	ksft_finished();
}
