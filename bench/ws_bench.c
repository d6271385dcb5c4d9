// SPDX-License-Identifier: GPL-2.0
/*
 * ws_bench: the kernel half of `make bench`. Reading
 * /sys/kernel/debug/ws_bench/run runs every in-kernel case and prints
 * "<case> <ns per op>" lines (median of REPS runs of LOOPS operations, loop
 * overhead included). Under QEMU's -icount shift=0 one guest ns is one
 * instruction, so the same file gives instructions per op in that boot.
 *
 * Writing "regions N" to /sys/kernel/debug/ws_bench/control keeps N extra
 * regions live (for the fork+exit case); "create" runs Create and Destroy
 * once over every thread and prints their ns per thread on the next read of
 * /sys/kernel/debug/ws_bench/create.
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/hashtable.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "../include/world_storage.h"

#define LOOPS 20000
#define REPS 7
#define MAX_REGIONS 1024
#define XA_ENTRIES 2000

static u64 regions[MAX_REGIONS];
static int nr_regions;

static int sort_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Median over REPS of the ns per operation of `op` run LOOPS times. */
#define MEASURE(m, name, setup, op)						\
	do {									\
		u64 samples[REPS];						\
		int r, i;							\
		setup;								\
		for (r = 0; r < REPS; r++) {					\
			u64 t0 = ktime_get_ns();				\
			for (i = 0; i < LOOPS; i++) {				\
				op;						\
			}							\
			samples[r] = ktime_get_ns() - t0;			\
		}								\
		sort(samples, REPS, sizeof(u64), sort_u64, NULL);		\
		seq_printf(m, "%s %llu.%02llu\n", name,				\
			   samples[REPS / 2] / LOOPS,				\
			   samples[REPS / 2] % LOOPS * 100 / LOOPS);		\
	} while (0)

static noinline pid_t current_pid_call(void)
{
	return READ_ONCE(current->pid);
}

static int region_create(u32 size)
{
	struct world_storage_props p = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = size,
		.align = 8,
	};

	if (nr_regions == MAX_REGIONS)
		return -ENOSPC;
	return world_storage_create(&p, &regions[nr_regions]) ?: (nr_regions++, 0);
}

static void regions_trim(int n)
{
	while (nr_regions > n)
		world_storage_destroy(regions[--nr_regions]);
}

/* The naive alternative: a spinlock and a hashtable keyed by pid. */
struct naive_entry {
	struct hlist_node node;
	pid_t pid;
	u64 value;
};
static DEFINE_HASHTABLE(naive_table, 10);
static DEFINE_SPINLOCK(naive_lock);

static u64 *naive_lookup(pid_t pid)
{
	struct naive_entry *e;
	u64 *found = NULL;

	spin_lock(&naive_lock);
	hash_for_each_possible(naive_table, e, node, pid)
		if (e->pid == pid) {
			found = &e->value;
			break;
		}
	spin_unlock(&naive_lock);
	return found;
}

static int naive_fill(void)
{
	struct task_struct *p, *t;
	struct naive_entry *e;
	int n = 0;

	/* Entries for pids 1..2000 plus every thread, as a driver would have. */
	for (n = 1; n <= XA_ENTRIES; n++) {
		e = kzalloc(sizeof(*e), GFP_KERNEL);
		if (!e)
			return -ENOMEM;
		e->pid = n + 100000;
		hash_add(naive_table, &e->node, e->pid);
	}
	rcu_read_lock();
	for_each_process_thread(p, t) {
		e = kzalloc(sizeof(*e), GFP_ATOMIC);
		if (!e)
			break;
		e->pid = t->pid;
		hash_add(naive_table, &e->node, e->pid);
	}
	rcu_read_unlock();
	return 0;
}

static void naive_empty(void)
{
	struct naive_entry *e;
	struct hlist_node *tmp;
	int bkt;

	hash_for_each_safe(naive_table, bkt, tmp, e, node) {
		hash_del(&e->node);
		kfree(e);
	}
}

static bool hammer_stop;

static int naive_hammer(void *unused)
{
	while (!READ_ONCE(hammer_stop))
		naive_lookup(current->pid);
	return 0;
}

/* Bare primitives of a remote lookup, on an XArray like ours. */
struct bare_record {
	refcount_t refs;
};
static DEFINE_XARRAY(bare_xa);
static struct bare_record bare_records[XA_ENTRIES];

static void bare_fill(void)
{
	int i;

	for (i = 0; i < XA_ENTRIES; i++) {
		refcount_set(&bare_records[i].refs, 1);
		xa_store(&bare_xa, i + 1, &bare_records[i], GFP_KERNEL);
	}
}

/*
 * Two tasks on one CPU taking turns: every turn is a context switch, so
 * every local lookup after it is the first one since the switch.
 */
#define TURNS 2000

struct ping_pong {
	struct completion turn[2];
	bool lookup;
};

static int pong(void *arg)
{
	struct ping_pong *pp = arg;
	void *obj;
	int i;

	for (i = 0; i < TURNS; i++) {
		wait_for_completion(&pp->turn[1]);
		if (pp->lookup)
			world_storage_lookup_local(regions[0], &obj);
		complete(&pp->turn[0]);
	}
	return 0;
}

/* ns per turn (one switch, and one lookup if `lookup`), on one CPU. */
static u64 ping_pong_ns(bool lookup)
{
	struct ping_pong pp = { .lookup = lookup };
	int cpu = get_cpu(), i;
	struct task_struct *t;
	u64 t0;
	void *obj;

	put_cpu();
	init_completion(&pp.turn[0]);
	init_completion(&pp.turn[1]);
	t = kthread_create(pong, &pp, "ws_bench_pong");
	if (IS_ERR(t))
		return 0;
	kthread_bind(t, cpu);
	set_cpus_allowed_ptr(current, cpumask_of(cpu));
	wake_up_process(t);
	t0 = ktime_get_ns();
	for (i = 0; i < TURNS; i++) {
		if (lookup)
			world_storage_lookup_local(regions[0], &obj);
		complete(&pp.turn[1]);
		wait_for_completion(&pp.turn[0]);
	}
	t0 = ktime_get_ns() - t0;
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	return t0 / (2 * TURNS);
}

static int run_show(struct seq_file *m, void *v)
{
	static const int counts[] = { 1, 16, 64, 256, 1024 };
	pid_t me = task_pid_nr(current);
	struct task_struct *hammer;
	volatile pid_t sink;
	void *obj;
	int c;

	regions_trim(0);
	if (region_create(8))
		return -ENOMEM;

	MEASURE(m, "empty_loop", , barrier());
	MEASURE(m, "floor_inline_current_pid", , sink = READ_ONCE(current->pid));
	MEASURE(m, "floor_call_current_pid", , sink = current_pid_call());
	MEASURE(m, "lookup_local_hit", , world_storage_lookup_local(regions[0], &obj));
	MEASURE(m, "bare_rcu_xa_load", bare_fill(),
		rcu_read_lock(); obj = xa_load(&bare_xa, 1000); rcu_read_unlock());
	{
		u64 with = ping_pong_ns(true), without = ping_pong_ns(false);

		seq_printf(m, "switch %llu\n", without);
		seq_printf(m, "switch_then_lookup_local %llu\n", with);
		seq_printf(m, "first_lookup_local_after_switch %lld\n", (s64)(with - without));
	}
	MEASURE(m, "bare_remote_primitives", ,
		rcu_read_lock();
		obj = xa_load(&bare_xa, 1000);
		if (refcount_inc_not_zero(&((struct bare_record *)obj)->refs))
			refcount_dec(&((struct bare_record *)obj)->refs);
		rcu_read_unlock());
	MEASURE(m, "lookup_release_by_tid", ,
		if (!world_storage_lookup(me, regions[0], &obj))
			world_storage_release(me, obj));
	MEASURE(m, "lookup_release_by_task", ,
		if (!world_storage_lookup_task(current, regions[0], &obj))
			world_storage_release(me, obj));
	MEASURE(m, "naive_spinlock_hash_1cpu", naive_fill(), naive_lookup(me));
	WRITE_ONCE(hammer_stop, false);
	hammer = kthread_run(naive_hammer, NULL, "ws_bench_hammer");
	MEASURE(m, "naive_spinlock_hash_2cpu", , naive_lookup(me));
	WRITE_ONCE(hammer_stop, true);
	if (!IS_ERR(hammer))
		kthread_stop(hammer);
	naive_empty();

	for (c = 0; c < ARRAY_SIZE(counts); c++) {
		char name[40];

		while (nr_regions < counts[c] && !region_create(8))
			;
		snprintf(name, sizeof(name), "lookup_local_%d_regions", nr_regions);
		MEASURE(m, name, , world_storage_lookup_local(regions[nr_regions / 2], &obj));
	}
	regions_trim(0);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(run);

/* Create and Destroy over every thread, ns per thread. */
static int create_show(struct seq_file *m, void *v)
{
	struct task_struct *p, *t;
	u64 t0, t1, t2;
	long threads = 0;

	rcu_read_lock();
	for_each_process_thread(p, t)
		threads++;
	rcu_read_unlock();
	regions_trim(0);
	t0 = ktime_get_ns();
	if (region_create(64))
		return -ENOMEM;
	t1 = ktime_get_ns();
	regions_trim(0);
	t2 = ktime_get_ns();
	seq_printf(m, "threads %ld create_ns_per_thread %llu destroy_ns_per_thread %llu\n",
		   threads, (t1 - t0) / threads, (t2 - t1) / threads);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(create);

static ssize_t control_write(struct file *f, const char __user *ubuf, size_t len, loff_t *pos)
{
	char buf[32] = "";
	int n, size;

	if (copy_from_user(buf, ubuf, min(len, sizeof(buf) - 1)))
		return -EFAULT;
	if (sscanf(buf, "regions %d %d", &n, &size) == 2) {
		regions_trim(0);
		while (nr_regions < n)
			if (region_create(size))
				return -ENOMEM;
		return len;
	}
	return -EINVAL;
}

static const struct file_operations control_fops = {
	.write = control_write,
};

static struct dentry *dir;

static int __init ws_bench_init(void)
{
	dir = debugfs_create_dir("ws_bench", NULL);
	debugfs_create_file("run", 0444, dir, NULL, &run_fops);
	debugfs_create_file("create", 0444, dir, NULL, &create_fops);
	debugfs_create_file("control", 0200, dir, NULL, &control_fops);
	return 0;
}
module_init(ws_bench_init);

static void __exit ws_bench_exit(void)
{
	debugfs_remove_recursive(dir);
	regions_trim(0);
	xa_destroy(&bare_xa);
}
module_exit(ws_bench_exit);

MODULE_DESCRIPTION("World storage benchmark: lookups next to their floors and alternatives");
MODULE_LICENSE("GPL");
