// SPDX-License-Identifier: GPL-2.0
/*
 * The trace events of world storage (world_storage_trace.h), created here,
 * and one wrapper per event for the Rust crate, which cannot expand the
 * trace_*() inlines (rust/trace.rs calls them). A wrapper costs a call even
 * with its event disabled: the crate calls them only on cold paths.
 */

#include "world_storage_glue.h"

#define CREATE_TRACE_POINTS
#include "world_storage_trace.h"

/**
 * ws_trace_region_create() - trace event region_create
 * @handle: the region's handle, just published by Create
 * @size: the size of its objects in bytes
 * @align: their alignment in bytes
 * @owner: the owning module's name, "-" for built-in code
 * @ctor: whether it has a constructor
 * @dtor: whether it has a destructor
 *
 * Context: any.
 */
void ws_trace_region_create(u64 handle, u32 size, u32 align, const char *owner, bool ctor,
			    bool dtor)
{
	trace_region_create(handle, size, align, owner, ctor, dtor);
}

/**
 * ws_trace_region_destroy() - trace event region_destroy
 * @handle: the region's handle
 * @objects: the objects its Destroy destructed (not those that exits and
 *           releases destructed meanwhile)
 * @waited_us: microseconds its Destroy waited for lookups (a grace period)
 *             and remote references to drain
 *
 * Context: any.
 */
void ws_trace_region_destroy(u64 handle, u64 objects, u64 waited_us)
{
	trace_region_destroy(handle, objects, waited_us);
}

/**
 * ws_trace_constructor_failure() - trace event constructor_failure
 * @wid: the world left without the object
 * @handle: the object's region
 * @err: the constructor's error, or -ENOMEM for an allocation
 *
 * Context: any.
 */
void ws_trace_constructor_failure(pid_t wid, u64 handle, int err)
{
	trace_constructor_failure(wid, handle, err);
}

/**
 * ws_trace_task_failed() - trace event task_failed
 * @wid: a new task in whose creation a constructor or an allocation failed
 * @fate: "killed", "kept_kernel_task" or "kept_init_thread"
 *
 * Context: any.
 */
void ws_trace_task_failed(pid_t wid, const char *fate)
{
	trace_task_failed(wid, fate);
}

/**
 * ws_trace_bad_release() - trace event bad_release
 * @wid: the world ID the release named
 * @object: the pointer it released, which holds no reference (never read)
 *
 * Context: any, under rq->lock too.
 */
void ws_trace_bad_release(pid_t wid, const void *object)
{
	trace_bad_release(wid, object);
}

/**
 * ws_trace_owner_unload() - trace event owner_unload
 * @owner: the unloading module's name
 * @handle: a region it did not destroy, which is destroyed now
 *
 * Context: any.
 */
void ws_trace_owner_unload(const char *owner, u64 handle)
{
	trace_owner_unload(owner, handle);
}
