/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C glue of world_storage.ko, called from its Rust half: wrappers for
 * what Rust cannot call directly (static inline functions and macros).
 */
#ifndef WORLD_STORAGE_GLUE_H
#define WORLD_STORAGE_GLUE_H

#include <linux/refcount.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

struct llist_node;
struct task_struct;
struct xarray;

/* The two kinds of xarray, each with its own lockdep class. */
void ws_xa_init_worlds(struct xarray *xa);
void ws_xa_init_index(struct xarray *xa);
unsigned long ws_xa_lock_irqsave(struct xarray *xa);
void ws_xa_unlock_irqrestore(struct xarray *xa, unsigned long flags);

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

void ws_tracepoint_synchronize_unregister(void);

/* The key of @task's world record: distinct for tasks alive together. */
unsigned long ws_task_key(const struct task_struct *task);

/* @p's offset from the direct map's base (modulo 2^64). */
unsigned long ws_direct_map_offset(const void *p);

/* The one-time warning of a bad release; safe under rq->lock. */
void ws_warn_bad_release(void);

/*
 * Stores up to @cap threads, each with a reference, in @buf; returns how many
 * threads there were (more than @cap: call again with more room).
 */
size_t ws_collect_threads(struct task_struct **buf, size_t cap);

/* Per-CPU lookup counters, and their sums over all CPUs. */
void ws_count_lookup_local(void);
void ws_count_lookup_remote(void);
void ws_sum_lookups(unsigned long *local, unsigned long *remote);

/*
 * What the local lookup's fast path reads (struct world_storage_record_v1
 * and its entries, in include/world_storage.h) is mirrored in world.rs
 * (`WorldRecord`, `EntryArray`, `Entry`; the layout test checks the
 * offsets). Their rules are written there, at the fields.
 */
#define WS_ENTRY_EMPTY ((u64)-1)

/*
 * The slow path of world_storage_lookup_local(), in exports.rs; the per-CPU
 * pointer to current's record: set by the slow path (false if the record
 * left the table meanwhile: not kept), forgotten on every CPU when the
 * record leaves the table (which clears its task first).
 */
int ws_lookup_local_slow(u64 handle, void **object);
bool ws_current_set(struct world_storage_record_v1 *record);
void ws_current_forget(struct world_storage_record_v1 *record);

/*
 * Entry arrays: a new one with @nr empty entries (NULL without memory,
 * charged to the memory cgroup); freed after a grace period, or at once.
 */
struct world_storage_entries_v1 *ws_entries_new(u32 nr, gfp_t gfp);
void ws_entries_free_rcu(struct world_storage_entries_v1 *es);
void ws_entries_free(struct world_storage_entries_v1 *es);

/*
 * Deferred teardowns: whether this context may take a spinlock_t; queue a
 * record's link (any context); wait for every queued teardown, the RCU
 * frees they queued and every deferred wake-up (may sleep). The work item
 * calls ws_run_deferred_teardowns(), in deferred.rs, with the list it took.
 */
bool ws_may_take_spinlock(void);
void ws_defer_teardown(struct llist_node *node);
void ws_flush_deferred(void);
void ws_run_deferred_teardowns(struct llist_node *list);

/* offsetof() of "struct.field", or SIZE_MAX if not in the table. */
size_t ws_layout_c_offset(const char *name);

#endif /* WORLD_STORAGE_GLUE_H */
