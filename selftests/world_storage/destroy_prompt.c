// SPDX-License-Identifier: GPL-2.0
/*
 * Destroy of a region of 1,000 worlds does not wait for lazy RCU callbacks
 * (RCU_LAZY on an offloaded CPU: the VMs boot with rcu_nocbs=all), which
 * may be left queued for 10 s: it returns within PROMPT_MS, with every
 * object destructed. The same for a region whose 1,000 worlds have just
 * exited (their objects were freed at exit, lazily), and for the unload
 * of the client that owns a region of 1,000 worlds.
 */

#include <sys/wait.h>
#include <time.h>

#include "ws_test.h"

#define WORLDS 1000
/*
 * The bound asserted. The goal (issue 21) is under 100 ms of waiting
 * (make bench measures it); on the test VMs (TCG, 2 vCPUs on a shared
 * machine) a Destroy of 1,000 worlds, two grace periods and the frees
 * included, takes 40-220 ms on the dev kernel and 0.7-1.6 s on the debug
 * kernel (KASAN, kmemleak and lockdep on every free, and rcu_barrier() runs
 * every callback queued before it). 5 s leaves room for two VMs sharing the
 * machine and is still half the 10 s a lazy callback may wait, which a
 * Destroy that waits for lazy frees takes (9-10 s in this test).
 */
#define PROMPT_MS 5000
#define CLIENT "ws_test_client"

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * WORLDS children, each a world with an object of every live region: with
 * `release` (a pipe), each blocks until the parent closes its write end;
 * without (NULL), each exits at once. The number created.
 */
static int spawn_worlds(pid_t *pids, const int *release)
{
	char byte;
	int n;

	for (n = 0; n < WORLDS; n++) {
		pids[n] = fork();
		if (pids[n] < 0)
			break;
		if (pids[n] == 0) {
			if (release) {
				close(release[1]);
				while (read(release[0], &byte, 1) < 0 && errno == EINTR)
					;
			}
			_exit(0);
		}
	}
	return n;
}

/* Reaps n children; whether each exited with 0. */
static int reap_worlds(const pid_t *pids, int n)
{
	int i, status, ok = 1;

	for (i = 0; i < n; i++)
		ok &= waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0;
	return ok;
}

/*
 * Destroy of region slot `slot` after WORLDS live worlds (blocked
 * children) or worlds that have exited: whether it returned within
 * PROMPT_MS and every object constructed was destructed (the client's
 * counts, from before the Create).
 */
static void destroy_case(int slot, int live, const char *name)
{
	long ctor0 = 0, dtor0 = 0, ctor = 0, dtor = 0, start, took = -1;
	struct ws_region region = { 0 }, gone;
	static pid_t pids[WORLDS];
	int n, release[2], ok, err = -1;

	if (pipe(release))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	ok = !ws_counts(slot, &ctor0, &dtor0) && !ws_cmd("create %d", slot);
	n = spawn_worlds(pids, live ? release : NULL);
	if (!live) {
		close(release[1]);
		ok &= reap_worlds(pids, n);
	}
	ok &= n == WORLDS && ws_find_region(0, CLIENT, &region);
	if (ok) {
		start = now_ms();
		err = ws_cmd("destroy %d", slot);
		took = now_ms() - start;
	}
	ok &= !err && !ws_counts(slot, &ctor, &dtor);
	ksft_print_msg("%s: %d worlds, region objects %ld, Destroy returned %d in %ld ms (bound %d ms), constructed %ld, destructed %ld\n",
		       name, n, region.objects, err, took, PROMPT_MS, ctor - ctor0, dtor - dtor0);
	if (live) {
		close(release[1]);
		ok &= reap_worlds(pids, n);
	}
	close(release[0]);
	/*
	 * Every world had an object (at Create or at its fork), and every
	 * object constructed, in any task, was destructed.
	 */
	ok &= ctor - ctor0 >= WORLDS && dtor - dtor0 == ctor - ctor0;
	ok &= !live || region.objects >= WORLDS;
	ok &= !ws_find_region(region.handle, CLIENT, &gone);
	ksft_test_result(ok && took < PROMPT_MS, "%s\n", name);
}

/*
 * The client owning a region of WORLDS live worlds unloads: the region is
 * destroyed for it, within PROMPT_MS. (Its destructor counts go with the
 * module: the Destroy cases above count the objects.)
 */
static void unload_case(void)
{
	long regions0, regions, start, took = -1;
	struct ws_region region = { 0 }, gone;
	static pid_t pids[WORLDS];
	int n, release[2], ok, err = -1;

	if (pipe(release))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	regions0 = ws_file_value(WS_STATS, "regions");
	ok = !ws_cmd("create 2");
	n = spawn_worlds(pids, release);
	ok &= n == WORLDS && ws_find_region(0, CLIENT, &region) && !ws_cmd("leak 2");
	if (ok) {
		fflush(stdout);
		start = now_ms();
		err = syscall(SYS_delete_module, CLIENT, O_NONBLOCK) ? -errno : 0;
		took = now_ms() - start;
	}
	regions = ws_file_value(WS_STATS, "regions");
	ksft_print_msg("owner_unload: %d worlds, region objects %ld, unload returned %d in %ld ms (bound %d ms), regions %ld -> %ld\n",
		       n, region.objects, err, took, PROMPT_MS, regions0, regions);
	close(release[1]);
	ok &= reap_worlds(pids, n);
	close(release[0]);
	ok &= !err && region.objects >= WORLDS && regions == regions0 &&
	      !ws_find_region(region.handle, CLIENT, &gone);
	ksft_test_result(ok && took < PROMPT_MS, "owner_unload_with_1000_live_worlds_is_prompt\n");
	/* The next tests need the client. */
	if (system("insmod /modules/" CLIENT ".ko"))
		ksft_exit_fail_msg("insmod " CLIENT ".ko\n");
}

/* Says whether this boot has lazy RCU callbacks: without, nothing waits. */
static void print_lazy_rcu(void)
{
	char lazy[8] = "n/a", cmdline[1024] = "";
	FILE *f = fopen("/sys/module/rcutree/parameters/enable_rcu_lazy", "r");

	if (f) {
		if (!fgets(lazy, sizeof(lazy), f))
			strcpy(lazy, "?");
		lazy[strcspn(lazy, "\n")] = '\0';
		fclose(f);
	}
	f = fopen("/proc/cmdline", "r");
	if (f) {
		if (!fgets(cmdline, sizeof(cmdline), f))
			cmdline[0] = '\0';
		fclose(f);
	}
	ksft_print_msg("enable_rcu_lazy %s, rcu_nocbs=all %s\n", lazy,
		       strstr(cmdline, "rcu_nocbs=all") ? "given" : "not given");
}

int main(void)
{
	ksft_print_header();
	ws_require_client();
	ksft_set_plan(3);
	print_lazy_rcu();
	destroy_case(1, 1, "destroy_with_1000_live_worlds_is_prompt");
	destroy_case(1, 0, "destroy_after_1000_worlds_exited_is_prompt");
	unload_case();
	ksft_finished();
}
