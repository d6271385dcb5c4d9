// SPDX-License-Identifier: GPL-2.0
/*
 * ws_abi_test: KUnit suite "world_storage_abi", a C client of
 * include/world_storage.h. Every bad input gets its errno; alignments and
 * sizes are honoured; objects without a constructor are zero-filled; a
 * kernel thread created after Create has its object, one whose constructor
 * fails has none (-ENOENT, also remotely); Destroy invalidates the handle at
 * once, for the local lookup's fast path too, and waits for references;
 * what the local lookup caches per CPU is forgotten when it leaves the
 * table; local lookups stay with their owner while tasks are preempted and
 * migrated; the last release of an exited world works from hard IRQ and
 * raw spinlocks.
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "../../include/world_storage.h"
#include "../ws_kunit.h"

static atomic_t ctor_calls, dtor_calls;
static bool fail_constructor;
static void *last_arg;
static u32 last_size;

static int counting_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	if (READ_ONCE(fail_constructor))
		return -EDOM;
	memset(object, 0xa5, size);
	WRITE_ONCE(last_arg, arg);
	WRITE_ONCE(last_size, size);
	atomic_inc(&ctor_calls);
	return 0;
}

static void counting_dtor(pid_t wid, void *object, u32 size, void *arg)
{
	atomic_inc(&dtor_calls);
}

static struct world_storage_props props(u32 size, u32 align)
{
	return (struct world_storage_props) {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = size,
		.align = align,
		.constructor = counting_ctor,
		.destructor = counting_dtor,
		.arg = &ctor_calls,
	};
}

/* Create fails with `err` and leaves WORLD_STORAGE_HANDLE_INVALID in *handle. */
static void expect_create_fails(struct kunit *test, const struct world_storage_props *p, int err)
{
	u64 h = 0x1234;

	KUNIT_EXPECT_EQ(test, world_storage_create(p, &h), err);
	KUNIT_EXPECT_EQ(test, h, WORLD_STORAGE_HANDLE_INVALID);
}

static void create_rejects_bad_props(struct kunit *test)
{
	struct world_storage_props p;

	expect_create_fails(test, NULL, -EINVAL);
	p = props(8, 8);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, NULL), -EINVAL);
	p = props(0, 8);
	expect_create_fails(test, &p, -EINVAL);
	p = props((1 << 20) + 1, 8);
	expect_create_fails(test, &p, -EINVAL);
	p = props(8, 0);
	expect_create_fails(test, &p, -EINVAL);
	p = props(8, 24);
	expect_create_fails(test, &p, -EINVAL);
	p = props(8, 2 * PAGE_SIZE);
	expect_create_fails(test, &p, -EINVAL);
	p = props(8, 8);
	p.type = 1;
	expect_create_fails(test, &p, -EINVAL);
	/* A constructor's error: every world has one, the current task too. */
	p = props(8, 8);
	WRITE_ONCE(fail_constructor, true);
	expect_create_fails(test, &p, -EDOM);
	WRITE_ONCE(fail_constructor, false);
}

static void constructor_gets_its_arguments(struct kunit *test)
{
	struct world_storage_props p = props(40, 8);
	u64 h;
	u8 *obj;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(last_arg), (void *)&ctor_calls);
	KUNIT_EXPECT_EQ(test, READ_ONCE(last_size), 40);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_local(h, (void **)&obj), 0);
	KUNIT_EXPECT_EQ(test, obj[0], 0xa5);
	KUNIT_EXPECT_EQ(test, obj[39], 0xa5);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctor_calls), atomic_read(&dtor_calls));
}

static void alignments_are_honoured(struct kunit *test)
{
	u32 align;

	for (align = 8; align <= PAGE_SIZE; align *= 2) {
		struct world_storage_props p = props(24, align);
		void *local, *remote;
		u64 h;

		KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
		KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, &local), 0);
		KUNIT_EXPECT_EQ(test, (unsigned long)local % align, 0);
		KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), h, &remote), 0);
		KUNIT_EXPECT_PTR_EQ(test, local, remote);
		KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), remote), 0);
		KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
	}
}

static int pattern_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	memset(object, 0x5a, size);
	return 0;
}

/*
 * Zero-filled without a constructor, even in memory that held something:
 * first a region of the same size whose constructor fills every object with
 * a pattern, destroyed, so that the zero-filled region's objects come from
 * the memory it freed (a fresh VM's pages are zero anyway).
 */
static void large_region_is_zero_filled(struct kunit *test)
{
	struct world_storage_props p = props(SZ_64K, 64);
	u8 *obj = NULL, *patterned = NULL;
	size_t i, nonzero = 0;
	u64 h;

	/* Failures are EXPECTs: a region left behind would upset later cases. */
	p.constructor = pattern_ctor;
	p.destructor = NULL;
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, (void **)&patterned), 0);
	if (patterned) {
		KUNIT_EXPECT_EQ(test, patterned[0], 0x5a);
		KUNIT_EXPECT_EQ(test, patterned[SZ_64K - 1], 0x5a);
	}
	KUNIT_ASSERT_EQ(test, world_storage_destroy(h), 0);

	p.constructor = NULL;
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, (void **)&obj), 0);
	if (obj) {
		kunit_info(test, "the zero-filled object is %s the patterned one\n",
			   obj == patterned ? "at the address of" : "elsewhere than");
		for (i = 0; i < SZ_64K; i++)
			nonzero += obj[i] != 0;
	}
	KUNIT_EXPECT_EQ(test, nonzero, 0);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
}

static void stale_and_invalid_handles(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	void *obj;
	u64 h, h2;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_destroy(h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h2), 0);
	KUNIT_EXPECT_NE(test, h, h2);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), h, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(WORLD_STORAGE_HANDLE_INVALID, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(0, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h2 ^ (1ULL << 40), &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h2), 0);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h2), -EINVAL);
}

/* Counts its calls in *arg. */
static int count_visit(pid_t wid, void *object, void *arg)
{
	(*(unsigned int *)arg)++;
	return 0;
}

/* A visit needs a callback and a live handle. */
static void visit_errors(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	unsigned int visited = 0;
	u64 h;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_EQ(test, world_storage_for_each(h, NULL, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_for_each(h, count_visit, &visited), 0);
	KUNIT_EXPECT_GT(test, visited, 0);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
	visited = 0;
	KUNIT_EXPECT_EQ(test, world_storage_for_each(h, count_visit, &visited), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_for_each(WORLD_STORAGE_HANDLE_INVALID, count_visit,
						     &visited), -EINVAL);
	KUNIT_EXPECT_EQ(test, visited, 0);
}

static void lookup_errors(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	void *obj;
	u64 h;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(0x3ffffff0, h, &obj), -ESRCH);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(-1, h, &obj), -ESRCH);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), h, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_task(NULL, h, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
}

static void lookup_task_and_release(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	void *local, *obj;
	int stack_var;
	u64 h;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_local(h, &local), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_task(current, h, &obj), 0);
	KUNIT_EXPECT_PTR_EQ(test, obj, local);
	/* Wrong TID, foreign pointers: refused, the reference stays. */
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current) + 1, obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), &stack_var), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), (u8 *)obj + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), obj), 0);
	/* Double release, and release of a pointer from lookup_local. */
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
}

struct kthread_probe {
	u64 handle;
	int result;
	struct completion done;
};

static int probe_local(void *data)
{
	struct kthread_probe *probe = data;
	void *obj;

	probe->result = world_storage_lookup_local(probe->handle, &obj);
	complete(&probe->done);
	return 0;
}

static void kthread_with_failed_constructor_has_no_object(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	struct kthread_probe probe = { .result = 1 };
	struct task_struct *t;

	init_completion(&probe.done);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &probe.handle), 0);
	WRITE_ONCE(fail_constructor, true);
	t = kthread_run(probe_local, &probe, "ws_abi_probe");
	WRITE_ONCE(fail_constructor, false);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&probe.done);
	KUNIT_EXPECT_EQ(test, probe.result, -ENOENT);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(probe.handle), 0);
}

static int destroy_thread(void *data)
{
	struct kthread_probe *probe = data;

	probe->result = world_storage_destroy(probe->handle);
	complete(&probe->done);
	return 0;
}

static void destroy_invalidates_at_once_and_waits(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	struct kthread_probe probe = { .result = 1 };
	struct task_struct *t;
	void *held, *obj;

	init_completion(&probe.done);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &probe.handle), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup(task_pid_nr(current), probe.handle, &held), 0);
	t = kthread_run(destroy_thread, &probe, "ws_abi_destroy");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	msleep(100);
	KUNIT_EXPECT_FALSE(test, completion_done(&probe.done));
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(probe.handle, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), probe.handle, &obj),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), held), 0);
	wait_for_completion(&probe.done);
	KUNIT_EXPECT_EQ(test, probe.result, 0);
}

/*
 * Objects that know their owner: the constructor stores the world ID, and a
 * test can tag one object to recognise its destructor call among all others.
 */
struct owned {
	pid_t wid;
	u64 tag;
};

static atomic_t owned_ctors, owned_dtors;
/* The tag of the object whose destructor calls are counted; 0: none. */
static u64 watched_tag;
static atomic_t watched_dtors;
static pid_t watched_dtor_wid;
static u64 next_tag = 0x5eed000000000000ULL;

static int owned_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	struct owned *o = object;

	o->wid = wid;
	o->tag = 0;
	atomic_inc(&owned_ctors);
	return 0;
}

static void owned_dtor(pid_t wid, void *object, u32 size, void *arg)
{
	struct owned *o = object;
	u64 watched = READ_ONCE(watched_tag);

	if (watched && READ_ONCE(o->tag) == watched) {
		WRITE_ONCE(watched_dtor_wid, wid);
		atomic_inc(&watched_dtors);
	}
	WRITE_ONCE(o->tag, 0);
	atomic_inc(&owned_dtors);
}

static struct world_storage_props owned_props(void)
{
	return (struct world_storage_props) {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = sizeof(struct owned),
		.align = __alignof__(struct owned),
		.constructor = owned_ctor,
		.destructor = owned_dtor,
	};
}

/*
 * Local lookups by many CPU-bound kernel threads, each checking the owner:
 * at least OWNER_LOOKUPS of them and for at least OWNER_MIN_TIME (wrong
 * answers come with preemptions, which come with time), at most
 * OWNER_TIME_CAP.
 */
#define OWNER_LOOKUPS 1000000L
#define OWNER_MIN_TIME (2 * HZ)
#define OWNER_TIME_CAP (30 * HZ)
#define OWNER_BATCH 256

struct owner_run {
	u64 handle;
	unsigned long deadline;
	atomic_long_t lookups, mismatches, errors;
	/* The first wrong answer seen, for the report. */
	atomic_t reported;
	pid_t bad_tid, bad_wid;
	int bad_error;
};

static void owner_note(struct owner_run *run, pid_t tid, pid_t wid, int error)
{
	if (atomic_cmpxchg(&run->reported, 0, 1))
		return;
	run->bad_tid = tid;
	run->bad_wid = wid;
	run->bad_error = error;
}

static void idle_until_stopped(void)
{
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
}

/*
 * Never sleeps while it looks: the tick preempts it, and the scheduler
 * migrates it, at any point of a lookup.
 */
static int owner_checker(void *data)
{
	struct owner_run *run = data;
	long n = 0, bad = 0, errors = 0;
	struct owned *o;
	pid_t tid;
	int ret;

	while (!kthread_should_stop()) {
		ret = world_storage_lookup_local(run->handle, (void **)&o);
		tid = task_pid_nr(current);
		if (ret) {
			errors++;
			owner_note(run, tid, 0, ret);
		} else if (READ_ONCE(o->wid) != tid) {
			bad++;
			owner_note(run, tid, READ_ONCE(o->wid), 0);
		}
		if (++n < OWNER_BATCH)
			continue;
		atomic_long_add(bad, &run->mismatches);
		atomic_long_add(errors, &run->errors);
		atomic_long_add(OWNER_BATCH, &run->lookups);
		n = 0;
		bad = 0;
		errors = 0;
		if (time_after(jiffies, run->deadline))
			break;
	}
	atomic_long_add(bad, &run->mismatches);
	atomic_long_add(errors, &run->errors);
	atomic_long_add(n, &run->lookups);
	idle_until_stopped();
	return 0;
}

static void local_lookup_owner_under_preemption(struct kunit *test)
{
	struct world_storage_props p = owned_props();
	unsigned int cpus = num_online_cpus();
	unsigned int i, cpu, moves, nr = max(8U, 4 * cpus);
	struct task_struct **threads;
	struct owner_run *run;
	unsigned long start;
	long lookups;

	/* One CPU cannot migrate anything: the test would prove nothing. */
	KUNIT_ASSERT_GE(test, cpus, 2);
	atomic_set(&owned_ctors, 0);
	atomic_set(&owned_dtors, 0);
	threads = kunit_kcalloc(test, nr, sizeof(*threads), GFP_KERNEL);
	run = kunit_kzalloc(test, sizeof(*run), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, threads);
	KUNIT_ASSERT_NOT_NULL(test, run);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &run->handle), 0);

	/* Created after the region: each gets its object from the creation hook. */
	start = jiffies;
	run->deadline = start + OWNER_TIME_CAP;
	for (i = 0; i < nr; i++) {
		threads[i] = kthread_run(owner_checker, run, "ws_abi_owner/%u", i);
		if (IS_ERR(threads[i]))
			break;
	}
	KUNIT_EXPECT_EQ(test, i, nr);
	nr = i;
	/*
	 * Besides the tick, move one thread after another to another CPU: the
	 * stopper preempts it wherever it is, and it resumes over there while
	 * another thread takes its place on the CPU it left. As a real-time
	 * task, this one gets a CPU as soon as it wakes.
	 */
	sched_set_fifo_low(current);
	for (moves = 0; (atomic_long_read(&run->lookups) < OWNER_LOOKUPS ||
			 time_before(jiffies, start + OWNER_MIN_TIME)) &&
			time_before(jiffies, run->deadline + HZ); moves++) {
		cpu = cpumask_nth((moves / nr + moves) % cpus, cpu_online_mask);
		if (cpu < nr_cpu_ids)
			set_cpus_allowed_ptr(threads[moves % nr], cpumask_of(cpu));
		usleep_range(50, 100);
	}
	sched_set_normal(current, 0);
	for (i = 0; i < nr; i++)
		kthread_stop(threads[i]);
	lookups = atomic_long_read(&run->lookups);

	kunit_info(test, "%u threads, %u CPUs, %u moves: %ld lookups in %u ms, %ld wrong owner, %ld errors\n",
		   nr, cpus, moves, lookups, jiffies_to_msecs(jiffies - start),
		   atomic_long_read(&run->mismatches), atomic_long_read(&run->errors));
	if (atomic_read(&run->reported))
		kunit_info(test, "first wrong answer: task %d got %s %d\n", run->bad_tid,
			   run->bad_error ? "error" : "the object of world",
			   run->bad_error ? run->bad_error : run->bad_wid);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&run->mismatches), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&run->errors), 0);
	KUNIT_EXPECT_GE(test, lookups, OWNER_LOOKUPS);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(run->handle), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&owned_ctors), atomic_read(&owned_dtors));
}

/* A kernel thread that looks up its own object, then waits to be stopped. */
struct kthread_world {
	u64 handle;
	int result;
	void *object;
	struct completion looked_up;
};

static int look_up_and_wait(void *data)
{
	struct kthread_world *w = data;

	w->result = world_storage_lookup_local(w->handle, &w->object);
	complete(&w->looked_up);
	idle_until_stopped();
	return 0;
}

/* A kernel thread created after Create has its object, constructed for it. */
static void kthread_created_after_create_has_its_object(struct kunit *test)
{
	struct world_storage_props p = owned_props();
	struct kthread_world w = { .result = 1 };
	struct task_struct *t;
	struct owned *o;
	void *remote;

	init_completion(&w.looked_up);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &w.handle), 0);
	t = kthread_run(look_up_and_wait, &w, "ws_abi_new");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&w.looked_up);
	KUNIT_EXPECT_EQ(test, w.result, 0);
	if (!w.result) {
		o = w.object;
		/* Its constructor ran with its ID. */
		KUNIT_EXPECT_EQ(test, o->wid, task_pid_nr(t));
		KUNIT_EXPECT_EQ(test, world_storage_lookup_task(t, w.handle, &remote), 0);
		KUNIT_EXPECT_PTR_EQ(test, remote, w.object);
		KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(t), remote), 0);
	}
	kthread_stop(t);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(w.handle), 0);
}

/*
 * A live world without an object (a kernel thread whose constructor failed)
 * is found: remote lookups get -ENOENT, not -ESRCH.
 */
static void remote_lookup_of_world_without_object(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	struct kthread_world w = { .result = 1 };
	struct task_struct *t;
	void *obj;

	init_completion(&w.looked_up);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &w.handle), 0);
	WRITE_ONCE(fail_constructor, true);
	t = kthread_run(look_up_and_wait, &w, "ws_abi_noobj");
	WRITE_ONCE(fail_constructor, false);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&w.looked_up);
	KUNIT_EXPECT_EQ(test, w.result, -ENOENT);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(t), w.handle, &obj), -ENOENT);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_task(t, w.handle, &obj), -ENOENT);
	kthread_stop(t);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(w.handle), 0);
}

/*
 * The local lookup of a new region's object by this task, pinned to one
 * CPU: it is the object the remote lookup finds, and it is this task's.
 */
static void expect_local_is_mine(struct kunit *test, u64 h)
{
	pid_t me = task_pid_nr(current);
	struct owned *local = NULL, *remote;

	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, (void **)&local), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup(me, h, (void **)&remote), 0);
	KUNIT_EXPECT_PTR_EQ(test, local, remote);
	KUNIT_EXPECT_EQ(test, remote->wid, me);
	KUNIT_EXPECT_EQ(test, world_storage_release(me, remote), 0);
}

/*
 * What the local lookup may cache per CPU (this task's record, or objects)
 * is forgotten when it leaves the table. Pinned to one CPU, this task fills
 * the cache with a lookup each time; no other task looks up on this CPU
 * meanwhile (the suite runs at insmod, before any other client has a region
 * or looks anything up), so a stale entry would still be there to be found.
 *
 * First a region is destroyed while another one keeps this task's record in
 * the table, and a new region takes its slot: the new region's object must
 * be found. Then the last region is destroyed, which takes every record out
 * of the table, this task's included, and a new region gives the task a new
 * record at once, while the old one waits for its RCU-deferred free (a stale
 * entry would find no object in it): again the new object must be found.
 * (Were the old record freed first, this task's new record could take its
 * memory and make a stale entry look right.)
 */
static void local_lookup_forgets_what_left_the_table(struct kunit *test)
{
	struct world_storage_props p = owned_props();
	u64 keep, gone, reused, fresh;
	void *obj;

	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current,
						   cpumask_of(raw_smp_processor_id())), 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &keep), 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &gone), 0);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(gone, &obj), 0);
	KUNIT_ASSERT_EQ(test, world_storage_destroy(gone), 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &reused), 0);
	expect_local_is_mine(test, reused);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(gone, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(reused), 0);

	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(keep, &obj), 0);
	KUNIT_ASSERT_EQ(test, world_storage_destroy(keep), 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &fresh), 0);
	expect_local_is_mine(test, fresh);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(fresh), 0);
	set_cpus_allowed_ptr(current, cpu_possible_mask);
}

/*
 * How many CPUs' record pointers (world_storage_current_v3, what the fast
 * path reads) point at @record. Only compares addresses: @record may be
 * freed.
 */
static int cpus_pointing_at(const struct world_storage_record_v3 *record)
{
	int cpu, n = 0;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(per_cpu(world_storage_current_v3, cpu)) == record;
	return n;
}

/* This CPU's record pointer, right after a local lookup filled it. */
static const struct world_storage_record_v3 *cached_record(u64 h)
{
	const struct world_storage_record_v3 *record;
	void *obj;

	preempt_disable();
	record = world_storage_lookup_local(h, &obj) ? NULL :
		 this_cpu_read(world_storage_current_v3);
	preempt_enable();
	return record;
}

struct cached_by_exiting {
	u64 handle;
	const struct world_storage_record_v3 *record;
	struct completion done;
};

static int cache_then_exit(void *data)
{
	struct cached_by_exiting *c = data;

	c->record = cached_record(c->handle);
	complete(&c->done);
	idle_until_stopped();
	return 0;
}

/*
 * A record that has left the table (its world exited, or the last region
 * went) is pointed at by no CPU: the per-CPU pointers are what the fast
 * path dereferences, and the record is freed a grace period later. First a
 * kernel thread bound to one CPU fills that CPU's pointer and exits (while
 * a region keeps its record in the table until then); then this task fills
 * its CPU's pointer and destroys the last region, which takes every record
 * out of the table. No one else looks up on those CPUs meanwhile (the suite
 * runs at insmod, before any other client has a region), so a pointer left
 * behind stays to be seen. (A record whose task is cleared but which CPUs
 * still point at fails the fast path's task check, but is freed memory.)
 */
static void no_cpu_points_at_a_record_that_left_the_table(struct kunit *test)
{
	struct world_storage_props p = owned_props();
	struct cached_by_exiting c = { .record = NULL };
	const struct world_storage_record_v3 *mine;
	struct task_struct *t;
	int i, left = -1;

	init_completion(&c.done);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &c.handle), 0);
	t = kthread_create(cache_then_exit, &c, "ws_abi_cache_exit");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	kthread_bind(t, cpumask_last(cpu_online_mask));
	wake_up_process(t);
	wait_for_completion(&c.done);
	KUNIT_ASSERT_NOT_NULL(test, c.record);
	KUNIT_EXPECT_EQ(test, cpus_pointing_at(c.record), 1);
	kthread_stop(t);
	/* Its exit hook runs after kthread_stop() returns: wait for it. */
	for (i = 0; i < 250 && (left = cpus_pointing_at(c.record)); i++)
		msleep(20);
	KUNIT_EXPECT_EQ_MSG(test, left, 0, "CPUs still point at an exited world's record");

	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current,
						   cpumask_of(raw_smp_processor_id())), 0);
	mine = cached_record(c.handle);
	KUNIT_EXPECT_NOT_NULL(test, mine);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(c.handle), 0);
	KUNIT_EXPECT_EQ_MSG(test, cpus_pointing_at(mine), 0,
			    "CPUs still point at a record the last Destroy took out");
	set_cpus_allowed_ptr(current, cpu_possible_mask);
}

/*
 * Lookups fail from the moment Destroy starts, the local lookup's fast paths
 * included: once a remote lookup of the handle has failed, a local one
 * must fail too, through the header's fast path inlined into this module
 * as through the exported call. Pinned to one CPU, this task has its
 * object found by the fast path, then a kernel thread on the other CPU
 * destroys the region while this task looks it up remotely until that
 * fails; the local lookups come right after. (Were a fast path to trust
 * the world's entry until Destroy reaches it, nearly every round would
 * find the object: Destroy reaches it only after a grace period.)
 */
static int destroy_on_other_cpu(void *data)
{
	struct kthread_probe *probe = data;

	probe->result = world_storage_destroy(probe->handle);
	complete(&probe->done);
	idle_until_stopped();
	return 0;
}

static void local_lookup_fails_once_destroy_started(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	pid_t me = task_pid_nr(current);
	int round, cpu, remote, inlined, local, found_after = 0;
	void *obj;

	KUNIT_ASSERT_GE(test, num_online_cpus(), 2);
	cpu = raw_smp_processor_id();
	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(cpu)), 0);
	for (round = 0; round < 50; round++) {
		struct kthread_probe probe = { .result = 1 };
		struct task_struct *t;

		init_completion(&probe.done);
		KUNIT_ASSERT_EQ(test, world_storage_create(&p, &probe.handle), 0);
		KUNIT_ASSERT_EQ(test, world_storage_lookup_local(probe.handle, &obj), 0);
		t = kthread_create(destroy_on_other_cpu, &probe, "ws_abi_destroy");
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		get_task_struct(t);
		kthread_bind(t, cpumask_any_but(cpu_online_mask, cpu));
		wake_up_process(t);
		while (!(remote = world_storage_lookup(me, probe.handle, &obj)))
			world_storage_release(me, obj);
		inlined = world_storage_lookup_local_inline(probe.handle, &obj);
		local = world_storage_lookup_local(probe.handle, &obj);
		if ((inlined != -EINVAL || local != -EINVAL) && !found_after++)
			kunit_info(test, "round %d: remote lookup %d, then local lookups %d (inlined), %d",
				   round, remote, inlined, local);
		wait_for_completion(&probe.done);
		kthread_stop(t);
		put_task_struct(t);
		KUNIT_EXPECT_EQ(test, remote, -EINVAL);
		KUNIT_EXPECT_EQ(test, probe.result, 0);
	}
	kunit_info(test, "%d of %d rounds: the local lookup answered after a remote one failed",
		   found_after, round);
	KUNIT_EXPECT_EQ(test, found_after, 0);
	set_cpus_allowed_ptr(current, cpu_possible_mask);
}

/*
 * The last reference of an exited world, dropped where no sleeping-on-RT
 * lock may be taken. On the debug kernel (PROVE_RAW_LOCK_NESTING) lockdep
 * reports a teardown that takes a spinlock_t there; on every kernel the
 * destructor must run exactly once for that object, possibly deferred.
 */
struct last_release {
	struct hrtimer timer;
	pid_t wid;
	void *object;
	int ret;
	bool in_hardirq;
	struct completion done;
};

static enum hrtimer_restart release_from_timer(struct hrtimer *timer)
{
	struct last_release *r = container_of(timer, struct last_release, timer);

	r->in_hardirq = in_hardirq();
	r->ret = world_storage_release(r->wid, r->object);
	complete(&r->done);
	return HRTIMER_NORESTART;
}

static void release_in_hardirq_timer(struct kunit *test, struct last_release *r)
{
	hrtimer_setup(&r->timer, release_from_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	hrtimer_start(&r->timer, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&r->done, 5 * HZ), 0);
	hrtimer_cancel(&r->timer);
	KUNIT_EXPECT_TRUE(test, r->in_hardirq);
}

static DEFINE_RAW_SPINLOCK(ws_abi_raw_lock);

static void release_under_raw_spinlock(struct kunit *test, struct last_release *r)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ws_abi_raw_lock, flags);
	r->ret = world_storage_release(r->wid, r->object);
	raw_spin_unlock_irqrestore(&ws_abi_raw_lock, flags);
}

static int exit_when_stopped(void *data)
{
	complete(data);
	idle_until_stopped();
	return 0;
}

/* The watched object's destructor calls, after teardown had time to run. */
static int watched_dtors_settled(void)
{
	int i;

	for (i = 0; i < 250 && !atomic_read(&watched_dtors); i++)
		msleep(20);
	msleep(100);
	return atomic_read(&watched_dtors);
}

static void last_release_of_exited_world(struct kunit *test,
					 void (*release)(struct kunit *, struct last_release *))
{
	struct world_storage_props p = owned_props();
	DECLARE_COMPLETION_ONSTACK(started);
	struct task_struct *t;
	struct last_release *r;
	struct owned *o;
	void *probe;
	u64 h, tag;
	int i, ret;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	init_completion(&r->done);
	r->ret = 1;
	atomic_set(&owned_ctors, 0);
	atomic_set(&owned_dtors, 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	t = kthread_run(exit_when_stopped, &started, "ws_abi_exiting");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	get_task_struct(t);
	/* Running its function, so kthread_stop() returns what it returns. */
	wait_for_completion(&started);
	r->wid = task_pid_nr(t);
	ret = world_storage_lookup(r->wid, h, &r->object);
	KUNIT_EXPECT_EQ(test, ret, 0);
	if (ret) {
		kthread_stop(t);
		put_task_struct(t);
		KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
		return;
	}
	o = r->object;
	KUNIT_EXPECT_EQ(test, o->wid, r->wid);
	tag = ++next_tag;
	WRITE_ONCE(o->tag, tag);
	atomic_set(&watched_dtors, 0);
	WRITE_ONCE(watched_dtor_wid, 0);
	WRITE_ONCE(watched_tag, tag);

	/* The world exits: our reference is now the last one. */
	KUNIT_EXPECT_EQ(test, kthread_stop(t), 0);
	for (i = 0; i < 250; i++) {
		ret = world_storage_lookup(r->wid, h, &probe);
		if (ret)
			break;
		world_storage_release(r->wid, probe);
		msleep(20);
	}
	KUNIT_EXPECT_EQ(test, ret, -ESRCH);
	KUNIT_EXPECT_EQ(test, atomic_read(&watched_dtors), 0);

	release(test, r);
	KUNIT_EXPECT_EQ(test, r->ret, 0);
	KUNIT_EXPECT_EQ(test, watched_dtors_settled(), 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(watched_dtor_wid), r->wid);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&watched_dtors), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&owned_ctors), atomic_read(&owned_dtors));
	WRITE_ONCE(watched_tag, 0);
	put_task_struct(t);
}

static void last_release_from_hardirq_timer(struct kunit *test)
{
	last_release_of_exited_world(test, release_in_hardirq_timer);
}

static void last_release_under_raw_spinlock(struct kunit *test)
{
	last_release_of_exited_world(test, release_under_raw_spinlock);
}

/*
 * A release that lets a waiting Destroy go on, from a context where no
 * spinlock_t may be taken: the wake-up must not take the wait queue's lock
 * there (the debug kernel's lockdep reports it), and Destroy must finish.
 */
static void release_wakes_waiting_destroy(struct kunit *test,
					  void (*release)(struct kunit *, struct last_release *))
{
	struct world_storage_props p = props(8, 8);
	struct kthread_probe probe = { .result = 1 };
	struct last_release *r;
	struct task_struct *t;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	init_completion(&r->done);
	r->ret = 1;
	r->wid = task_pid_nr(current);
	init_completion(&probe.done);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &probe.handle), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup(r->wid, probe.handle, &r->object), 0);
	t = kthread_run(destroy_thread, &probe, "ws_abi_destroy");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	/* Destroy waits for our reference. */
	msleep(100);
	KUNIT_EXPECT_FALSE(test, completion_done(&probe.done));
	release(test, r);
	KUNIT_EXPECT_EQ(test, r->ret, 0);
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&probe.done, 5 * HZ), 0);
	KUNIT_EXPECT_EQ(test, probe.result, 0);
}

static void release_from_hardirq_timer_wakes_destroy(struct kunit *test)
{
	release_wakes_waiting_destroy(test, release_in_hardirq_timer);
}

static void release_under_raw_spinlock_wakes_destroy(struct kunit *test)
{
	release_wakes_waiting_destroy(test, release_under_raw_spinlock);
}

/*
 * Release's contract with more than one holder, and after the world's exit.
 * A kernel thread made after Create (its object from the creation hook) is
 * the world; this test holds its task_struct, not a reference on its world.
 */
struct held_world {
	struct task_struct *task;
	pid_t wid;
	u64 handle;
	u64 tag;
};

/*
 * Starts a kthread world of a new region of owned objects, or fails the
 * test; the kthread runs until held_world_exit().
 */
static void held_world_start(struct kunit *test, struct held_world *w)
{
	struct world_storage_props p = owned_props();
	DECLARE_COMPLETION_ONSTACK(started);

	atomic_set(&owned_ctors, 0);
	atomic_set(&owned_dtors, 0);
	atomic_set(&watched_dtors, 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &w->handle), 0);
	w->task = kthread_run(exit_when_stopped, &started, "ws_abi_held");
	if (IS_ERR(w->task)) {
		world_storage_destroy(w->handle);
		KUNIT_FAIL_AND_ABORT(test, "kthread_run: %ld", PTR_ERR(w->task));
	}
	get_task_struct(w->task);
	wait_for_completion(&started);
	w->wid = task_pid_nr(w->task);
}

/* Tags the world's object, whose destructor calls are then counted. */
static void held_world_watch(struct held_world *w, struct owned *o)
{
	w->tag = ++next_tag;
	WRITE_ONCE(o->tag, w->tag);
	WRITE_ONCE(watched_tag, w->tag);
}

/* Stops the kthread; returns once lookups of its world answer -ESRCH. */
static int held_world_exit(struct held_world *w)
{
	void *probe;
	int i, ret = 0;

	kthread_stop(w->task);
	for (i = 0; i < 250; i++) {
		ret = world_storage_lookup(w->wid, w->handle, &probe);
		if (ret)
			break;
		world_storage_release(w->wid, probe);
		msleep(20);
	}
	return ret;
}

static void held_world_end(struct kunit *test, struct held_world *w)
{
	KUNIT_EXPECT_EQ(test, world_storage_destroy(w->handle), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&owned_ctors), atomic_read(&owned_dtors));
	WRITE_ONCE(watched_tag, 0);
	put_task_struct(w->task);
}

/*
 * Two holders of one object get the same pointer and one count: holder 1's
 * second release is not told apart from holder 2's release. It returns 0 and
 * takes holder 2's reference, so the world's exit destructs the object while
 * holder 2 holds it, and holder 2's release is refused (-EINVAL). Exactly
 * what include/world_storage.h says; holder 2 never touches the object after
 * the exit (it would be a use-after-free).
 */
static void double_release_takes_another_holders_reference(struct kunit *test)
{
	struct held_world w = {};
	void *holder1 = NULL, *holder2 = NULL;

	held_world_start(test, &w);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(w.wid, w.handle, &holder1), 0);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(w.wid, w.handle, &holder2), 0);
	KUNIT_EXPECT_PTR_EQ(test, holder1, holder2);
	if (!holder1 || holder1 != holder2) {
		kthread_stop(w.task);
		held_world_end(test, &w);
		return;
	}
	held_world_watch(&w, holder2);
	KUNIT_EXPECT_EQ(test, world_storage_release(w.wid, holder1), 0);
	/* Holder 1 again: not detected, holder 2's reference goes. */
	KUNIT_EXPECT_EQ(test, world_storage_release(w.wid, holder1), 0);
	KUNIT_EXPECT_EQ(test, held_world_exit(&w), -ESRCH);
	/* Destructed at the exit, though holder 2 still "holds" it. */
	KUNIT_EXPECT_EQ(test, watched_dtors_settled(), 1);
	KUNIT_EXPECT_EQ(test, world_storage_release(w.wid, holder2), -EINVAL);
	held_world_end(test, &w);
}

/*
 * After the world's exit, Release takes only an ID the world had (its first
 * TID or the one an execve() gave it): neither a live task's TID nor an
 * unused one, and the reference stays; the world's own TID then releases it
 * and runs the destructor.
 */
static void release_after_exit_takes_only_its_tids(struct kunit *test)
{
	struct held_world w = {};
	void *obj = NULL;

	held_world_start(test, &w);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(w.wid, w.handle, &obj), 0);
	if (!obj) {
		kthread_stop(w.task);
		held_world_end(test, &w);
		return;
	}
	held_world_watch(&w, obj);
	KUNIT_EXPECT_EQ(test, held_world_exit(&w), -ESRCH);
	KUNIT_EXPECT_EQ(test, atomic_read(&watched_dtors), 0);
	KUNIT_EXPECT_EQ(test, world_storage_release(w.wid + 12345, obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&watched_dtors), 0);
	KUNIT_EXPECT_EQ(test, world_storage_release(w.wid, obj), 0);
	KUNIT_EXPECT_EQ(test, watched_dtors_settled(), 1);
	held_world_end(test, &w);
}

static struct kunit_case ws_abi_cases[] = {
	KUNIT_CASE(create_rejects_bad_props),
	KUNIT_CASE(constructor_gets_its_arguments),
	KUNIT_CASE(alignments_are_honoured),
	KUNIT_CASE(large_region_is_zero_filled),
	KUNIT_CASE(stale_and_invalid_handles),
	KUNIT_CASE(lookup_errors),
	KUNIT_CASE(visit_errors),
	KUNIT_CASE(lookup_task_and_release),
	KUNIT_CASE(kthread_with_failed_constructor_has_no_object),
	KUNIT_CASE(kthread_created_after_create_has_its_object),
	KUNIT_CASE(remote_lookup_of_world_without_object),
	KUNIT_CASE(local_lookup_forgets_what_left_the_table),
	KUNIT_CASE(no_cpu_points_at_a_record_that_left_the_table),
	KUNIT_CASE(destroy_invalidates_at_once_and_waits),
	KUNIT_CASE_SLOW(local_lookup_fails_once_destroy_started),
	KUNIT_CASE_SLOW(local_lookup_owner_under_preemption),
	KUNIT_CASE(last_release_from_hardirq_timer),
	KUNIT_CASE(last_release_under_raw_spinlock),
	KUNIT_CASE(release_from_hardirq_timer_wakes_destroy),
	KUNIT_CASE(release_under_raw_spinlock_wakes_destroy),
	KUNIT_CASE(double_release_takes_another_holders_reference),
	KUNIT_CASE(release_after_exit_takes_only_its_tids),
	{}
};

static struct kunit_suite ws_abi_suite = {
	.name = "world_storage_abi",
	.test_cases = ws_abi_cases,
};
kunit_test_suite(ws_abi_suite);

MODULE_DESCRIPTION("KUnit tests of the world storage C API");
MODULE_LICENSE("GPL");
