// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of world_storage.ko: only what Rust cannot express. Its
 * boundary with the Rust crate, both ways, is world_storage_glue.h (which
 * rust/glue.rs mirrors).
 *
 * - EXPORT_SYMBOL_GPL() of the C API, whose functions are in exports.rs
 *   (not in world_storage_kunit.ko, the same sources built again for the
 *   crate's KUnit suites: WS_KUNIT_MODULE);
 * - wrappers of static inline functions and macros the Rust half calls;
 * - ws_layout_c_offset(), the C side of the layout test (test module only);
 * - the memory cgroup that Create charges a task's objects to;
 * - per-CPU state (lookup counters, the current task's record) and the
 *   local lookup's fast path that reads it (Rust in 7.3 has no per-CPU
 *   access and calls even preempt_disable() out of line: see the design
 *   section of Documentation/world-storage.rst);
 * - what defers work out of contexts that cannot take a spinlock_t: the
 *   irq_works and the work item of deferred teardowns, drain wake-ups and
 *   the bad-release warning;
 * - the compiler's check of the tracepoint probes (in hooks.rs) against
 *   their tracepoints' prototypes.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/irq_work.h>
#include <linux/limits.h>
#include <linux/llist.h>
#include <linux/memcontrol.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <trace/events/sched.h>
#include <trace/events/task.h>

#include "../include/world_storage.h"
#include "world_storage_glue.h"

#ifndef WS_KUNIT_MODULE
EXPORT_SYMBOL_GPL(world_storage_create);
EXPORT_SYMBOL_GPL(world_storage_destroy);
EXPORT_SYMBOL_GPL(world_storage_lookup);
EXPORT_SYMBOL_GPL(world_storage_lookup_task);
EXPORT_SYMBOL_GPL(world_storage_release);
EXPORT_SYMBOL_GPL(world_storage_for_each);
#endif

int ws_refcount_get_below(refcount_t *r, unsigned int max)
{
	/* Racing callers overshoot @max by at most one each. */
	if (refcount_read(r) >= max)
		return -EOVERFLOW;
	return refcount_inc_not_zero(r) ? 0 : -ESRCH;
}

/*
 * Destroy's waits for a count to drain: every waiter sleeps on one
 * variable and rechecks its own count when any count reaches zero. A count
 * can reach zero in a context that may not take the wait queue's spinlock_t
 * or, through the wake-up, the woken task's rq lock (hard IRQ, NMI, under
 * rq->lock in a scheduler tracepoint): there the wake-up goes through an
 * irq_work. Spurious wake-ups are harmless.
 */
static int ws_drain_event;

void ws_wait_var_zero(unsigned long *counter)
{
	/* Acquire: what the last decrementer did happens before our return. */
	wait_var_event(&ws_drain_event, !smp_load_acquire(counter));
}

static void ws_drain_irq_work_fn(struct irq_work *work)
{
	wake_up_var(&ws_drain_event);
}

static DEFINE_IRQ_WORK(ws_drain_irq_work, ws_drain_irq_work_fn);

void ws_drained(void)
{
	/* The decrement to zero before the wait-queue check of wake_up_var(). */
	smp_mb__after_atomic();
	if (preemptible())
		wake_up_var(&ws_drain_event);
	else
		irq_work_queue(&ws_drain_irq_work);
}

unsigned long ws_local_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

void ws_local_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

long __percpu *ws_percpu_count_alloc(void)
{
	return alloc_percpu(long);
}

void ws_percpu_count_free(long __percpu *count)
{
	free_percpu(count);
}

void ws_percpu_count_add(long __percpu *count, long n)
{
	this_cpu_add(*count, n);
}

long ws_percpu_count_sum(long __percpu *count)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(count, cpu));
	return sum;
}

void ws_tracepoint_synchronize_unregister(void)
{
	tracepoint_synchronize_unregister();
}

/*
 * Never called: the build fails if a probe's prototype (the Rust definition
 * is checked against world_storage_glue.h) is not its tracepoint's.
 */
static void __maybe_unused ws_check_probe_prototypes(void)
{
	check_trace_callback_type_task_newtask(ws_probe_task_newtask);
	check_trace_callback_type_sched_process_exec(ws_probe_sched_process_exec);
	check_trace_callback_type_sched_process_exit(ws_probe_sched_process_exit);
}

unsigned long ws_task_key(const struct task_struct *task)
{
	/*
	 * C's size: Rust's view of struct task_struct may differ (bindgen).
	 * Offset from the direct map's base, where the slab allocates tasks:
	 * the keys then stay below (RAM size / task size), a few XArray
	 * levels, instead of the ~6 levels of a raw kernel address. Unsigned
	 * arithmetic keeps distinct tasks apart even outside the direct map
	 * (init_task, in the kernel image).
	 */
	return ((unsigned long)task - PAGE_OFFSET) / sizeof(*task);
}

/*
 * Release may run under rq->lock, where printk() must not run (it may wake
 * a console thread): its warning is printed from an irq_work.
 */
static void ws_warn_irq_work_fn(struct irq_work *work)
{
	pr_warn("release of a pointer that holds no reference (foreign, or released twice)\n");
}

static DEFINE_IRQ_WORK(ws_warn_irq_work, ws_warn_irq_work_fn);
static int ws_warned_bad_release;

void ws_warn_bad_release(void)
{
	/* Once, like pr_warn_once(), and no interrupt for later ones. */
	if (!xchg(&ws_warned_bad_release, 1))
		irq_work_queue(&ws_warn_irq_work);
}

size_t ws_collect_threads(struct task_struct **buf, size_t cap)
{
	struct task_struct *p, *t;
	size_t n = 0;

	rcu_read_lock();
	for_each_process_thread(p, t) {
		if (n < cap)
			buf[n] = get_task_struct(t);
		n++;
	}
	rcu_read_unlock();
	return n;
}

/*
 * The memory cgroup @task's own allocations are charged to, with a
 * reference: its cgroup (for a user task, the cgroup it is in: the memory
 * controller moves a process's threads together), or the root cgroup, which
 * has no limit, for a kernel thread, whose own allocations are charged to
 * none. NULL without memory cgroups. Does not sleep: it takes no reference
 * on the task's mm, whose last put would tear the mm down here, and Create
 * calls it with the region table's mutex held.
 */
struct mem_cgroup *ws_task_memcg_get(struct task_struct *task)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;

	if (mem_cgroup_disabled())
		return NULL;
	if (task->flags & PF_KTHREAD)
		return root_mem_cgroup;
	rcu_read_lock();
	do {
		memcg = mem_cgroup_from_task(task) ?: root_mem_cgroup;
	} while (!css_tryget(&memcg->css));
	rcu_read_unlock();
	return memcg;
#else
	/* root_mem_cgroup is declared only with CONFIG_MEMCG. */
	return NULL;
#endif
}

struct mem_cgroup *ws_set_active_memcg(struct mem_cgroup *memcg)
{
	return set_active_memcg(memcg);
}

void ws_memcg_put(struct mem_cgroup *memcg)
{
	mem_cgroup_put(memcg);
}

/* The layout test runs in world_storage_kunit.ko only. */
#ifdef WS_KUNIT_MODULE
#define WS_FIELD(type, field) { #type "." #field, offsetof(struct type, field) }

static const struct {
	const char *name;
	size_t offset;
} ws_c_layout[] = {
	WS_FIELD(task_struct, pid),
	WS_FIELD(task_struct, tgid),
	WS_FIELD(task_struct, flags),
	WS_FIELD(tracepoint, name),
	WS_FIELD(module, name),
	WS_FIELD(notifier_block, notifier_call),
	WS_FIELD(world_storage_props, type),
	WS_FIELD(world_storage_props, owner),
	WS_FIELD(world_storage_props, size),
	WS_FIELD(world_storage_props, align),
	WS_FIELD(world_storage_props, constructor),
	WS_FIELD(world_storage_props, destructor),
	WS_FIELD(world_storage_props, arg),
	WS_FIELD(world_storage_record_v3, task),
	WS_FIELD(world_storage_record_v3, entries),
	WS_FIELD(world_storage_entries_v3, nr),
	WS_FIELD(world_storage_entries_v3, base),
	WS_FIELD(world_storage_entries_v3, entry),
	WS_FIELD(world_storage_entry_v3, object),
	WS_FIELD(world_storage_entry_v3, state),
	{ "world_storage_entry_v3.sizeof", sizeof(struct world_storage_entry_v3) },
	{ "world_storage_handles_v3.sizeof", sizeof(world_storage_handles_v3) },
};

size_t ws_layout_c_offset(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ws_c_layout); i++)
		if (!strcmp(ws_c_layout[i].name, name))
			return ws_c_layout[i].offset;
	return SIZE_MAX;
}
#endif /* WS_KUNIT_MODULE */

/*
 * Lookup counters: per CPU, so the lookup paths never write a shared cache
 * line. Summed only when debugfs is read.
 */
DEFINE_PER_CPU(unsigned long, world_storage_local_lookups_v3);
#ifndef WS_KUNIT_MODULE
EXPORT_PER_CPU_SYMBOL_GPL(world_storage_local_lookups_v3);
#endif
static DEFINE_PER_CPU(unsigned long, ws_remote_lookups);

void ws_count_lookup_local(void)
{
	this_cpu_inc(world_storage_local_lookups_v3);
}

void ws_count_lookup_remote(void)
{
	this_cpu_inc(ws_remote_lookups);
}

void ws_sum_lookups(unsigned long *local, unsigned long *remote)
{
	int cpu;

	*local = 0;
	*remote = 0;
	for_each_possible_cpu(cpu) {
		*local += per_cpu(world_storage_local_lookups_v3, cpu);
		*remote += per_cpu(ws_remote_lookups, cpu);
	}
}

/*
 * The handle published at each region slot: written by the region table
 * (rust/region/slots.rs) under its mutex, cleared first when Destroy starts,
 * read by the fast path with READ_ONCE(). A world's entry keeps its handle
 * until Destroy sweeps the object, so the fast path needs both to agree.
 */
u64 world_storage_handles_v3[WS_MAX_REGIONS] __read_mostly = {
	[0 ... WS_MAX_REGIONS - 1] = WORLD_STORAGE_HANDLE_INVALID
};
#ifndef WS_KUNIT_MODULE
EXPORT_SYMBOL_GPL(world_storage_handles_v3);
#endif

/*
 * The local lookup's fast path.
 *
 * Each CPU points at the record of the task that last looked up on it
 * (ws_no_record when none); the record carries its task, so a reader
 * checks it against current with one compare. The pointer is read with
 * preemption off: rcu_read_lock() does not pin the CPU under preemptible
 * RCU, and preempt_disable() is also the read side that keeps the record
 * and its entry array from being freed (they are freed with call_rcu()
 * after a record is forgotten on every CPU, and RCU waits for
 * preemption-disabled sections too).
 *
 * Writers of a CPU's pointer: the slow path of a lookup on that CPU,
 * only ever for current (task context, or an interrupt answering for the
 * interrupted task, which is the same record), and ws_current_forget()'s
 * cmpxchg back to ws_no_record. A record leaving the table has its task
 * cleared, then a full barrier (ws_current_clear_task()), then is
 * forgotten on every CPU; the slow path stores the pointer, then a full
 * barrier, then re-checks the task and undoes the store if it was
 * cleared: one side sees the other. The Rust side skips the forget for a
 * record that no slow path ever marked (POINTED_AT in WorldRecord::flags, set
 * before the slow path's barrier, read after the clearing one): the same
 * pairing makes that slow path see the task cleared.
 */
static struct world_storage_entries_v3 ws_no_entries;
static struct world_storage_record_v3 ws_no_record = { .task = NULL, .entries = &ws_no_entries };
DEFINE_PER_CPU(struct world_storage_record_v3 *, world_storage_current_v3) = &ws_no_record;
#ifndef WS_KUNIT_MODULE
EXPORT_PER_CPU_SYMBOL_GPL(world_storage_current_v3);
#endif

/**
 * world_storage_lookup_local() - the current world's object
 * @handle: the region
 * @object: receives the object
 *
 * The fast path, world_storage_lookup_local_fast() in
 * include/world_storage.h (which clients may inline): this CPU's record
 * pointer, its task, the entry of the handle's slot and its handle; no
 * call. Anything else (another task's or no record, an entry without the
 * handle, a NULL @object) goes to the slow path (exports.rs, rust/world/),
 * which answers every case.
 *
 * Return: see include/world_storage.h.
 */
int world_storage_lookup_local(u64 handle, void **object)
{
	if (likely(world_storage_lookup_local_fast(handle, object)))
		return 0;
	return ws_lookup_local_slow(handle, object);
}
#ifndef WS_KUNIT_MODULE
EXPORT_SYMBOL_GPL(world_storage_lookup_local);
#endif

bool ws_current_set(struct world_storage_record_v3 *record)
{
	bool kept = true;

	preempt_disable_notrace();
	this_cpu_write(world_storage_current_v3, record);
	/* Pairs with the barrier in ws_current_forget(). */
	smp_mb();
	if (READ_ONCE(record->task) != current) {
		cmpxchg(this_cpu_ptr(&world_storage_current_v3), record, &ws_no_record);
		kept = false;
	}
	preempt_enable_notrace();
	return kept;
}

void ws_current_clear_task(struct world_storage_record_v3 *record)
{
	WRITE_ONCE(record->task, NULL);
	/* Pairs with the barrier in ws_current_set(). */
	smp_mb();
}

void ws_current_forget(struct world_storage_record_v3 *record)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct world_storage_record_v3 **c = per_cpu_ptr(&world_storage_current_v3, cpu);

		if (READ_ONCE(*c) == record)
			cmpxchg(c, record, &ws_no_record);
	}
}

void *ws_block_alloc(struct kmem_cache *cache, size_t size, gfp_t gfp)
{
	if (cache)
		return kmem_cache_zalloc(cache, gfp);
	return kzalloc(size, gfp);
}

void ws_block_free(void *block)
{
	kfree(block);
}

/*
 * An entry array a record's growth allocates: its RCU head, for the free
 * after its replacement, before it (a record's first array, in its block,
 * has none).
 */
struct ws_grown_entries {
	struct rcu_head rcu;
	struct world_storage_entries_v3 es;
};

struct world_storage_entries_v3 *ws_entries_new(u32 nr, u32 base, gfp_t gfp)
{
	struct ws_grown_entries *grown = kmalloc(struct_size(grown, es.entry, nr), gfp);
	struct world_storage_entries_v3 *es;
	u32 i;

	if (!grown)
		return NULL;
	es = &grown->es;
	es->nr = nr;
	es->base = base;
	for (i = 0; i < nr; i++) {
		es->entry[i].object = NULL;
		es->entry[i].state = 0;
	}
	return es;
}

static void ws_entries_free_rcu_fn(struct rcu_head *rcu)
{
	kfree(container_of(rcu, struct ws_grown_entries, rcu));
}

void ws_entries_free_rcu(struct world_storage_entries_v3 *es)
{
	call_rcu(&container_of(es, struct ws_grown_entries, es)->rcu, ws_entries_free_rcu_fn);
}

void ws_entries_free(struct world_storage_entries_v3 *es)
{
	kfree(container_of(es, struct ws_grown_entries, es));
}

/*
 * Teardowns deferred out of contexts that cannot take a spinlock_t (see
 * deferred.rs): records are linked on a lock-free list, which any context
 * may add to; the first addition to an empty list queues the irq_work,
 * which queues the work item, which takes the whole list and tears it down
 * in process context.
 */
static LLIST_HEAD(ws_deferred_teardowns);

static void ws_deferred_work_fn(struct work_struct *work)
{
	ws_run_deferred_teardowns(llist_del_all(&ws_deferred_teardowns));
}

static DECLARE_WORK(ws_deferred_work, ws_deferred_work_fn);

static void ws_deferred_irq_work_fn(struct irq_work *work)
{
	schedule_work(&ws_deferred_work);
}

static DEFINE_IRQ_WORK(ws_deferred_irq_work, ws_deferred_irq_work_fn);

bool ws_may_take_spinlock(void)
{
	return preemptible();
}

void ws_defer_teardown(struct llist_node *node)
{
	if (llist_add(node, &ws_deferred_teardowns))
		irq_work_queue(&ws_deferred_irq_work);
}

void ws_flush_deferred(void)
{
	irq_work_sync(&ws_deferred_irq_work);
	flush_work(&ws_deferred_work);
	/* The frees those teardowns queued, then the wake-ups the frees queued. */
	rcu_barrier();
	irq_work_sync(&ws_drain_irq_work);
	irq_work_sync(&ws_warn_irq_work);
}
