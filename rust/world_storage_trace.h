/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trace events of world storage: /sys/kernel/tracing/events/world_storage/
 * (Documentation/world-storage.rst, "Trace events"). world_storage_trace.c
 * creates them (CREATE_TRACE_POINTS) and wraps each in a ws_trace_*()
 * function for the Rust crate (rust/trace.rs). Every event is on a cold
 * path: Create, Destroy, an owner's unload, and the failures of the fork,
 * exit and lookup paths, never those paths themselves.
 *
 * Built a second time into world_storage_kunit.ko (WS_KUNIT_MODULE), which
 * is loaded beside world_storage.ko: its events are a system of their own,
 * world_storage_kunit.
 *
 * Kbuild gives the files that include this one -I of this directory:
 * define_trace.h includes it again by TRACE_INCLUDE_PATH/TRACE_INCLUDE_FILE.
 */
#undef TRACE_SYSTEM
#ifdef WS_KUNIT_MODULE
#define TRACE_SYSTEM world_storage_kunit
#else
#define TRACE_SYSTEM world_storage
#endif

#if !defined(_WORLD_STORAGE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _WORLD_STORAGE_TRACE_H

#include <linux/tracepoint.h>
#include <linux/types.h>

/* A region was published by Create (before Create's constructors run). */
TRACE_EVENT(region_create,
	TP_PROTO(u64 handle, u32 size, u32 align, const char *owner, bool ctor, bool dtor),
	TP_ARGS(handle, size, align, owner, ctor, dtor),
	TP_STRUCT__entry(
		__field(u64, handle)
		__field(u32, size)
		__field(u32, align)
		__string(owner, owner)
		__field(bool, ctor)
		__field(bool, dtor)
	),
	TP_fast_assign(
		__entry->handle = handle;
		__entry->size = size;
		__entry->align = align;
		__assign_str(owner);
		__entry->ctor = ctor;
		__entry->dtor = dtor;
	),
	TP_printk("handle=%#llx size=%u align=%u owner=%s ctor=%s dtor=%s",
		  __entry->handle, __entry->size, __entry->align, __get_str(owner),
		  __entry->ctor ? "yes" : "no", __entry->dtor ? "yes" : "no")
);

/*
 * A region's Destroy (or its owner's unload, the module's unload, a failed
 * Create) has finished: objects it destructed, and how long it waited for
 * lookups and remote references to drain.
 */
TRACE_EVENT(region_destroy,
	TP_PROTO(u64 handle, u64 objects, u64 waited_us),
	TP_ARGS(handle, objects, waited_us),
	TP_STRUCT__entry(
		__field(u64, handle)
		__field(u64, objects)
		__field(u64, waited_us)
	),
	TP_fast_assign(
		__entry->handle = handle;
		__entry->objects = objects;
		__entry->waited_us = waited_us;
	),
	TP_printk("handle=%#llx objects=%llu waited_us=%llu",
		  __entry->handle, __entry->objects, __entry->waited_us)
);

/* World @wid got no object of region @handle: its constructor or an allocation failed. */
TRACE_EVENT(constructor_failure,
	TP_PROTO(pid_t wid, u64 handle, int err),
	TP_ARGS(wid, handle, err),
	TP_STRUCT__entry(
		__field(pid_t, wid)
		__field(u64, handle)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->wid = wid;
		__entry->handle = handle;
		__entry->err = err;
	),
	TP_printk("wid=%d handle=%#llx err=%d", __entry->wid, __entry->handle, __entry->err)
);

/* What became of new task @wid after a constructor failure. */
TRACE_EVENT(task_failed,
	TP_PROTO(pid_t wid, const char *fate),
	TP_ARGS(wid, fate),
	TP_STRUCT__entry(
		__field(pid_t, wid)
		__string(fate, fate)
	),
	TP_fast_assign(
		__entry->wid = wid;
		__assign_str(fate);
	),
	TP_printk("wid=%d fate=%s", __entry->wid, __get_str(fate))
);

/* A release of @object for world @wid was refused (-EINVAL). */
TRACE_EVENT(bad_release,
	TP_PROTO(pid_t wid, const void *object),
	TP_ARGS(wid, object),
	TP_STRUCT__entry(
		__field(pid_t, wid)
		__field(const void *, object)
	),
	TP_fast_assign(
		__entry->wid = wid;
		__entry->object = object;
	),
	TP_printk("wid=%d object=%p", __entry->wid, __entry->object)
);

/* Module @owner is unloading and left region @handle, which is destroyed for it. */
TRACE_EVENT(owner_unload,
	TP_PROTO(const char *owner, u64 handle),
	TP_ARGS(owner, handle),
	TP_STRUCT__entry(
		__string(owner, owner)
		__field(u64, handle)
	),
	TP_fast_assign(
		__assign_str(owner);
		__entry->handle = handle;
	),
	TP_printk("owner=%s handle=%#llx", __get_str(owner), __entry->handle)
);

#endif /* _WORLD_STORAGE_TRACE_H */

/* Outside the guard: define_trace.h includes this file again. */
#undef TRACE_INCLUDE_PATH
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE world_storage_trace
#include <trace/define_trace.h>
