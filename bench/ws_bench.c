// SPDX-License-Identifier: GPL-2.0
/*
 * ws_bench: the kernel half of `make bench`. Reading
 * /sys/kernel/debug/ws_bench/run runs every in-kernel case and prints
 * "<case> <ns per op>" lines (median of REPS runs of LOOPS operations, loop
 * overhead included). Under QEMU's -icount shift=0 one guest ns is one
 * instruction, so the same file gives instructions per op in that boot.
 *
 * /sys/kernel/debug/ws_bench/remote: the remote cases (lookup and release
 * by TID, by task, and their bare primitives) at the TID depth the system
 * has now: the levels of a 64-ary tree that holds the largest live TID
 * (that of the PID table, and of any table keyed by TID). The bare
 * primitives use an XArray of the same depth.
 *
 * Writing "regions N SIZE" to /sys/kernel/debug/ws_bench/control keeps N
 * regions of SIZE bytes live (fork+exit and memory cases); reading
 * /sys/kernel/debug/ws_bench/threads waits for pending RCU callbacks (so
 * that slab counts hold only live objects) and prints the number of
 * threads. /sys/kernel/debug/ws_bench/create runs Create and Destroy once
 * over every thread and prints their ns per thread, and Destroy's ns.
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
#define NAIVE_ENTRIES 2000

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
	for (n = 1; n <= NAIVE_ENTRIES; n++) {
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

/*
 * Bare primitives of a lookup by TID: an XArray with the current task's
 * TID and the largest live TID, so as deep as a table of every live TID.
 */
struct bare_record {
	refcount_t refs;
};
static DEFINE_XARRAY(bare_xa);
static struct bare_record bare_me, bare_max;

/* The largest TID of a live thread. */
static pid_t max_live_tid(void)
{
	struct task_struct *p, *t;
	pid_t max = 0;

	rcu_read_lock();
	for_each_process_thread(p, t)
		max = max(max, task_pid_nr(t));
	rcu_read_unlock();
	return max;
}

/* Levels of XArray nodes between the root and an entry at index `max`. */
static int xa_depth(unsigned long max)
{
	int levels = 0;

	for (; max; max >>= XA_CHUNK_SHIFT)
		levels++;
	return levels;
}

/* Fills bare_xa for `me`; returns its depth, which *max_tid sets. */
static int bare_fill(pid_t me, pid_t *max_tid)
{
	*max_tid = max_live_tid();
	refcount_set(&bare_me.refs, 1);
	refcount_set(&bare_max.refs, 1);
	xa_store(&bare_xa, me, &bare_me, GFP_KERNEL);
	if (*max_tid != me)
		xa_store(&bare_xa, *max_tid, &bare_max, GFP_KERNEL);
	return xa_depth(*max_tid);
}

/*
 * Two tasks on one CPU taking turns: every turn is a context switch, so
 * every lookup after it is the first one since the switch.
 */
#define TURNS 2000

enum after_switch {
	SWITCH_ONLY,
	SWITCH_THEN_LOOKUP_LOCAL,
	SWITCH_THEN_BARE_RCU_XA_LOAD,
};

struct ping_pong {
	struct completion turn[2];
	enum after_switch op;
	pid_t pong_tid;
};

/* What each task does after each switch to it. */
static void after_switch(enum after_switch op, pid_t tid)
{
	void *obj;

	switch (op) {
	case SWITCH_ONLY:
		break;
	case SWITCH_THEN_LOOKUP_LOCAL:
		world_storage_lookup_local(regions[0], &obj);
		break;
	case SWITCH_THEN_BARE_RCU_XA_LOAD:
		rcu_read_lock();
		obj = xa_load(&bare_xa, tid);
		rcu_read_unlock();
		break;
	}
}

static int pong(void *arg)
{
	struct ping_pong *pp = arg;
	int i;

	for (i = 0; i < TURNS; i++) {
		wait_for_completion(&pp->turn[1]);
		after_switch(pp->op, pp->pong_tid);
		complete(&pp->turn[0]);
	}
	return 0;
}

/* ns per turn (one switch, then `op`), on one CPU. */
static u64 ping_pong_ns(enum after_switch op)
{
	struct ping_pong pp = { .op = op };
	int cpu = get_cpu(), i;
	pid_t me = task_pid_nr(current);
	struct task_struct *t;
	u64 t0;

	put_cpu();
	init_completion(&pp.turn[0]);
	init_completion(&pp.turn[1]);
	t = kthread_create(pong, &pp, "ws_bench_pong");
	if (IS_ERR(t))
		return 0;
	/* The bare case's pong looks its own TID up, as a lookup would. */
	pp.pong_tid = task_pid_nr(t);
	if (op == SWITCH_THEN_BARE_RCU_XA_LOAD)
		xa_store(&bare_xa, pp.pong_tid, &bare_max, GFP_KERNEL);
	kthread_bind(t, cpu);
	set_cpus_allowed_ptr(current, cpumask_of(cpu));
	wake_up_process(t);
	t0 = ktime_get_ns();
	for (i = 0; i < TURNS; i++) {
		after_switch(op, me);
		complete(&pp.turn[1]);
		wait_for_completion(&pp.turn[0]);
	}
	t0 = ktime_get_ns() - t0;
	set_cpus_allowed_ptr(current, cpu_possible_mask);
	if (op == SWITCH_THEN_BARE_RCU_XA_LOAD)
		xa_erase(&bare_xa, pp.pong_tid);
	return t0 / (2 * TURNS);
}

/* The median over REPS of ping_pong_ns(op). */
static u64 ping_pong_median_ns(enum after_switch op)
{
	u64 samples[REPS];
	int r;

	for (r = 0; r < REPS; r++)
		samples[r] = ping_pong_ns(op);
	sort(samples, REPS, sizeof(u64), sort_u64, NULL);
	return samples[REPS / 2];
}

/* The local hit through the header's static inline fast path. */
static void lookup_local_inlined(struct seq_file *m)
{
	void *obj;

	MEASURE(m, "lookup_local_inlined_hit", ,
		world_storage_lookup_local_inline(regions[0], &obj));
}

static int run_show(struct seq_file *m, void *v)
{
	static const int counts[] = { 1, 16, 17, 64, 1024 };
	pid_t me = task_pid_nr(current), max_tid;
	struct task_struct *hammer;
	volatile pid_t sink;
	void *obj;
	int c, depth;

	regions_trim(0);
	if (region_create(8))
		return -ENOMEM;
	depth = bare_fill(me, &max_tid);

	MEASURE(m, "empty_loop", , barrier());
	MEASURE(m, "floor_inline_current_pid", , sink = READ_ONCE(current->pid));
	MEASURE(m, "floor_call_current_pid", , sink = current_pid_call());
	MEASURE(m, "lookup_local_hit", , world_storage_lookup_local(regions[0], &obj));
	lookup_local_inlined(m);
	seq_printf(m, "tid_depth %d\nmax_tid %d\n", depth, max_tid);
	MEASURE(m, "bare_rcu_xa_load", ,
		rcu_read_lock(); obj = xa_load(&bare_xa, me); rcu_read_unlock());
	{
		u64 without = ping_pong_median_ns(SWITCH_ONLY);
		u64 lookup = ping_pong_median_ns(SWITCH_THEN_LOOKUP_LOCAL);
		u64 bare = ping_pong_median_ns(SWITCH_THEN_BARE_RCU_XA_LOAD);

		seq_printf(m, "switch %llu\n", without);
		seq_printf(m, "switch_then_lookup_local %llu\n", lookup);
		seq_printf(m, "switch_then_bare_rcu_xa_load %llu\n", bare);
		seq_printf(m, "first_lookup_local_after_switch %lld\n", (s64)(lookup - without));
		seq_printf(m, "first_bare_rcu_xa_load_after_switch %lld\n", (s64)(bare - without));
	}
	MEASURE(m, "naive_spinlock_hash_1cpu", naive_fill(), naive_lookup(me));
	WRITE_ONCE(hammer_stop, false);
	hammer = kthread_run(naive_hammer, NULL, "ws_bench_hammer");
	MEASURE(m, "naive_spinlock_hash_2cpu", , naive_lookup(me));
	WRITE_ONCE(hammer_stop, true);
	if (!IS_ERR(hammer))
		kthread_stop(hammer);
	naive_empty();

	/* The newest region's object: its slot is the highest in use. */
	for (c = 0; c < ARRAY_SIZE(counts); c++) {
		char name[40];

		while (nr_regions < counts[c] && !region_create(8))
			;
		snprintf(name, sizeof(name), "lookup_local_%d_regions", nr_regions);
		MEASURE(m, name, , world_storage_lookup_local(regions[nr_regions - 1], &obj));
	}
	regions_trim(0);
	xa_destroy(&bare_xa);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(run);

/* Remote lookups and their bare primitives, at the TID depth of now. */
static int remote_show(struct seq_file *m, void *v)
{
	pid_t me = task_pid_nr(current), max_tid;
	char name[48];
	void *obj;
	int depth;

	regions_trim(0);
	if (region_create(8))
		return -ENOMEM;
	depth = bare_fill(me, &max_tid);
	seq_printf(m, "max_tid_depth%d %d\n", depth, max_tid);
	snprintf(name, sizeof(name), "bare_remote_primitives_depth%d", depth);
	MEASURE(m, name, ,
		rcu_read_lock();
		obj = xa_load(&bare_xa, me);
		if (refcount_inc_not_zero(&((struct bare_record *)obj)->refs))
			refcount_dec(&((struct bare_record *)obj)->refs);
		rcu_read_unlock());
	snprintf(name, sizeof(name), "lookup_release_by_tid_depth%d", depth);
	MEASURE(m, name, ,
		if (!world_storage_lookup(me, regions[0], &obj))
			world_storage_release(me, obj));
	snprintf(name, sizeof(name), "lookup_release_by_task_depth%d", depth);
	MEASURE(m, name, ,
		if (!world_storage_lookup_task(current, regions[0], &obj))
			world_storage_release(me, obj));
	regions_trim(0);
	xa_destroy(&bare_xa);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(remote);

/* The number of threads, once every pending RCU callback has run. */
static int threads_show(struct seq_file *m, void *v)
{
	struct task_struct *p, *t;
	long threads = 0;

	rcu_barrier();
	rcu_read_lock();
	for_each_process_thread(p, t)
		threads++;
	rcu_read_unlock();
	seq_printf(m, "%ld\n", threads);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(threads);

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
	seq_printf(m, "threads %ld create_ns_per_thread %llu destroy_ns_per_thread %llu destroy_ns %llu\n",
		   threads, (t1 - t0) / threads, (t2 - t1) / threads, t2 - t1);
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
	debugfs_create_file("remote", 0444, dir, NULL, &remote_fops);
	debugfs_create_file("threads", 0444, dir, NULL, &threads_fops);
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
