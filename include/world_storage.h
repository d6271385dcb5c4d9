/* SPDX-License-Identifier: GPL-2.0 */
/*
 * world_storage.h - per-world (per-task) storage for kernel modules
 *
 * A region gives every task ("world") its own block of memory of one size
 * and alignment. Build your module with KBUILD_EXTRA_SYMBOLS pointing at
 * world_storage's Module.symvers; see "Building a client" in
 * Documentation/world-storage.rst.
 */
#ifndef _WORLD_STORAGE_H
#define _WORLD_STORAGE_H

#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/types.h>

struct module;
struct task_struct;

/**
 * enum world_storage_type - kinds of region
 * @WORLD_STORAGE_TYPE_SIMPLE: one plain block of memory per world
 */
enum world_storage_type {
	WORLD_STORAGE_TYPE_SIMPLE = 0,
};

/**
 * typedef world_storage_ctor_t - constructs one world's object
 * @wid: the world's ID (global TID) as last seen: a thread that calls
 * execve() takes its leader's TID, so the destructor may get another ID
 * @object: the object, @size bytes, not zeroed
 * @size: the region's object size
 * @arg: &world_storage_props.arg
 *
 * Must not block: it runs in the task-creation hook under rcu_read_lock(),
 * and in world_storage_create() with world storage's region-table mutex
 * held (so it must not call world_storage_create() or
 * world_storage_destroy()).
 *
 * Return: 0, or a negative errno to fail (see world_storage_create()).
 */
typedef int (*world_storage_ctor_t)(pid_t wid, void *object, u32 size, void *arg);

/**
 * typedef world_storage_dtor_t - destructs one world's object
 * @wid: the world's ID (global TID) as last seen (after an execve() from a
 * thread, its new ID)
 * @object: the object
 * @size: the region's object size
 * @arg: &world_storage_props.arg
 *
 * Must not block: it runs from the exit hook, from the last
 * world_storage_release() (or a work item it defers to), from
 * world_storage_destroy() under rcu_read_lock(), and from a failing
 * world_storage_create() with the region-table mutex held (so it must not
 * call world_storage_create() or world_storage_destroy()).
 */
typedef void (*world_storage_dtor_t)(pid_t wid, void *object, u32 size, void *arg);

/**
 * struct world_storage_props - what a region is
 * @type: must be %WORLD_STORAGE_TYPE_SIMPLE
 * @owner: the module holding @constructor and @destructor (THIS_MODULE);
 *	if it unloads without destroying the region, the region is destroyed
 *	for it, with a warning; its unload waits for a Destroy of the region
 *	by another module that is under way
 * @size: bytes per object, 1 to 1 MiB
 * @align: alignment of every object, a power of two up to PAGE_SIZE
 * @constructor: runs on every new object; NULL: objects are zero-filled
 * @destructor: runs on every object before it is freed; NULL: none
 * @arg: passed to @constructor and @destructor
 */
struct world_storage_props {
	enum world_storage_type type;
	struct module *owner;
	u32 size;
	u32 align;
	world_storage_ctor_t constructor;
	world_storage_dtor_t destructor;
	void *arg;
};

/* A handle that never names a region. */
#define WORLD_STORAGE_HANDLE_INVALID ((u64)-1)

/**
 * world_storage_create() - create a region
 * @props: the region's properties
 * @handle: receives the region's handle; on failure,
 *	%WORLD_STORAGE_HANDLE_INVALID (unless @handle is NULL)
 *
 * Every existing world has its object constructed before this returns; every
 * world created later gets one before it first runs. If a constructor fails,
 * every object already constructed is destructed and freed. Process context;
 * may block.
 *
 * Objects and their per-world bookkeeping are charged to memory cgroups, and
 * so is what the constructor allocates with __GFP_ACCOUNT: those built here
 * to each world's own cgroup (a kernel thread's to the root cgroup); a new
 * world's to the forking task's cgroup, without reclaim and never past its
 * memory.max (a charge that does not fit fails the new task as a constructor
 * failure does: a user task is killed before it runs). A world's cgroup at
 * its memory.max reclaims for Create as for the world's own allocations,
 * its OOM killer included: Create may kill tasks of that cgroup.
 *
 * Return: 0; -EINVAL for a NULL argument, an unknown type, size 0 or above
 * 1 MiB, or an alignment that is not a power of two or is above PAGE_SIZE;
 * -ENOMEM (also when a world's memory cgroup is at its memory.max and
 * neither reclaim nor its OOM killer makes room); -ENOSPC when 1024 regions
 * exist; or the constructor's error.
 */
int world_storage_create(const struct world_storage_props *props, u64 *handle);

/**
 * world_storage_destroy() - destroy a region
 * @handle: the region
 *
 * Lookups of @handle fail from the moment this starts. Waits until every
 * reference taken by world_storage_lookup() is released, then runs the
 * destructor on every object and frees it (no RCU callback to wait for,
 * lazy or not). Process context; may
 * block for long. If another Destroy of the region is under way (another
 * module's, or its owner's unload), waits until that one has run every
 * destructor, then fails: on return no destructor of the region runs any
 * more.
 *
 * Return: 0, or -EINVAL if @handle names no region (also after waiting for
 * a Destroy under way).
 */
int world_storage_destroy(u64 handle);

/**
 * world_storage_lookup_local() - the current world's object
 * @handle: the region
 * @object: receives the object
 *
 * Any context, including hard IRQ (where it answers for the interrupted
 * task); takes no lock. No release. The object stays valid while the region
 * exists, until the current task's exit hook runs (the sched_process_exit
 * tracepoint, early in do_exit(), before exit_mm() and exit_files()): there
 * its destructor runs, unless a remote reference is held, and its memory is
 * freed right after. So do not keep the pointer for code that runs
 * later in the task's exit: a file's ->release called when the exiting task
 * closes its files, or task_work, would use a destructed and freed object
 * (and world_storage_lookup_local() there returns -ENOENT). A task keeps its
 * objects across execve(), even when the exec'ing thread takes its leader's
 * TID.
 *
 * Return: 0; -EINVAL for a bad @handle or a NULL @object; -ENOENT if the
 * world has no object (an idle task, a task that exited, a kernel thread
 * or a thread of init whose constructor failed) or the current task has
 * started to exit (from its exit hook on: file release and task_work in an
 * exiting task included).
 */
int world_storage_lookup_local(u64 handle, void **object);

/*
 * What world_storage_lookup_local_inline() reads: the module's records as
 * seen by its fast path, layout version 3. The version is in the names, so
 * a client built against another layout fails to load. Not an interface
 * of its own: use only through world_storage_lookup_local_inline().
 */
struct world_storage_entry_v3 {
	void *object;
	u64 state;	/* bits 63-32: the generation of the object's region */
};

struct world_storage_entries_v3 {
	u32 nr;		/* entries, at most 1024, the region slots */
	u32 base;	/* the slot of entry[0] */
	struct world_storage_entry_v3 entry[];
};

struct world_storage_record_v3 {
	struct task_struct *task;
	struct world_storage_entries_v3 *entries;
};

/* The handle published at each region slot; invalid from Destroy's start. */
extern u64 world_storage_handles_v3[1024];

DECLARE_PER_CPU(struct world_storage_record_v3 *, world_storage_current_v3);
DECLARE_PER_CPU(unsigned long, world_storage_local_lookups_v3);

/* The fast path: true, with *@object set, if it answered. */
static __always_inline bool world_storage_lookup_local_fast(u64 handle, void **object)
{
	const struct world_storage_record_v3 *r;
	const struct world_storage_entries_v3 *es;
	u32 slot = (u32)handle, i;
	bool hit = false;

	/* Pins the CPU's pointer and keeps the record and entries alive. */
	preempt_disable_notrace();
	r = this_cpu_read(world_storage_current_v3);
	if (likely(READ_ONCE(r->task) == current && object)) {
		es = READ_ONCE(r->entries);
		/* Below base it wraps: base + nr is at most 1024, the slots. */
		i = slot - es->base;
		/*
		 * Acquire: pairs with the store of the state after the object.
		 * The slot's published handle: Destroy clears it first.
		 */
		if (likely(i < es->nr &&
			   smp_load_acquire(&es->entry[i].state) >> 32 == handle >> 32 &&
			   READ_ONCE(world_storage_handles_v3[slot]) == handle)) {
			*object = READ_ONCE(es->entry[i].object);
			this_cpu_inc(world_storage_local_lookups_v3);
			hit = true;
		}
	}
	preempt_enable_notrace();
	return hit;
}

/**
 * world_storage_lookup_local_inline() - world_storage_lookup_local(), inlined
 * @handle: the region
 * @object: receives the object
 *
 * The same call, with its fast path inlined into the caller (no call when
 * this CPU last looked up for the current task); anything else goes to
 * world_storage_lookup_local().
 *
 * Return: as world_storage_lookup_local().
 */
static __always_inline int world_storage_lookup_local_inline(u64 handle, void **object)
{
	if (likely(world_storage_lookup_local_fast(handle, object)))
		return 0;
	return world_storage_lookup_local(handle, object);
}

/**
 * world_storage_lookup() - another world's object, with a reference
 * @wid: the world's ID (global TID)
 * @handle: the region
 * @object: receives the object
 *
 * While the reference is held, the object is neither destructed nor freed,
 * even if the world exits or the region is being destroyed. Drop it with
 * world_storage_release(). Never blocks.
 *
 * Mind the order: @wid comes first, unlike world_storage_lookup_local(@handle,
 * @object). A swapped call compiles without a warning (the u64 handle is
 * truncated to a pid_t) and fails at run time with -EINVAL or -ESRCH.
 *
 * Return: 0; -EINVAL for a bad @handle or a NULL @object; -ESRCH if no live
 * world has ID @wid; -ENOENT if the world has no object; -EOVERFLOW if the
 * object already has 2^30 references outstanding (a caller leaking them).
 */
int world_storage_lookup(pid_t wid, u64 handle, void **object);

/**
 * world_storage_lookup_task() - a task's object, with a reference
 * @task: the task
 * @handle: the region
 * @object: receives the object
 *
 * As world_storage_lookup(), but names the world by task, which cannot be
 * confused with a later task of the same ID. Release with
 * world_storage_release(tid, *@object), where tid is task_pid_nr(@task) read
 * no later than the lookup: the world's ID then, or the one it takes by an
 * execve() from a thread, is accepted, even after the task has exited;
 * read later, task_pid_nr() of an exited group leader may give the TID
 * de_thread() swapped in after its exit, which is refused.
 *
 * Return: as world_storage_lookup(); -ESRCH if @task has exited.
 */
int world_storage_lookup_task(struct task_struct *task, u64 handle, void **object);

/**
 * world_storage_release() - drop a reference taken by a lookup
 * @wid: an ID the world had: the one the object was looked up with, or the
 * world's ID now (they differ after a thread's execve(), which gives it its
 * leader's TID). Once the world has exited, only the ID it had when world
 * storage first saw it or the one it took by an execve(); any other ID,
 * even one the task had after its exit or one now reused by another task,
 * is refused.
 * @object: the object
 *
 * Works after the world has exited; the last release of an exited world's
 * object runs its destructor, at once where a spinlock_t may be taken, or
 * else soon after in process context. Any context, hard IRQ and under a
 * raw_spinlock_t included. Never blocks.
 *
 * References are counted per object, not per holder: every holder of a
 * world's object gets the same pointer, and a release is refused only when
 * the object has no reference outstanding. So a double release (or a
 * release of a world_storage_lookup_local() pointer) while another holder
 * has a reference to the same object is not detected: it returns 0 and
 * consumes that holder's reference. The object may then be destructed and
 * freed (at its world's exit, or by Destroy) while the other holder still
 * uses it, and that holder's own release returns -EINVAL. Release exactly
 * what you looked up, once; the safe Rust API's Ref does.
 *
 * Return: 0, or -EINVAL (with a one-time warning and the trace event
 * world_storage:bad_release) if @object is not an object of @wid with a
 * reference outstanding: a foreign pointer, a world ID the world did not
 * have, or a double release while no other reference to that object is
 * outstanding.
 */
int world_storage_release(pid_t wid, void *object);

/**
 * typedef world_storage_visit_t - a visit's callback
 * @wid: the world's ID (its TID; after a thread's execve(), the one it took,
 *	so one visit may pass the same @wid for two worlds: the leader that
 *	exec'd away, then the thread that took its TID)
 * @object: the world's object, valid until this returns
 * @arg: the @arg given to world_storage_for_each()
 *
 * Runs in the caller's context, outside RCU and under no lock of world
 * storage: it may sleep, look up and release objects (of this region too)
 * and visit other regions, but must not destroy this region (its Destroy
 * waits for the visit: a deadlock). It must not keep @object past its
 * return without a reference of its own (world_storage_lookup()), nor
 * release @object: the visit holds it, not the callback (a release would
 * take another holder's reference, as a double release does).
 *
 * Return: 0 to go on; any other value stops the visit, which returns it.
 */
typedef int (*world_storage_visit_t)(pid_t wid, void *object, void *arg);

/**
 * world_storage_for_each() - visit every world's object of a region
 * @handle: the region
 * @fn: called once per world visited
 * @arg: passed to @fn
 *
 * Calls @fn on the object of each live world that holds one, one world at
 * a time, in no particular order:
 *
 * - a world that holds its object from the start of the visit until the
 *   visit reaches it is visited exactly once (unless the region's Destroy
 *   begins meanwhile: see below);
 * - a world created or exiting during the visit is visited at most once,
 *   and only while it holds its object (not while its constructor runs);
 * - no world is visited after world_storage_for_each() returns.
 *
 * While @fn runs, its object is held as a world_storage_lookup() reference
 * holds it: if the world exits meanwhile, the object is destructed only
 * after @fn returns. Fork and exit never wait for a visit; world creation
 * and exit run concurrently with it. A world_storage_destroy() of the
 * region waits until the visit returns; the visit stops at the next world
 * it reaches once that Destroy has begun (the handle fails from then on, as
 * for a lookup) and returns -EINVAL (if no world is left to reach, it
 * returns as it would have). Each world visited counts one reference of its
 * object while @fn runs.
 *
 * Context: process context; may sleep (and @fn may). Takes no lock that
 * fork or exit takes.
 *
 * Return: 0 once every world was reached; the first non-zero value @fn
 * returned (the visit stopped there); -EINVAL for a bad @handle or a NULL
 * @fn, or once the region's Destroy has begun (the visit stopped there);
 * -EOVERFLOW if a world's object or record has too many references
 * outstanding (the visit stopped there); -ENODEV if world storage is
 * unloading.
 */
int world_storage_for_each(u64 handle, world_storage_visit_t fn, void *arg);

#endif /* _WORLD_STORAGE_H */
