// SPDX-License-Identifier: GPL-2.0
/*
 * ws_stress: the kernel half of the stress test (see stress.c). While
 * loaded, for `seconds`:
 *
 * - a kthread creates and destroys regions (with and without constructors,
 *   sizes 1..8192, alignments 8..PAGE_SIZE), keeping up to four live, and
 *   injects constructor failures for tasks named "wsvictim*" (in Create and
 *   at task creation);
 * - a kthread on another CPU looks up random live and just-dead TIDs and
 *   releases, holding some references across the target's exit and across
 *   Destroy;
 * - an hrtimer looks up the interrupted task's objects from hard IRQ,
 *   among them those of a region whose constructor stores the task the
 *   object is for: each one found must be the interrupted task's;
 * - a kthread visits every world's object of that region (each visit must
 *   reach the visitor's own world, which lives through it) and of a random
 *   churned region (each object visited must be a constructed one: all
 *   0x5a, or zero-filled without a constructor; KASAN checks the reads),
 *   sleeping now and then in its callback while worlds exit and the churn
 *   destroys the region.
 *
 * Every region checks at Destroy that each constructor call had its
 * destructor call. /sys/kernel/debug/ws_stress/results has the totals.
 *
 * At load it first fills every region slot below PINNED_BELOW with regions
 * kept until unload, so the churned regions land at slot 8 or above: past
 * the 8 entries of a new world's smallest entry array. A world made while
 * no churned region is live gets that array, and the next Create grows it
 * (a longer copy replaces it) while the hrtimer, the looker and the task
 * storm look up, create and reap worlds.
 */

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "../../include/world_storage.h"

static unsigned int seconds = 5;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "how long to run");

#define LIVE 4
#define PINNED_BELOW 8
#define HELD 16
#define IRQ_PERIOD_US 1000

struct stress_region {
	u64 handle;
	u32 size;
	atomic_long_t ctor_calls;
	atomic_long_t dtor_calls;
};

/* The live regions' handles, read locklessly by the lookers. */
static atomic64_t live_handles[LIVE];

static struct {
	atomic_long_t regions_created, regions_destroyed, create_failures, mismatches;
	atomic_long_t ctor_calls, dtor_calls, ctor_failures_injected;
	atomic_long_t remote_lookups, remote_hits, held_released, release_errors;
	atomic_long_t irq_lookups, irq_hits, irq_wrong_task;
	atomic_long_t visits, visited_objects, visit_errors, visit_missed_self, visit_bad_objects;
	/* Churned regions created below PINNED_BELOW (none is expected). */
	atomic_long_t churned_low_slots;
	atomic_t max_tid;
} totals;

/* The regions pinned at load, below PINNED_BELOW. */
static u64 pinned[PINNED_BELOW];
static int nr_pinned;

static bool is_victim(pid_t wid)
{
	struct task_struct *t;
	bool victim = false;

	rcu_read_lock();
	t = pid_task(find_pid_ns(wid, &init_pid_ns), PIDTYPE_PID);
	if (t)
		victim = !strncmp(t->comm, "wsvictim", 8);
	rcu_read_unlock();
	return victim;
}

static int stress_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	struct stress_region *r = arg;

	if (wid > atomic_read(&totals.max_tid))
		atomic_set(&totals.max_tid, wid);
	if (is_victim(wid) && get_random_u32_below(8) == 0) {
		atomic_long_inc(&totals.ctor_failures_injected);
		return -EDOM;
	}
	memset(object, 0x5a, size);
	atomic_long_inc(&r->ctor_calls);
	atomic_long_inc(&totals.ctor_calls);
	return 0;
}

static void stress_dtor(pid_t wid, void *object, u32 size, void *arg)
{
	struct stress_region *r = arg;
	u8 *bytes = object;

	/* Constructed objects are all 0x5a; KASAN checks the accesses. */
	if (r->size != size || bytes[0] != 0x5a || bytes[size - 1] != 0x5a)
		atomic_long_inc(&totals.mismatches);
	atomic_long_inc(&r->dtor_calls);
	atomic_long_inc(&totals.dtor_calls);
}

static struct stress_region *region_create(void)
{
	struct stress_region *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = 1 + get_random_u32_below(8192),
		.align = 8 << get_random_u32_below(ilog2(PAGE_SIZE) - 2),
		.destructor = stress_dtor,
		.arg = r,
	};

	if (!r)
		return NULL;
	/* Half the regions have a constructor (and can fail). */
	if (get_random_u32_below(2))
		props.constructor = stress_ctor;
	else
		props.destructor = NULL;
	r->size = props.size;
	if (world_storage_create(&props, &r->handle)) {
		if (atomic_long_read(&r->ctor_calls) != atomic_long_read(&r->dtor_calls))
			atomic_long_inc(&totals.mismatches);
		atomic_long_inc(&totals.create_failures);
		kfree(r);
		return NULL;
	}
	atomic_long_inc(&totals.regions_created);
	/* The slot is the handle's low 32 bits (layout version 1). */
	if ((u32)r->handle < PINNED_BELOW)
		atomic_long_inc(&totals.churned_low_slots);
	return r;
}

static void region_destroy(struct stress_region *r)
{
	if (world_storage_destroy(r->handle) ||
	    atomic_long_read(&r->ctor_calls) != atomic_long_read(&r->dtor_calls))
		atomic_long_inc(&totals.mismatches);
	atomic_long_inc(&totals.regions_destroyed);
	kfree(r);
}

/* The region whose objects hold their task; live while the module is. */
static u64 task_region = WORLD_STORAGE_HANDLE_INVALID;

static int task_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	rcu_read_lock();
	*(struct task_struct **)object = pid_task(find_pid_ns(wid, &init_pid_ns), PIDTYPE_PID);
	rcu_read_unlock();
	return 0;
}

static int task_region_create(void)
{
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = sizeof(struct task_struct *),
		.align = __alignof__(struct task_struct *),
		.constructor = task_ctor,
	};

	return world_storage_create(&props, &task_region);
}

static void unpin_low_slots(void)
{
	while (nr_pinned)
		world_storage_destroy(pinned[--nr_pinned]);
}

/* Fills every free slot below PINNED_BELOW (slots are taken lowest first). */
static int pin_low_slots(void)
{
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = 8,
		.align = 8,
	};
	int err;

	while (nr_pinned < PINNED_BELOW) {
		err = world_storage_create(&props, &pinned[nr_pinned]);
		if (err) {
			unpin_low_slots();
			return err;
		}
		if ((u32)pinned[nr_pinned++] >= PINNED_BELOW - 1)
			break;
	}
	return 0;
}

static int churn(void *unused)
{
	struct stress_region *regions[LIVE] = {};
	unsigned long end = jiffies + seconds * HZ;
	int i;

	while (time_before(jiffies, end) && !kthread_should_stop()) {
		i = get_random_u32_below(LIVE);
		if (regions[i]) {
			atomic64_set(&live_handles[i], WORLD_STORAGE_HANDLE_INVALID);
			region_destroy(regions[i]);
			regions[i] = NULL;
		} else {
			regions[i] = region_create();
			if (regions[i])
				atomic64_set(&live_handles[i], regions[i]->handle);
		}
		usleep_range(500, 3000);
	}
	for (i = 0; i < LIVE; i++) {
		atomic64_set(&live_handles[i], WORLD_STORAGE_HANDLE_INVALID);
		if (regions[i])
			region_destroy(regions[i]);
	}
	return 0;
}

struct held_ref {
	pid_t wid;
	void *object;
	unsigned long until;
};

static void release(struct held_ref *h)
{
	if (world_storage_release(h->wid, h->object))
		atomic_long_inc(&totals.release_errors);
	else
		atomic_long_inc(&totals.held_released);
	h->object = NULL;
}

static int looker(void *unused)
{
	struct held_ref held[HELD] = {};
	unsigned long end = jiffies + seconds * HZ;
	void *object;
	pid_t wid;
	u64 h;
	int i;

	while (time_before(jiffies, end) && !kthread_should_stop()) {
		h = atomic64_read(&live_handles[get_random_u32_below(LIVE)]);
		wid = 1 + get_random_u32_below(atomic_read(&totals.max_tid) + 1);
		atomic_long_inc(&totals.remote_lookups);
		if (!world_storage_lookup(wid, h, &object)) {
			atomic_long_inc(&totals.remote_hits);
			READ_ONCE(*(u8 *)object);
			i = get_random_u32_below(HELD);
			if (held[i].object)
				release(&held[i]);
			/* Held for up to 20 ms: across exits and Destroys. */
			held[i] = (struct held_ref) { wid, object,
				jiffies + msecs_to_jiffies(get_random_u32_below(20)) };
		}
		for (i = 0; i < HELD; i++)
			if (held[i].object && time_after(jiffies, held[i].until))
				release(&held[i]);
		/* Leave the CPU to the task storm most of the time. */
		usleep_range(50, 100);
	}
	for (i = 0; i < HELD; i++)
		if (held[i].object)
			release(&held[i]);
	return 0;
}

/* What a visit of the task region saw. */
struct task_visit {
	pid_t self;
	bool found_self;
	long objects;
};

static int visit_task_object(pid_t wid, void *object, void *arg)
{
	struct task_visit *v = arg;

	v->objects++;
	if (wid == v->self)
		v->found_self = true;
	return 0;
}

/* A churned region's object: all 0x5a (a constructor's) or zero-filled. */
static int visit_churned_object(pid_t wid, void *object, void *arg)
{
	u8 first = READ_ONCE(*(u8 *)object);
	long *objects = arg;

	if (first != 0x5a && first != 0)
		atomic_long_inc(&totals.visit_bad_objects);
	/* Now and then, sleep while worlds exit and Destroy waits. */
	if (++*objects % 16 == 0)
		usleep_range(20, 50);
	return 0;
}

static int visitor(void *unused)
{
	unsigned long end = jiffies + seconds * HZ;
	struct task_visit v;
	long objects;
	int err;

	while (time_before(jiffies, end) && !kthread_should_stop()) {
		v = (struct task_visit) { .self = task_pid_nr(current) };
		err = world_storage_for_each(task_region, visit_task_object, &v);
		if (err)
			atomic_long_inc(&totals.visit_errors);
		else if (!v.found_self)
			atomic_long_inc(&totals.visit_missed_self);
		objects = 0;
		err = world_storage_for_each(atomic64_read(&live_handles[get_random_u32_below(LIVE)]),
					     visit_churned_object, &objects);
		/* -EINVAL: no region there, or destroyed since it was read. */
		if (err && err != -EINVAL)
			atomic_long_inc(&totals.visit_errors);
		atomic_long_add(2, &totals.visits);
		atomic_long_add(v.objects + objects, &totals.visited_objects);
		/* Leave the CPUs to the task storm most of the time. */
		usleep_range(2000, 5000);
	}
	return 0;
}

static struct hrtimer irq_timer;

static enum hrtimer_restart irq_lookup(struct hrtimer *t)
{
	void *object;
	int i;

	for (i = 0; i < LIVE; i++) {
		atomic_long_inc(&totals.irq_lookups);
		if (!world_storage_lookup_local(atomic64_read(&live_handles[i]), &object)) {
			READ_ONCE(*(u8 *)object);
			atomic_long_inc(&totals.irq_hits);
		}
	}
	atomic_long_inc(&totals.irq_lookups);
	if (!world_storage_lookup_local(task_region, &object)) {
		atomic_long_inc(&totals.irq_hits);
		if (*(struct task_struct **)object != current)
			atomic_long_inc(&totals.irq_wrong_task);
	}
	hrtimer_forward_now(t, us_to_ktime(IRQ_PERIOD_US));
	return HRTIMER_RESTART;
}

static int results_show(struct seq_file *m, void *v)
{
#define SHOW(name) seq_printf(m, #name " %ld\n", atomic_long_read(&totals.name))
	SHOW(regions_created);
	SHOW(regions_destroyed);
	SHOW(create_failures);
	SHOW(ctor_calls);
	SHOW(dtor_calls);
	SHOW(ctor_failures_injected);
	SHOW(mismatches);
	SHOW(remote_lookups);
	SHOW(remote_hits);
	SHOW(held_released);
	SHOW(release_errors);
	SHOW(irq_lookups);
	SHOW(irq_hits);
	SHOW(irq_wrong_task);
	SHOW(churned_low_slots);
	SHOW(visits);
	SHOW(visited_objects);
	SHOW(visit_errors);
	SHOW(visit_missed_self);
	SHOW(visit_bad_objects);
#undef SHOW
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(results);

static struct task_struct *churner, *lookers, *visiting;
static struct dentry *dir;

static int __init ws_stress_init(void)
{
	int i, err = task_region_create();

	if (err)
		return err;
	err = pin_low_slots();
	if (err) {
		world_storage_destroy(task_region);
		return err;
	}
	for (i = 0; i < LIVE; i++)
		atomic64_set(&live_handles[i], WORLD_STORAGE_HANDLE_INVALID);
	atomic_set(&totals.max_tid, 1);
	dir = debugfs_create_dir("ws_stress", NULL);
	debugfs_create_file("results", 0444, dir, NULL, &results_fops);
	churner = kthread_run(churn, NULL, "ws_stress_churn");
	lookers = kthread_create(looker, NULL, "ws_stress_look");
	visiting = kthread_run(visitor, NULL, "ws_stress_visit");
	if (IS_ERR(churner) || IS_ERR(lookers) || IS_ERR(visiting))
		return -ENOMEM;
	get_task_struct(churner);
	get_task_struct(lookers);
	get_task_struct(visiting);
	/* The lookups run on the other CPU than the churn, where there is one. */
	if (num_online_cpus() > 1)
		kthread_bind(lookers, 1);
	wake_up_process(lookers);
	hrtimer_setup(&irq_timer, irq_lookup, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrtimer_start(&irq_timer, us_to_ktime(IRQ_PERIOD_US), HRTIMER_MODE_REL);
	return 0;
}
module_init(ws_stress_init);

static void __exit ws_stress_exit(void)
{
	hrtimer_cancel(&irq_timer);
	kthread_stop(visiting);
	put_task_struct(visiting);
	world_storage_destroy(task_region);
	kthread_stop(churner);
	unpin_low_slots();
	kthread_stop(lookers);
	put_task_struct(churner);
	put_task_struct(lookers);
	debugfs_remove_recursive(dir);
}
module_exit(ws_stress_exit);

MODULE_DESCRIPTION("World storage stress test: region churn, remote and IRQ lookups, visits");
MODULE_LICENSE("GPL");
