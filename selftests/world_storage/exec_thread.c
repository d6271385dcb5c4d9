// SPDX-License-Identifier: GPL-2.0
/*
 * exec from a thread that is not the group leader: Linux gives the exec'ing
 * thread the leader's TID (de_thread() -> exchange_tids()). The world is the
 * task, not the number: it keeps its object, is found under its new TID and
 * no longer under the old one, its local lookup works on any CPU, a
 * reference taken before the exec is released after it, its destructor
 * runs once at exit, and a new task that gets the old TID (clone3 set_tid)
 * gets a fresh object without disturbing the exec'd task. A region created
 * after the exec constructs the world's object with its new TID.
 *
 * Roles: this program forks a child whose second thread (TID X) sets its
 * object to a cookie, holds a reference to it and re-executes this program
 * with "--after-exec"; the exec'd image (TID Y, the old leader's) answers
 * the main process's questions through two pipes.
 *
 * Round 1 holds a reference across the exec and gives the old TID to a new
 * task while the exec'd task lives. Round 2 does neither: the exec'd task
 * just exits, and nothing of it may stay behind (records, objects, per-CPU
 * state that a new task could inherit).
 */

#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "ws_test.h"

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#define SLOT 1
/* A region created after the exec. */
#define CTOR_SLOT 2
#define AFTER_EXEC "--after-exec"
#define STATS "/sys/kernel/debug/world_storage/stats"
#define NEW_TASKS 50
#define TIMEOUT_MS 20000

/* struct clone_args of <linux/sched.h>, up to set_tid_size. */
struct ws_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
};

/* One line from fd into buf, waiting at most timeout_ms; 0 or -errno. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	int r;

	while (n + 1 < len) {
		r = poll(&p, 1, timeout_ms);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (read(fd, buf + n, 1) != 1)
			return -EPIPE;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -EOVERFLOW;
}

/* Pins the calling thread to one CPU; returns the CPU it then runs on. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	return sched_getcpu();
}

/* The lowest CPU other than `cpu` that the calling thread can run on. */
static int other_cpu(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	/* Unpin first: the inherited affinity may be that one CPU. */
	if (sched_setaffinity(0, sizeof(set), &set) || sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (i = 0; i < CPU_SETSIZE; i++)
		if (i != cpu && CPU_ISSET(i, &set))
			return i;
	return -1;
}

struct local {
	int rc, wid, cpu;
	unsigned long long value;
};

static struct local getlocal(void)
{
	struct local l = { .wid = -1 };

	l.rc = ws_query(&l.wid, &l.value, "getlocal %d", SLOT);
	l.cpu = sched_getcpu();
	return l;
}

/*
 * The exec'd image: argv is AFTER_EXEC X cookie cpu_before out_fd in_fd.
 * Reports "after <pid> <tid> <cpu> <rc> <wid> <value> <cpu> <rc> <wid>
 * <value>" (on the CPU of before the exec, then on another one), then
 * answers "check" with both again until told "exit". Before it exits, its
 * last local lookup is on the CPU of before the exec.
 */
static int after_exec(char **argv)
{
	int cpu_a = atoi(argv[4]), out = atoi(argv[5]), in = atoi(argv[6]), cpu_b;
	struct local warm, cold;
	char cmd[64];

	/* The affinity set before the exec is still that one CPU. */
	warm = getlocal();
	cpu_b = other_cpu(cpu_a);
	cold = (struct local){ .rc = -ENXIO, .cpu = -1 };
	if (cpu_b >= 0 && pin_to(cpu_b) == cpu_b)
		cold = getlocal();
	dprintf(out, "after %d %d %d %d %d %llu %d %d %d %llu\n", getpid(), ws_gettid(),
		warm.cpu, warm.rc, warm.wid, warm.value, cold.cpu, cold.rc, cold.wid, cold.value);

	while (!read_line(in, cmd, sizeof(cmd), 10 * TIMEOUT_MS)) {
		if (!strcmp(cmd, "exit")) {
			if (pin_to(cpu_a) == cpu_a)
				getlocal();
			return 0;
		}
		warm = getlocal();
		if (pin_to(cpu_a) == cpu_a)
			cold = getlocal();
		else
			cold = (struct local){ .rc = -ENXIO, .cpu = -1 };
		dprintf(out, "check %d %d %llu %d %d %llu\n", warm.rc, warm.wid, warm.value,
			cold.rc, cold.wid, cold.value);
	}
	return 1;
}

struct exec_child {
	char self[4096];
	int out, in, hold;
};

/*
 * In the forked child, a thread other than the leader: sets its object to a
 * cookie, reads it back, holds a reference to it if asked, then execs.
 * Reports "pre <X> <cpu> <cookie> <set rc> <getlocal rc> <wid> <value>
 * <hold rc>".
 */
static void *exec_from_thread(void *arg)
{
	struct exec_child *c = arg;
	pid_t x = ws_gettid();
	int cpu = pin_to(sched_getcpu()), set_rc, hold_rc = 0;
	unsigned long long cookie = 0xc0ffee000000ULL + (unsigned int)x;
	char xs[16], cookies[32], cpus[16], outs[16], ins[16];
	char *args[] = { c->self, AFTER_EXEC, xs, cookies, cpus, outs, ins, NULL };
	struct local l;

	set_rc = ws_cmd("set %d %llu", SLOT, cookie);
	l = getlocal();
	if (c->hold)
		hold_rc = ws_cmd("hold %d %d", SLOT, x);
	dprintf(c->out, "pre %d %d %llu %d %d %d %llu %d\n", x, cpu, cookie, set_rc, l.rc, l.wid,
		l.value, hold_rc);
	snprintf(xs, sizeof(xs), "%d", x);
	snprintf(cookies, sizeof(cookies), "%llu", cookie);
	snprintf(cpus, sizeof(cpus), "%d", cpu);
	snprintf(outs, sizeof(outs), "%d", c->out);
	snprintf(ins, sizeof(ins), "%d", c->in);
	execv(c->self, args);
	dprintf(c->out, "exec failed %d\n", errno);
	_exit(1);
}

/* The child's leader: start the thread that execs, and wait to be killed by it. */
static void exec_child(int out, int in, int hold)
{
	static struct exec_child c;
	pthread_t thread;
	ssize_t n;

	c.out = out;
	c.in = in;
	c.hold = hold;
	n = readlink("/proc/self/exe", c.self, sizeof(c.self) - 1);
	if (n < 0) {
		dprintf(out, "readlink failed %d\n", errno);
		_exit(1);
	}
	c.self[n] = '\0';
	if (pthread_create(&thread, NULL, exec_from_thread, &c))
		_exit(1);
	pthread_join(thread, NULL);
	_exit(1);
}

/* Waits for `pid` at most timeout_ms, then kills it; its wait status or -1. */
static int wait_bounded(pid_t pid, int timeout_ms)
{
	int status, waited;

	for (waited = 0; waited < timeout_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	ksft_print_msg("task %d did not exit within %d ms: killed\n", pid, timeout_ms);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* A command that may block, run in a child for at most timeout_ms. */
static int cmd_bounded(const char *cmd, int timeout_ms)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int rc = ws_cmd("%s", cmd);

		_exit(rc < 0 ? -rc : 0);
	}
	if (pid < 0)
		return -errno;
	status = wait_bounded(pid, timeout_ms);
	if (status == -1)
		return -ETIMEDOUT;
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -EINTR;
}

/* The new task with TID X: its own object, fresh. */
struct reuse {
	int done, rc, tid, wid;
	unsigned long long value;
};

static struct reuse reuse_tid(pid_t x, const char **why)
{
	struct ws_clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&x,
		.set_tid_size = 1,
	};
	struct reuse r = { .rc = -1, .wid = -1 };
	char line[128];
	int fds[2], status;
	pid_t pid;

	if (pipe(fds)) {
		*why = "pipe failed";
		return r;
	}
	fflush(stdout);
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid == 0) {
		struct local l = getlocal();

		dprintf(fds[1], "%d %d %d %llu\n", ws_gettid(), l.rc, l.wid, l.value);
		_exit(0);
	}
	if (pid < 0) {
		switch (errno) {
		case ENOSYS:
		case E2BIG:
		case EINVAL:
			*why = "clone3 with set_tid is not supported";
			break;
		case EEXIST:
			*why = "the old TID was taken by another task meanwhile";
			break;
		case EPERM:
			*why = "clone3 set_tid needs CAP_SYS_ADMIN";
			break;
		default:
			*why = "clone3 failed";
		}
		ksft_print_msg("clone3(set_tid=%d): %s\n", x, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	close(fds[1]);
	r.done = 1;
	if (read_line(fds[0], line, sizeof(line), TIMEOUT_MS) ||
	    sscanf(line, "%d %d %d %llu", &r.tid, &r.rc, &r.wid, &r.value) != 4)
		r.rc = -EPROTO;
	close(fds[0]);
	status = wait_bounded(pid, TIMEOUT_MS);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))
		r.rc = r.rc ? r.rc : -ECHILD;
	return r;
}

/* A new task's view: its object is its own and fresh. */
static int own_fresh_object(int cpu, int n)
{
	struct local l;
	pid_t tid;

	if (cpu >= 0)
		pin_to(cpu);
	tid = ws_gettid();
	l = getlocal();
	if (l.rc == 0 && l.wid == tid && l.value == 0)
		return 1;
	ksft_print_msg("new task %d (tid %d, CPU %d): getlocal rc %d wid %d value %llu\n", n,
		       tid, l.cpu, l.rc, l.wid, l.value);
	fflush(stdout);
	return 0;
}

struct new_thread {
	int cpu, n, ok;
};

static void *new_thread(void *arg)
{
	struct new_thread *t = arg;

	t->ok = own_fresh_object(t->cpu, t->n);
	return NULL;
}

/*
 * NEW_TASKS tasks, processes and threads in turn, the first half on cpu_a,
 * the rest on cpu_b; how many saw a wrong object.
 */
static int new_tasks_wrong(int cpu_a, int cpu_b)
{
	int i, wrong = 0, status;
	pid_t pid;

	for (i = 0; i < NEW_TASKS; i++) {
		int cpu = i < NEW_TASKS / 2 ? cpu_a : cpu_b;

		if (i % 2) {
			struct new_thread t = { .cpu = cpu, .n = i };
			pthread_t thread;

			if (pthread_create(&thread, NULL, new_thread, &t)) {
				wrong++;
				continue;
			}
			pthread_join(thread, NULL);
			wrong += !t.ok;
			continue;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(own_fresh_object(cpu, i) ? 0 : 1);
		status = pid < 0 ? -1 : wait_bounded(pid, TIMEOUT_MS);
		wrong += status == -1 || !WIFEXITED(status) || WEXITSTATUS(status);
	}
	return wrong;
}

/* One exec'ing process, as the main process sees it. */
struct round {
	pid_t child;
	int to_main, to_child;
	/* Before the exec, thread X. */
	int x, cpu_a, set_rc, pre_rc, pre_wid, hold_rc;
	unsigned long long cookie, pre_value;
	/* After it: the task's PID and TID, and its local lookups. */
	int pid, tid;
	struct local warm, cold;
};

static void abort_round(struct round *r, const char *what, const char *line)
{
	int status;

	ksft_print_msg("%s: no report (%s)\n", what, line);
	kill(r->child, SIGKILL);
	waitpid(r->child, &status, 0);
	ws_cmd("unhold");
	ws_cmd("destroy %d", SLOT);
	ksft_exit_fail_msg("the exec'ing child did not report\n");
}

/* Forks the child, waits for its thread's exec and the exec'd image's report. */
static void start_round(struct round *r, int hold)
{
	int to_main[2], to_child[2];
	struct local *w = &r->warm, *c = &r->cold;
	char line[256];
	int n;

	memset(r, 0, sizeof(*r));
	if (pipe(to_main) || pipe(to_child))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	r->child = fork();
	if (r->child < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (r->child == 0) {
		close(to_main[0]);
		close(to_child[1]);
		exec_child(to_main[1], to_child[0], hold);
	}
	close(to_main[1]);
	close(to_child[0]);
	r->to_main = to_main[0];
	r->to_child = to_child[1];

	n = read_line(r->to_main, line, sizeof(line), TIMEOUT_MS) ? 0 :
	    sscanf(line, "pre %d %d %llu %d %d %d %llu %d", &r->x, &r->cpu_a, &r->cookie,
		   &r->set_rc, &r->pre_rc, &r->pre_wid, &r->pre_value, &r->hold_rc);
	if (n != 8)
		abort_round(r, "before exec", n ? line : "nothing");
	ksft_print_msg("before exec: thread %d of process %d on CPU %d: set %d, ", r->x, r->child,
		       r->cpu_a, r->set_rc);
	printf("getlocal %d wid=%d value=%llu, hold %d\n", r->pre_rc, r->pre_wid, r->pre_value,
	       r->hold_rc);

	n = read_line(r->to_main, line, sizeof(line), TIMEOUT_MS) ? 0 :
	    sscanf(line, "after %d %d %d %d %d %llu %d %d %d %llu", &r->pid, &r->tid, &w->cpu,
		   &w->rc, &w->wid, &w->value, &c->cpu, &c->rc, &c->wid, &c->value);
	if (n != 10)
		abort_round(r, "after exec", n ? line : "nothing");
	ksft_print_msg("after exec: pid %d tid %d (was %d)\n", r->pid, r->tid, r->x);
	ksft_print_msg("getlocal on CPU %d (the exec'ing thread's): rc %d wid=%d value=%llu\n",
		       w->cpu, w->rc, w->wid, w->value);
	ksft_print_msg("getlocal on CPU %d (cold): rc %d wid=%d value=%llu\n", c->cpu, c->rc,
		       c->wid, c->value);
}

/* Tells the exec'd image to exit, reaps it; its wait status or -1. */
static int end_round(struct round *r)
{
	int status;

	dprintf(r->to_child, "exit\n");
	status = wait_bounded(r->child, TIMEOUT_MS);
	close(r->to_main);
	close(r->to_child);
	return status;
}

struct baseline {
	long ctor, dtor, worlds;
};

static struct baseline baseline(void)
{
	struct baseline b = { .worlds = ws_file_value(STATS, "worlds") };

	ws_counts(SLOT, &b.ctor, &b.dtor);
	return b;
}

/*
 * Waits (at most 5 s: teardown may be deferred) until the constructor and
 * destructor calls since `b` reach ctors and dtors and, if `worlds`, the
 * world count is back to `b`'s; returns the last values seen.
 */
static struct baseline settle(struct baseline b, long ctors, long dtors, int worlds)
{
	struct baseline now;
	int i;

	for (i = 0; i < 500; i++) {
		now = baseline();
		now.ctor -= b.ctor;
		now.dtor -= b.dtor;
		if (now.ctor >= ctors && now.dtor >= dtors && (!worlds || now.worlds == b.worlds))
			break;
		usleep(10000);
	}
	/* Anything more that was going to come has come. */
	usleep(100000);
	now = baseline();
	now.ctor -= b.ctor;
	now.dtor -= b.dtor;
	return now;
}

/* Each exit leaves exactly what was there before, so nothing ever leaks. */
static void check_balance(struct baseline b, long worlds_before, long n, const char *round)
{
	struct baseline now = settle(b, n, n, 1);

	ksft_print_msg("%s: constructors %ld, destructors %ld (want %ld each); worlds %ld (was %ld)\n",
		       round, now.ctor, now.dtor, n, now.worlds, worlds_before);
	ksft_test_result(now.ctor == n && now.dtor == n,
			 "%s_one_constructor_and_one_destructor_per_world\n", round);
	ksft_test_result(now.worlds == worlds_before, "%s_worlds_back_to_baseline\n", round);
}

int main(int argc, char **argv)
{
	unsigned long long value = 0, v3 = 0, v4 = 0;
	int rc, wid = -1, status, n, rc3 = 0, wid3 = 0, rc4 = 0, wid4 = 0;
	struct baseline before, now;
	const char *why = NULL;
	struct local *w, *c;
	struct round round;
	char line[256];
	struct reuse r;
	cpu_set_t all;

	if (argc == 7 && !strcmp(argv[1], AFTER_EXEC))
		return after_exec(argv);

	ksft_print_header();
	ws_require_client();
	if (access(STATS, R_OK))
		ksft_exit_skip("no %s\n", STATS);
	ksft_set_plan(20);

	ksft_test_result(ws_cmd("create %d", SLOT) == 0, "create\n");

	/* Round 1: a reference held across the exec, then the old TID reused. */
	before = baseline();
	start_round(&round, 1);
	w = &round.warm;
	c = &round.cold;
	ksft_test_result(round.set_rc == 0 && round.pre_rc == 0 && round.pre_wid == round.x &&
			 round.pre_value == round.cookie && round.hold_rc == 0 &&
			 round.x != round.child,
			 "before_exec_thread_sets_and_holds_its_object\n");
	ksft_test_result(round.pid == round.child && round.tid == round.child,
			 "exec_gives_the_thread_the_leader_tid\n");

	/* (i) and (ii): its object survived the exec, on both CPUs. */
	ksft_test_result(w->cpu == round.cpu_a && w->rc == 0 && w->value == round.cookie,
			 "getlocal_after_exec_same_cpu\n");
	if (c->cpu < 0)
		ksft_print_msg("needs a second CPU, there is none\n");
	ksft_test_result(c->cpu >= 0 && c->cpu != round.cpu_a && c->rc == 0 &&
			 c->value == round.cookie, "getlocal_after_exec_other_cpu\n");

	/* (iii) and (iv): found under the new TID only. */
	rc = ws_query(&wid, &value, "get %d %d", SLOT, round.tid);
	ksft_print_msg("get %d (new TID): rc %d wid=%d value=%llu\n", round.tid, rc,
		       rc ? -1 : wid, rc ? 0 : value);
	ksft_test_result(rc == 0 && value == round.cookie, "lookup_by_new_tid_finds_the_object\n");
	rc = ws_query(&wid, &value, "get %d %d", SLOT, round.x);
	ksft_print_msg("get %d (old TID): rc %d wid=%d value=%llu (want rc %d)\n", round.x, rc,
		       rc ? -1 : wid, rc ? 0 : value, -ESRCH);
	ksft_test_result(rc == -ESRCH, "lookup_by_old_tid_is_esrch\n");

	/*
	 * The world's ID is its new TID from the exec on, for its callbacks
	 * too: a region created now constructs its object with that ID (the
	 * Rust client's object keeps the ID its constructor got).
	 */
	rc = ws_cmd("create %d", CTOR_SLOT);
	if (!rc)
		rc = ws_query(&wid, &value, "get %d %d", CTOR_SLOT, round.tid);
	ksft_print_msg("region created after the exec: rc %d, constructor's wid=%d (want %d)\n",
		       rc, rc ? -1 : wid, round.tid);
	ksft_test_result(rc == 0 && wid == round.tid, "constructor_after_exec_gets_the_new_tid\n");
	ws_cmd("destroy %d", CTOR_SLOT);

	/* (v) A new task with the old TID: a fresh object; the exec'd one keeps its own. */
	r = reuse_tid(round.x, &why);
	if (r.done) {
		ksft_print_msg("clone3(set_tid=%d): tid %d getlocal rc %d wid=%d value=%llu\n",
			       round.x, r.tid, r.rc, r.wid, r.value);
		ksft_test_result(r.tid == round.x && r.rc == 0 && r.wid == round.x && r.value == 0,
				 "tid_reuse_gets_a_fresh_object\n");
		dprintf(round.to_child, "check\n");
		n = read_line(round.to_main, line, sizeof(line), TIMEOUT_MS) ? 0 :
		    sscanf(line, "check %d %d %llu %d %d %llu", &rc3, &wid3, &v3, &rc4, &wid4,
			   &v4);
		rc = ws_query(&wid, &value, "get %d %d", SLOT, round.tid);
		if (n != 6)
			ksft_print_msg("exec'd task after the reuse: no report\n");
		else
			ksft_print_msg("exec'd task after the reuse: getlocal rc %d wid=%d value=%llu, on CPU %d rc %d wid=%d value=%llu\n",
				       rc3, wid3, v3, round.cpu_a, rc4, wid4, v4);
		ksft_print_msg("get %d after the reuse: rc %d value=%llu\n", round.tid, rc,
			       rc ? 0 : value);
		ksft_test_result(n == 6 && rc3 == 0 && v3 == round.cookie && rc4 == 0 &&
				 v4 == round.cookie && rc == 0 && value == round.cookie,
				 "tid_reuse_leaves_the_execd_object_alone\n");
	} else {
		ksft_test_result_skip("tid_reuse_gets_a_fresh_object: %s\n", why);
		ksft_test_result_skip("tid_reuse_leaves_the_execd_object_alone: %s\n", why);
	}

	/* (vi) The reference taken under the old TID, released after the exec. */
	rc = ws_cmd("unhold");
	ksft_print_msg("unhold (release(%d, object) after the exec): %d\n", round.x, rc);
	ksft_test_result(rc == 0, "release_across_exec\n");

	/*
	 * The old leader and the clone3 task have exited, the reference is
	 * gone: only the exec'd task's object is left, and it lives.
	 */
	n = r.done ? 3 : 2;
	now = settle(before, n, n - 1, 0);
	ksft_print_msg("while the exec'd task lives: constructors %ld, destructors %ld (want %d, %d)\n",
		       now.ctor, now.dtor, n, n - 1);
	ksft_test_result(now.ctor == n && now.dtor == n - 1,
			 "execd_object_not_destructed_while_it_lives\n");

	status = end_round(&round);
	ksft_test_result(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
			 "execd_process_exits\n");
	/* (vii) Leader, thread X and the clone3 task: one ctor and one dtor each. */
	check_balance(before, before.worlds, r.done ? 3 : 2, "tid_reuse");

	/*
	 * Round 2: no reference, no TID reuse; the exec'd task's last local
	 * lookup is on the CPU it used before the exec.
	 */
	before = baseline();
	start_round(&round, 0);
	/*
	 * Reaped on the CPU it used last, the exec'd task's task_struct is
	 * likely freed there and handed to the next task forked there.
	 */
	CPU_ZERO(&all);
	sched_getaffinity(0, sizeof(all), &all);
	pin_to(round.cpu_a);
	status = end_round(&round);
	ksft_test_result(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
			 "plain_execd_process_exits\n");
	check_balance(before, before.worlds, 2, "plain");

	/*
	 * (viii) New tasks, first on the CPU whose per-CPU state the exec'd task
	 * used last, then on the other one.
	 */
	n = new_tasks_wrong(round.cpu_a, round.cold.cpu >= 0 ? round.cold.cpu : round.cpu_a);
	sched_setaffinity(0, sizeof(all), &all);
	ksft_print_msg("%d of %d new tasks saw a wrong object\n", n, NEW_TASKS);
	ksft_test_result(n == 0, "new_tasks_see_only_their_own_fresh_object\n");

	snprintf(line, sizeof(line), "destroy %d", SLOT);
	rc = cmd_bounded(line, TIMEOUT_MS);
	ksft_print_msg("destroy: %d\n", rc);
	ksft_test_result(rc == 0, "destroy\n");
	ksft_finished();
}
