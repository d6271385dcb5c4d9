// SPDX-License-Identifier: GPL-2.0
/*
 * The visit of every world's object: world_storage_for_each() (through the
 * C client's visit file) and WorldStorage::for_each (the Rust client's
 * "visitsum"). Threads with known values are summed exactly; visits racing
 * forks, exits and vfork+exec visit no object twice and no destructed one,
 * and every thread that lives through them; a Destroy waits for a visit
 * under way, which stops at the next world; a visit of a destroyed region
 * fails.
 */

#include <signal.h>
#include <sys/wait.h>

#include "ws_test.h"

#define THREADS 16
/* 1 + 2 + ... + THREADS: each thread marks its object with its number. */
#define MARK_SUM (THREADS * (THREADS + 1) / 2)
#define RACING_VISITS 10
#define STRESSORS 2

static pthread_barrier_t marked, finish;
static atomic_int mark_errors;

/* Marks this thread's objects of both clients' regions with its number. */
static void *marker(void *arg)
{
	long n = (long)arg;

	if (ws_visit_cmd("mark %ld", n) || ws_cmd("set 0 %ld", n))
		atomic_fetch_add(&mark_errors, 1);
	pthread_barrier_wait(&marked);
	pthread_barrier_wait(&finish);
	return NULL;
}

/* Forks children that exit, and vfork+execs /bin/true, until killed. */
static void stressor(void)
{
	for (;;) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		pid = vfork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

/*
 * Runs a visit until the region's object count did not change across it
 * (no world came or went meanwhile); 1 if then every world was visited.
 */
static int visit_all(const char *owner, unsigned long long handle, struct ws_visit_file *v)
{
	struct ws_region before = { 0 }, after = { 0 };
	int tries;

	for (tries = 0; tries < 5; tries++) {
		if (!ws_find_region(handle, owner, &before) || ws_visit_cmd("run 0") ||
		    !ws_visit_read(v) || !ws_find_region(handle, owner, &after))
			return 0;
		if (before.objects == after.objects) {
			ksft_print_msg("visited %d of %ld worlds\n", v->visited, after.objects);
			return v->visited == after.objects;
		}
	}
	return 0;
}

static int rust_visit_all(unsigned long long handle, long *visited, long *set,
			  unsigned long long *sum)
{
	struct ws_region before = { 0 }, after = { 0 };
	char line[128];
	int tries;

	for (tries = 0; tries < 5; tries++) {
		if (!ws_find_region(handle, "ws_test_client", &before) || ws_cmd("visitsum 0") ||
		    ws_result(line, sizeof(line)) ||
		    sscanf(line, "visited=%ld set=%ld sum=%llu", visited, set, sum) != 3 ||
		    !ws_find_region(handle, "ws_test_client", &after))
			return 0;
		if (before.objects == after.objects) {
			ksft_print_msg("Rust: visited %ld of %ld worlds, %ld set, sum %llu\n",
				       *visited, after.objects, *set, *sum);
			return *visited == after.objects;
		}
	}
	return 0;
}

int main(void)
{
	unsigned long long rust_sum, handle;
	struct ws_background_cmd run;
	pid_t stressors[STRESSORS];
	pthread_t threads[THREADS];
	struct ws_region rust;
	long visited, set, i;
	struct ws_visit_file v;
	int ok;

	ksft_print_header();
	ws_require_client();
	ws_load_c_client();
	ksft_set_plan(7);

	if (ws_visit_cmd("create") || ws_cmd("create 0") || !ws_visit_read(&v) ||
	    !ws_find_region(0, "ws_test_client", &rust))
		ksft_exit_fail_msg("creating the regions\n");
	handle = v.handle;

	pthread_barrier_init(&marked, NULL, THREADS + 1);
	pthread_barrier_init(&finish, NULL, THREADS + 1);
	for (i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, marker, (void *)(i + 1));
	pthread_barrier_wait(&marked);
	if (atomic_load(&mark_errors))
		ksft_exit_fail_msg("%d threads could not mark their objects\n",
				   atomic_load(&mark_errors));

	ok = visit_all("ws_c_client", handle, &v);
	ksft_print_msg("ret=%d marked=%d sum=%llu dups=%d dead=%d\n", v.ret, v.marked, v.sum,
		       v.dups, v.dead);
	ksft_test_result(ok && v.ret == 0 && v.dups == 0 && v.dead == 0, "c_visit_reaches_every_world_once\n");
	ksft_test_result(v.marked == THREADS && v.sum == MARK_SUM, "c_visit_sums_the_threads_exactly\n");

	ok = rust_visit_all(rust.handle, &visited, &set, &rust_sum);
	ksft_test_result(ok && set == THREADS && rust_sum == MARK_SUM,
			 "rust_visit_sums_the_threads_exactly\n");

	/* Visits that sleep in each callback while tasks fork, exit and exec. */
	for (i = 0; i < STRESSORS; i++) {
		stressors[i] = fork();
		if (stressors[i] == 0)
			stressor();
	}
	ok = 1;
	for (i = 0; i < RACING_VISITS; i++) {
		if (ws_visit_cmd("run 100") || !ws_visit_read(&v)) {
			ok = 0;
			break;
		}
		if (v.ret || v.dups || v.dead || v.marked != THREADS || v.sum != MARK_SUM) {
			ksft_print_msg("racing visit %ld: ret=%d visited=%d marked=%d sum=%llu dups=%d dead=%d\n",
				       i, v.ret, v.visited, v.marked, v.sum, v.dups, v.dead);
			ok = 0;
		}
	}
	for (i = 0; i < STRESSORS; i++) {
		kill(stressors[i], SIGKILL);
		waitpid(stressors[i], NULL, 0);
	}
	ksft_print_msg("last racing visit: %d worlds\n", v.visited);
	ksft_test_result(ok, "visits_racing_fork_exit_exec_see_each_object_once_and_live\n");

	/* A Destroy while a visit sleeps in its callbacks waits for it. */
	ws_background_start(&run, ws_visit_cmd, "run 5000");
	for (i = 0; i < 10000 && (!ws_visit_read(&v) || !v.visiting || v.progress < 2); i++)
		usleep(1000);
	ok = ws_visit_cmd("destroy") == 0;
	ok = ws_background_join(&run) == 0 && ok && ws_visit_read(&v);
	ksft_print_msg("destroy=%d running=%d ended=%d; run ret=%d visited=%d marked=%d\n",
		       v.destroy, v.running, v.ended, v.ret, v.visited, v.marked);
	ksft_test_result(ok && v.destroy == 0 && v.running == 1 && v.ended == 1,
			 "destroy_waits_for_the_visit_under_way\n");
	/* It went on to the next world only to find the Destroy begun. */
	ksft_test_result(v.ret == -EINVAL && v.visited >= 2 && v.dead == 0,
			 "the_visit_under_destroy_stops_at_the_next_world\n");

	/* The region is gone: a new visit fails as a lookup would. */
	ok = ws_visit_cmd("run 0") == 0 && ws_visit_read(&v);
	ksft_test_result(ok && v.ret == -EINVAL, "visit_of_a_destroyed_region_fails\n");

	pthread_barrier_wait(&finish);
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	ws_cmd("destroy 0");
	ws_unload_c_client();
	ksft_finished();
}
