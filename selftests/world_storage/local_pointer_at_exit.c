// SPDX-License-Identifier: GPL-2.0
/*
 * A pointer from world_storage_lookup_local() is valid until the task's
 * exit hook, not for the rest of its exit (include/world_storage.h): the C
 * client's exitwatch file keeps its opener's object at open() and reports
 * at release(). A task that closes the file before it exits finds its
 * object live there; one that exits with the file open has release() run
 * after its exit hook, when the object's destructor has already run and its
 * local lookup answers -ENOENT. (The client never reads a destructed
 * object: its destructor tells the open file.)
 */

#include <sys/wait.h>

#include "ws_test.h"

#define EXITWATCH "/sys/kernel/debug/ws_c_client/exitwatch"
#define WATCH_LIVE 0x600dULL

struct report {
	int tid, exiting, destructed, lookup;
	unsigned long long value;
};

/* A child opens the exitwatch file, closes it first if `close_first`, exits. */
static pid_t run_child(int close_first)
{
	int status, fd;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		fd = open(EXITWATCH, O_RDONLY);
		if (fd < 0)
			_exit(1);
		if (close_first)
			close(fd);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	return pid;
}

static int last_report(struct report *r)
{
	char res[128];
	int err = ws_c_cmd("exitwatch result");

	if (!err)
		err = ws_c_result(res, sizeof(res));
	ksft_print_msg("release reported: %s\n", err ? "nothing" : res);
	if (!err && sscanf(res, "tid=%d exiting=%d destructed=%d value=%llx lookup=%d", &r->tid,
			   &r->exiting, &r->destructed, &r->value, &r->lookup) != 5)
		err = -EPROTO;
	return err;
}

int main(void)
{
	struct report r = { 0 };
	pid_t child;

	ksft_print_header();
	ws_load_c_client();
	ksft_set_plan(3);

	ksft_test_result(ws_c_cmd("exitwatch create") == 0, "create\n");

	child = run_child(1);
	ksft_test_result(child > 0 && !last_report(&r) && r.tid == child && !r.exiting &&
			 !r.destructed && r.value == WATCH_LIVE && r.lookup == 0,
			 "closed_before_exit_sees_its_live_object\n");

	memset(&r, 0, sizeof(r));
	child = run_child(0);
	ksft_test_result(child > 0 && !last_report(&r) && r.tid == child && r.exiting &&
			 r.destructed && r.lookup == -ENOENT,
			 "released_at_exit_after_the_destructor_ran\n");

	if (ws_c_cmd("exitwatch destroy") || ws_unload_c_client())
		ksft_exit_fail_msg("exitwatch destroy, unload\n");
	ksft_finished();
}
