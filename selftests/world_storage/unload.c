// SPDX-License-Identifier: GPL-2.0
/*
 * A client module that unloads without destroying its region: the region
 * is destroyed for it, with a warning (debugfs shows it gone, with its
 * objects), and nothing calls into its freed text afterwards. A client that
 * still holds a reference when it unloads drops it before destroying its
 * regions, so the unload finishes and leaves no region. A client that
 * unloads while another module destroys one of its regions waits for that
 * Destroy, whose sweep calls its destructor; so does its own Destroy of
 * that region.
 */

#include <signal.h>
#include <sys/wait.h>

#include "ws_test.h"

#define CLIENT "/modules/ws_test_client.ko"

/*
 * rmmod of the client in a child, given at most timeout_s seconds: its exit
 * status, or -1 if it is still running (it is then left behind: a task
 * stuck in the module's exit cannot be killed).
 */
static int rmmod_bounded(int timeout_s)
{
	int status, waited;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl("/bin/rmmod", "rmmod", "ws_test_client", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	for (waited = 0; waited < timeout_s * 100; waited++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	ksft_print_msg("rmmod ws_test_client still running after %d s\n", timeout_s);
	return -1;
}

/*
 * Another module (the C client) destroys a region of the Rust client while
 * holding a reference on one of its objects, so its Destroy waits; the
 * Rust client unloads meanwhile. Its text holds the region's destructor,
 * which that Destroy's sweep calls once the reference is released: the
 * unload must wait for the Destroy to finish. Leaves the Rust client loaded.
 */
static void owner_unload_during_foreign_destroy(void)
{
	struct ws_background_cmd destroyer;
	struct ws_region r = { 0 };
	int status = -1, waited, found;
	pid_t rmmod;

	ws_load_c_client();
	found = !ws_cmd("create 1") && !ws_cmd("leak 1") &&
		ws_find_region(0, "ws_test_client", &r) &&
		!ws_c_cmd("adopt %llx", r.handle) && !ws_c_cmd("hold 0 %d", getpid());
	if (found) {
		ws_background_c_cmd(&destroyer, "destroy 0");
		/* Listed as destroying: it waits for the reference. */
		for (waited = 0; waited < 2000; waited++) {
			if (ws_find_region(r.handle, "ws_test_client", &r) &&
			    !strcmp(r.state, "destroying"))
				break;
			usleep(10000);
		}
	}
	ksft_test_result(found && !strcmp(r.state, "destroying") && !ws_background_done(&destroyer),
			 "foreign_destroy_waits_for_a_reference\n");
	if (!found)
		return;

	fflush(stdout);
	rmmod = fork();
	if (rmmod == 0) {
		execl("/bin/rmmod", "rmmod", "ws_test_client", (char *)NULL);
		_exit(127);
	}
	sleep(2);
	ksft_test_result(rmmod > 0 && waitpid(rmmod, &status, WNOHANG) == 0,
			 "owner_unload_waits_for_the_foreign_destroy\n");
	/* Printed before the release: with the unload not waiting, the sweep calls freed text. */
	fflush(stdout);

	ws_c_cmd("unhold");
	waited = ws_background_join(&destroyer);
	ksft_print_msg("destroy by the C client: %d\n", waited);
	if (rmmod > 0 && waitpid(rmmod, &status, 0) != rmmod)
		status = -1;
	ksft_test_result(waited == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			 !ws_find_region(r.handle, "ws_test_client", &r) &&
			 !ws_unload_c_client() && system("insmod " CLIENT) == 0,
			 "both_finish_after_the_release\n");
}

/*
 * The same foreign Destroy, and the owner destroys its region meanwhile:
 * its Destroy fails (the region is already being destroyed) but returns
 * only once every object is destructed, so the owner may then free what
 * its destructor uses.
 */
static void owner_destroy_during_foreign_destroy(void)
{
	struct ws_background_cmd foreign, own;
	struct ws_region r = { 0 };
	int found, listed = 0, waited, own_waits;
	long ctor, dtor;

	ws_load_c_client();
	found = !ws_cmd("create 1") && ws_find_region(0, "ws_test_client", &r) &&
		!ws_c_cmd("adopt %llx", r.handle) && !ws_c_cmd("hold 0 %d", getpid());
	if (!found) {
		ksft_test_result_fail("owner_destroy_waits_for_the_foreign_destroy\n");
		ksft_test_result_fail("every_object_destructed_when_it_returns\n");
		return;
	}
	ws_background_c_cmd(&foreign, "destroy 0");
	for (waited = 0; waited < 2000 && !listed; waited++) {
		listed = ws_find_region(r.handle, "ws_test_client", &r) &&
			 !strcmp(r.state, "destroying");
		usleep(10000);
	}
	ws_background_cmd(&own, "destroy 1");
	sleep(1);
	own_waits = listed && !ws_background_done(&own);
	ksft_test_result(own_waits, "owner_destroy_waits_for_the_foreign_destroy\n");

	ws_c_cmd("unhold");
	ws_background_join(&own);
	/* Read before the foreign Destroy is known to have finished. */
	ws_counts(1, &ctor, &dtor);
	ksft_print_msg("when the owner's Destroy returned: ctor=%ld dtor=%ld\n", ctor, dtor);
	ksft_test_result(ctor > 0 && dtor == ctor && ws_background_join(&foreign) == 0 &&
			 !ws_unload_c_client(),
			 "every_object_destructed_when_it_returns\n");
}

/* Whether debugfs shows `regions` regions, none of them the client's. */
static int client_regions_gone(long regions)
{
	struct ws_region r;
	long now = ws_file_value(WS_STATS, "regions");

	ksft_print_msg("regions: %ld (%ld before the client's)\n", now, regions);
	return now == regions && !ws_find_region(0, "ws_test_client", &r);
}

int main(void)
{
	long regions0, objects0, objects;
	int status = -1, i, ok = 1;
	struct ws_region leaked = { 0 };
	pid_t child;

	ksft_print_header();
	ws_require_client();
	ksft_set_plan(14);

	/*
	 * The C client's region has no callbacks: were it left behind, nothing
	 * would crash, and only the numbers would tell.
	 */
	regions0 = ws_file_value(WS_STATS, "regions");
	ws_load_c_client();
	ksft_test_result(!ws_c_cmd("create 8 8") && !ws_c_cmd("leak 0") &&
			 ws_find_region(0, "ws_c_client", &leaked) && !ws_unload_c_client() &&
			 ws_file_value(WS_STATS, "regions") == regions0 &&
			 !ws_find_region(0, "ws_c_client", &leaked),
			 "c_client_region_destroyed_at_its_unload\n");

	regions0 = ws_file_value(WS_STATS, "regions");
	objects0 = ws_file_value(WS_STATS, "objects");
	ksft_test_result(ws_cmd("create 2") == 0 && ws_cmd("leak 2") == 0 &&
			 ws_find_region(0, "ws_test_client", &leaked) && leaked.objects > 0,
			 "create_and_leak\n");
	ksft_test_result(system("rmmod ws_test_client") == 0, "client_unloads\n");
	ksft_test_result(ws_kernel_log_lines("ws_test_client unloaded without destroying region"),
			 "warning_logged\n");
	objects = ws_file_value(WS_STATS, "objects");
	ksft_print_msg("objects: %ld before, %ld of the leaked region, %ld after the unload\n",
		       objects0, leaked.objects, objects);
	/* Other regions' objects come and go with tasks: only 0 stays put. */
	ksft_test_result(client_regions_gone(regions0) && (objects0 != 0 || objects == 0),
			 "leaked_region_destroyed_with_its_objects\n");
	/* Printed before tasks are created: a region left behind would crash them. */
	fflush(stdout);

	/* New tasks and exits would call the freed callbacks if it were left. */
	for (i = 0; i < 20; i++) {
		child = fork();
		if (child == 0)
			_exit(0);
		waitpid(child, &status, 0);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	ksft_test_result(ok && system("insmod " CLIENT) == 0,
			 "tasks_come_and_go_and_client_reloads\n");

	/* Unload with a reference held (`hold`, no `unhold`): no deadlock. */
	ksft_test_result(ws_cmd("create 2") == 0 && ws_cmd("hold 2 %d", getpid()) == 0,
			 "create_and_hold\n");
	status = rmmod_bounded(20);
	ksft_print_msg("rmmod with a reference held: %d\n", status);
	ksft_test_result(status == 0 && client_regions_gone(regions0),
			 "client_unloads_with_a_reference_held\n");
	ksft_test_result(status == 0 && system("insmod " CLIENT) == 0,
			 "client_reloads_after_that\n");

	owner_unload_during_foreign_destroy();
	owner_destroy_during_foreign_destroy();
	ksft_finished();
}
