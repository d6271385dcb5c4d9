// SPDX-License-Identifier: GPL-2.0
/*
 * What may happen to a world while a visit's callback holds its object
 * (world_storage_for_each(), through the C client's visit file, whose
 * callback waits at one world until told to go on): the world exits; its
 * process exec's from another thread, which ends the visited leader's
 * world; the visited region's Destroy starts and the last other region is
 * destroyed (world storage then detaches every world); regions are created
 * until every world's entries grow. In each, the object stays constructed
 * until the callback returns and is destructed once after; the visit
 * reaches every marked thread once. A visit stopped by its callback leaves
 * no reference behind; a callback may look up, release, visit again,
 * create and destroy.
 */

#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "ws_test.h"

#define AFTER_EXEC "--after-exec"
#define MARKERS 8
/* 1 + 2 + ... + MARKERS. */
#define MARK_SUM (MARKERS * (MARKERS + 1) / 2)
/* Regions created while a callback waits: past the 8 entries a world starts with. */
#define GROW_REGIONS 12
#define VISIT_STOP 77

/* Waits (10 s at most) until a callback waits at the paused world; 1 if it does. */
static int wait_paused(void)
{
	struct ws_visit_file v;
	int i;

	for (i = 0; i < 10000; i++) {
		if (ws_visit_read(&v) && v.paused)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* Waits (10 s at most) until thread `tid` of this process is reaped. */
static int wait_reaped(pid_t tid)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	for (i = 0; i < 10000; i++) {
		if (access(path, F_OK))
			return 1;
		usleep(1000);
	}
	return 0;
}

/* A thread that marks its object and exits when told. */
struct worker {
	pthread_t thread;
	long mark;
	atomic_int tid, go, err;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->mark && ws_visit_cmd("mark %ld", w->mark))
		atomic_store(&w->err, 1);
	atomic_store(&w->tid, ws_gettid());
	while (!atomic_load(&w->go))
		usleep(1000);
	return NULL;
}

static pid_t worker_start(struct worker *w, long mark)
{
	int i;

	memset(w, 0, sizeof(*w));
	w->mark = mark;
	if (pthread_create(&w->thread, NULL, worker_main, w))
		ksft_exit_fail_msg("pthread_create\n");
	for (i = 0; i < 10000 && !atomic_load(&w->tid); i++)
		usleep(1000);
	if (!atomic_load(&w->tid) || atomic_load(&w->err))
		ksft_exit_fail_msg("worker did not start\n");
	return atomic_load(&w->tid);
}

static void worker_stop(struct worker *w)
{
	atomic_store(&w->go, 1);
	pthread_join(w->thread, NULL);
}

/* The world of a visited thread exits while its callback waits. */
static void exit_during_callback(void)
{
	struct ws_background_cmd run;
	struct ws_visit_file v;
	struct worker w;
	pid_t tid = worker_start(&w, 0);
	int ok, during = -1;

	ok = ws_visit_cmd("pause %d", tid) == 0;
	ws_background_start(&run, ws_visit_cmd, "run 0");
	ok = ok && wait_paused();
	worker_stop(&w);
	ok = ok && wait_reaped(tid) && ws_visit_read(&v);
	during = v.watch_dtors;
	ws_visit_cmd("resume");
	ok = ws_background_join(&run) == 0 && ok && ws_visit_read(&v);
	ksft_print_msg("exit: dtors while held %d, after %d; ret=%d dead=%d hits=%d\n", during,
		       v.watch_dtors, v.ret, v.dead, v.hits);
	ksft_test_result(ok && during == 0 && v.watch_dtors == 1 && v.ret == 0 && v.dead == 0 &&
			 v.hits == 1,
			 "exit_during_callback_destructs_after_it_once\n");
}

/* The exec'd image: tells the test it runs, then waits to be killed. */
static int after_exec(int fd)
{
	char c = 'x';

	if (write(fd, &c, 1) != 1)
		return 1;
	for (;;)
		pause();
}

static int exec_pipe[2], go_pipe[2];

static void *exec_thread(void *arg __attribute__((unused)))
{
	char fd[16], c;

	if (read(go_pipe[0], &c, 1) != 1)
		_exit(2);
	snprintf(fd, sizeof(fd), "%d", exec_pipe[1]);
	execl("/proc/self/exe", "visit_races", AFTER_EXEC, fd, (char *)NULL);
	_exit(3);
}

/*
 * A child's leader is visited; while its callback waits, another thread of
 * the child exec's, which ends the leader's world (de_thread()) and gives
 * the exec'ing thread the leader's TID.
 */
static void exec_during_callback(void)
{
	struct ws_background_cmd run;
	struct ws_visit_file v;
	struct pollfd pfd;
	int ok, during = -1;
	pid_t child;
	char c;

	if (pipe(exec_pipe) || pipe(go_pipe))
		ksft_exit_fail_msg("pipe\n");
	child = fork();
	if (child == 0) {
		pthread_t t;

		close(exec_pipe[0]);
		if (pthread_create(&t, NULL, exec_thread, NULL))
			_exit(1);
		for (;;)
			pause();
	}
	close(exec_pipe[1]);
	/* Its leader has its object once fork() returned. */
	ok = ws_visit_cmd("pause %d", child) == 0;
	ws_background_start(&run, ws_visit_cmd, "run 0");
	ok = ok && wait_paused();
	ok = ok && write(go_pipe[1], "g", 1) == 1;
	pfd.fd = exec_pipe[0];
	pfd.events = POLLIN;
	ok = ok && poll(&pfd, 1, 10000) == 1 && read(exec_pipe[0], &c, 1) == 1;
	ok = ok && ws_visit_read(&v);
	during = v.watch_dtors;
	ws_visit_cmd("resume");
	ok = ws_background_join(&run) == 0 && ok && ws_visit_read(&v);
	ksft_print_msg("exec: dtors of TID %d while held %d, after %d; ret=%d dead=%d dups=%d hits=%d\n",
		       child, during, v.watch_dtors, v.ret, v.dead, v.dups, v.hits);
	ksft_test_result(ok && during == 0 && v.watch_dtors == 1 && v.ret == 0 && v.dead == 0 &&
			 v.dups == 0,
			 "exec_ending_the_visited_leader_destructs_after_the_callback\n");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(exec_pipe[0]);
	close(go_pipe[0]);
	close(go_pipe[1]);
}

/* Live regions in debugfs. */
static int live_regions(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(WS_REGIONS, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, " live") != NULL;
	fclose(f);
	return n;
}

/*
 * While a callback waits, the visited region's Destroy starts (and waits),
 * then the only other region is destroyed: no region is live, and world
 * storage detaches every world. The held object is destructed only after
 * the callback; both Destroys return.
 */
static void last_destroy_during_callback(void)
{
	struct ws_background_cmd run, destroy;
	struct ws_region r;
	struct ws_visit_file v;
	struct worker w;
	pid_t tid;
	int ok, i, during = -1, other = 1, live;
	unsigned long long handle;

	live = live_regions();
	if (live != 2) {
		ksft_test_result_skip("last_destroy_during_callback: %d live regions, not 2\n", live);
		return;
	}
	tid = worker_start(&w, 0);
	ok = ws_visit_read(&v);
	handle = v.handle;
	ok = ok && ws_visit_cmd("pause %d", tid) == 0;
	ws_background_start(&run, ws_visit_cmd, "run 0");
	ok = ok && wait_paused();
	ws_background_start(&destroy, ws_visit_cmd, "destroy");
	for (i = 0; i < 10000; i++) {
		if (ws_find_region(handle, "ws_c_client", &r) && !strcmp(r.state, "destroying"))
			break;
		usleep(1000);
	}
	ok = ok && i < 10000 && !ws_background_done(&destroy);
	other = ws_cmd("destroy 0");
	ok = ok && other == 0 && live_regions() == 0 && ws_visit_read(&v);
	during = v.watch_dtors;
	ws_visit_cmd("resume");
	ok = ws_background_join(&run) == 0 && ok;
	ok = ws_background_join(&destroy) == 0 && ok && ws_visit_read(&v);
	ksft_print_msg("last destroy: other=%d dtors while held %d, after %d; ret=%d dead=%d destroy=%d\n",
		       other, during, v.watch_dtors, v.ret, v.dead, v.destroy);
	/*
	 * The visit then ends: no world is left (0), or the next one finds the
	 * region's Destroy begun (-EINVAL).
	 */
	ksft_test_result(ok && during == 0 && v.watch_dtors == 1 &&
			 (v.ret == 0 || v.ret == -EINVAL) && v.dead == 0 && v.destroy == 0,
			 "last_destroy_of_another_region_during_callback_keeps_the_object\n");
	worker_stop(&w);
	if (ws_visit_cmd("create") || ws_cmd("create 0"))
		ksft_exit_fail_msg("creating the regions again\n");
}

/*
 * While a callback waits, regions are created until every world's entries
 * grow (and a Rust visit of another region runs), then the held world
 * exits: its object, whose entry moved with the reference on it, is
 * destructed only after the callback; the visit still reaches each marked
 * thread once, with its mark.
 */
static void growth_during_callback(void)
{
	struct ws_background_cmd run;
	struct worker w[MARKERS];
	struct ws_visit_file v;
	char line[128];
	int ok = 1, i, rust, during = -1;
	pid_t held;

	for (i = 0; i < MARKERS; i++)
		worker_start(&w[i], i + 1);
	held = atomic_load(&w[0].tid);
	ok = ws_visit_cmd("pause %d", held) == 0;
	ws_background_start(&run, ws_visit_cmd, "run 0");
	ok = ok && wait_paused();
	for (i = 0; i < GROW_REGIONS; i++)
		ok = ok && ws_c_cmd("create 8 8") == 0;
	rust = ws_cmd("visitsum 0") == 0 ? ws_result(line, sizeof(line)) : -1;
	worker_stop(&w[0]);
	ok = ok && wait_reaped(held) && ws_visit_read(&v);
	during = v.watch_dtors;
	ws_visit_cmd("resume");
	ok = ws_background_join(&run) == 0 && ok && ws_visit_read(&v);
	ksft_print_msg("growth: rust visit %d; dtors while held %d, after %d; ret=%d visited=%d marked=%d sum=%llu dups=%d dead=%d\n",
		       rust, during, v.watch_dtors, v.ret, v.visited, v.marked, v.sum, v.dups,
		       v.dead);
	ksft_test_result(ok && rust == 0 && v.ret == 0 && v.dead == 0 && v.dups == 0 &&
			 v.marked == MARKERS && v.sum == MARK_SUM,
			 "entries_growing_during_callback_lose_no_world\n");
	ksft_test_result(ok && during == 0 && v.watch_dtors == 1,
			 "reference_held_across_growth_keeps_the_object_until_given_back\n");
	ws_c_cmd("destroyall");
	for (i = 1; i < MARKERS; i++)
		worker_stop(&w[i]);
}

/*
 * A callback stops the visit: no reference is left, so the visited world's
 * exit destructs its object at once and debugfs shows no remote reference.
 */
static void stop_leaves_no_reference(void)
{
	struct ws_visit_file v;
	struct ws_region r = { 0 };
	struct worker w;
	pid_t tid = worker_start(&w, 0);
	int ok, refs = -1;

	ok = ws_visit_cmd("pause -1") == 0 && ws_visit_cmd("stopat %d", tid) == 0 &&
	     ws_visit_cmd("run 0") == 0 && ws_visit_read(&v);
	ok = ok && v.ret == VISIT_STOP && ws_find_region(v.handle, "ws_c_client", &r);
	refs = r.remote_refs;
	ok = ok && ws_visit_cmd("stopat -1") == 0 && ws_visit_cmd("watch %d", tid) == 0;
	worker_stop(&w);
	ok = ok && wait_reaped(tid) && ws_visit_read(&v);
	ksft_print_msg("stop: ret=%d remote_refs=%d dtors at exit %d\n", v.ret, refs,
		       v.watch_dtors);
	ksft_test_result(ok && refs == 0 && v.watch_dtors == 1,
			 "stopped_visit_leaves_no_reference\n");
}

/*
 * A callback releases the object it was given (a misuse of the API): the
 * visit's own reference is then gone, but the region's count of references
 * must still match its objects' so that a lookup held afterwards is
 * counted (and waited for by Destroy).
 */
static void callback_releasing_its_object(void)
{
	struct ws_region r = { 0 };
	struct worker a, b;
	pid_t stolen = worker_start(&a, 0), looked_up = worker_start(&b, 0);
	struct ws_visit_file v;
	int ok, refs = -1, unlookup;

	ok = ws_visit_cmd("pause -1") == 0 && ws_visit_cmd("steal %d", stolen) == 0 &&
	     ws_visit_cmd("run 0") == 0 && ws_visit_read(&v) && v.ret == 0;
	ws_visit_cmd("steal -1");
	ok = ok && ws_visit_cmd("lookup %d", looked_up) == 0 &&
	     ws_find_region(v.handle, "ws_c_client", &r);
	refs = r.remote_refs;
	unlookup = ws_visit_cmd("unlookup");
	ok = ok && ws_find_region(v.handle, "ws_c_client", &r);
	ksft_print_msg("steal: ret=%d; one lookup held: remote_refs=%d; released: %d, remote_refs=%ld\n",
		       v.ret, refs, unlookup, r.remote_refs);
	ksft_test_result(ok && refs == 1 && unlookup == 0 && r.remote_refs == 0,
			 "callback_releasing_its_object_leaves_the_count_of_references_right\n");
	worker_stop(&a);
	worker_stop(&b);
}

/* A callback looks up, releases, visits again, creates and destroys. */
static void nested_operations(void)
{
	struct ws_visit_file v;
	int ok;

	ok = ws_visit_cmd("nested 1") == 0 && ws_visit_cmd("run 0") == 0 && ws_visit_read(&v);
	ws_visit_cmd("nested 0");
	ksft_print_msg("nested: ret=%d nested=%d visited=%d dead=%d\n", v.ret, v.nested,
		       v.visited, v.dead);
	ksft_test_result(ok && v.ret == 0 && v.nested == 0 && v.visited > 0 && v.dead == 0,
			 "callback_may_lookup_release_visit_create_destroy\n");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], AFTER_EXEC))
		return after_exec(atoi(argv[2]));

	ksft_print_header();
	ws_require_client();
	ws_load_c_client();
	ksft_set_plan(8);
	if (ws_visit_cmd("create") || ws_cmd("create 0"))
		ksft_exit_fail_msg("creating the regions\n");

	exit_during_callback();
	exec_during_callback();
	stop_leaves_no_reference();
	nested_operations();
	callback_releasing_its_object();
	growth_during_callback();
	last_destroy_during_callback();

	ws_visit_cmd("pause -1");
	ws_cmd("destroy 0");
	ws_unload_c_client();
	ksft_finished();
}
