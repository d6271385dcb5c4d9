/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between world_storage.ko's C glue (world_storage_glue.c) and
 * its Rust crate, in both directions:
 * - functions the glue implements for Rust: wrappers of static inline
 *   functions and macros, per-CPU state, irq_work and work items, and the
 *   trace events' wrappers (world_storage_trace.c);
 * - functions the crate implements for the glue (marked "in Rust"): the
 *   local lookup's slow path, the deferred teardowns, the tracepoint probes.
 * rust/glue.rs declares every one of them with these types, and checks the
 * Rust definitions against them; the glue checks the probes against their
 * tracepoints' prototypes.
 */
#ifndef WORLD_STORAGE_GLUE_H
#define WORLD_STORAGE_GLUE_H

#include <linux/refcount.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

struct kmem_cache;
struct linux_binprm;
struct llist_node;
struct mem_cgroup;
struct task_struct;
struct world_storage_entries_v3;
struct world_storage_record_v3;

/*
 * Takes a reference unless the count is 0 (-ESRCH) or at least @max
 * (-EOVERFLOW, instead of saturating it with a warning).
 */
int ws_refcount_get_below(refcount_t *r, unsigned int max);

/*
 * Sleeps until *counter is 0; whoever brings a count to 0 calls ws_drained()
 * (any context).
 */
void ws_wait_var_zero(unsigned long *counter);
void ws_drained(void);

/* local_irq_save() and local_irq_restore() (IrqsOff, rust/irqs_off.rs). */
unsigned long ws_local_irq_save(void);
void ws_local_irq_restore(unsigned long flags);

/* A per-CPU long (PerCpuCount, rust/percpu_count.rs): zero, or NULL. */
long __percpu *ws_percpu_count_alloc(void);
void ws_percpu_count_free(long __percpu *count);
/* this_cpu_add(): any context. */
void ws_percpu_count_add(long __percpu *count, long n);
/* The sum of every possible CPU's. */
long ws_percpu_count_sum(long __percpu *count);

void ws_tracepoint_synchronize_unregister(void);

/*
 * The trace events' wrappers (world_storage_trace.c, which has their
 * kernel-doc): one per event of world_storage_trace.h, with its arguments.
 */
void ws_trace_region_create(u64 handle, u32 size, u32 align, const char *owner, bool ctor,
			    bool dtor);
void ws_trace_region_destroy(u64 handle, u64 objects, u64 waited_us);
void ws_trace_constructor_failure(pid_t wid, u64 handle, int err);
void ws_trace_task_failed(pid_t wid, const char *fate);
void ws_trace_bad_release(pid_t wid, const void *object);
void ws_trace_owner_unload(const char *owner, u64 handle);

/*
 * In Rust (hooks.rs): the probes of task_newtask, sched_process_exec and
 * sched_process_exit, each with the world storage service as @data.
 */
void ws_probe_task_newtask(void *data, struct task_struct *task, u64 clone_flags);
void ws_probe_sched_process_exec(void *data, struct task_struct *p, pid_t old_pid,
				 struct linux_binprm *bprm);
void ws_probe_sched_process_exit(void *data, struct task_struct *p, bool group_dead);

/* The key of @task's world record: distinct for tasks alive together. */
unsigned long ws_task_key(const struct task_struct *task);

/* The one-time warning of a bad release; safe under rq->lock. */
void ws_warn_bad_release(void);

/*
 * Stores up to @cap threads, each with a reference, in @buf; returns how many
 * threads there were (more than @cap: call again with more room).
 */
size_t ws_collect_threads(struct task_struct **buf, size_t cap);

/*
 * Create's charges to each task's memory cgroup: @task's cgroup with a
 * reference (the root's for a kernel thread; NULL without memory cgroups;
 * does not sleep); set_active_memcg(), whose cgroup the
 * current task's accounted allocations are charged to until it sets the one
 * it returned again; mem_cgroup_put().
 */
struct mem_cgroup *ws_task_memcg_get(struct task_struct *task);
struct mem_cgroup *ws_set_active_memcg(struct mem_cgroup *memcg);
void ws_memcg_put(struct mem_cgroup *memcg);

/* Per-CPU lookup counters, and their sums over all CPUs. */
void ws_count_lookup_local(void);
void ws_count_lookup_remote(void);
void ws_sum_lookups(unsigned long *local, unsigned long *remote);

/*
 * What the local lookup's fast path reads (struct world_storage_record_v3
 * and its entries, in include/world_storage.h) is mirrored in rust/world/
 * (`WorldRecord` in record.rs, `EntryArray` and `Entry` in entries.rs; the
 * layout test checks the offsets). Their rules are written there, at the fields.
 */

/* Region slots: handle.rs's MAX_REGIONS. */
#define WS_MAX_REGIONS 1024

/*
 * The slow path of world_storage_lookup_local(), in Rust (exports.rs); the per-CPU
 * pointer to current's record: set by the slow path (false if the record
 * left the table meanwhile: not kept); when the record leaves the table,
 * its task is cleared, then it is forgotten on every CPU if one may point
 * at it.
 */
int ws_lookup_local_slow(u64 handle, void **object);
bool ws_current_set(struct world_storage_record_v3 *record);
void ws_current_clear_task(struct world_storage_record_v3 *record);
void ws_current_forget(struct world_storage_record_v3 *record);

/**
 * ws_block_alloc() - allocate a world block: a record with its first entry
 * array
 * @cache: the kmem cache of blocks of this size, or NULL for kmalloc()
 * @size: the block's size in bytes (at most the cache's object size)
 * @gfp: allocation flags
 *
 * Return: the zero-filled block, or NULL without memory.
 */
void *ws_block_alloc(struct kmem_cache *cache, size_t size, gfp_t gfp);

/**
 * ws_block_free() - free a block from ws_block_alloc()
 * @block: the block; kfree() takes objects of any kmem cache
 */
void ws_block_free(void *block);

/*
 * Entry arrays that replace a record's first one (which lies in the
 * record's block): a new one with @nr empty entries (NULL without memory,
 * charged to the memory cgroup); freed after a grace period, or at once.
 */
struct world_storage_entries_v3 *ws_entries_new(u32 nr, u32 base, gfp_t gfp);
void ws_entries_free_rcu(struct world_storage_entries_v3 *es);
void ws_entries_free(struct world_storage_entries_v3 *es);

/*
 * Deferred teardowns: whether this context may take a spinlock_t; queue a
 * record's link (any context); wait for every queued teardown, the RCU
 * frees they queued and every deferred wake-up (may sleep). The work item
 * calls ws_run_deferred_teardowns(), in Rust (deferred.rs), with the list it took.
 */
bool ws_may_take_spinlock(void);
void ws_defer_teardown(struct llist_node *node);
void ws_flush_deferred(void);
void ws_run_deferred_teardowns(struct llist_node *list);

/* offsetof() of "struct.field", or SIZE_MAX if not in the table. */
size_t ws_layout_c_offset(const char *name);

#endif /* WORLD_STORAGE_GLUE_H */
