// SPDX-License-Identifier: GPL-2.0

//! What world storage reads of a task: its key in the world table, its world
//! ID, its kind, and the task that has a given world ID now.

use crate::glue::ws_task_key;
use core::ptr;
use kernel::{
    bindings,
    sync::rcu,
    task::{Pid, Task},
};

/// The key of `task`'s record in the world table: its offset in the direct
/// map over C's `sizeof(struct task_struct)`, distinct for tasks that are
/// alive together (their memory does not overlap) and dense, so
/// neighbouring tasks share the table's leaf nodes (keys below RAM size
/// over task size: 3 levels with 2 GiB, 5 with 1 TiB). A
/// task keeps its address for life, whatever TID it takes (a thread that
/// calls `execve()` takes its leader's), and its record leaves the table at
/// its exit hook, before the memory can hold another task.
pub(crate) fn key(task: &Task) -> usize {
    // SAFETY: no requirement; only the address is used.
    unsafe { ws_task_key(task.as_ptr()) as usize }
}

/// The global TID of `task` now: its world ID.
pub(crate) fn world_id(task: &Task) -> Pid {
    task.pid()
}

/// The `flags` word of `task`, read once.
fn flags(task: &Task) -> u32 {
    // SAFETY: `task` is a valid task; `flags` is a plain word that its owner
    // updates, read here once without tearing.
    unsafe { ptr::read_volatile(&raw const (*task.as_ptr()).flags) }
}

/// Whether `task` has started to exit (`PF_EXITING` is set before its exit
/// hook runs).
pub(crate) fn is_exiting(task: &Task) -> bool {
    flags(task) & bindings::PF_EXITING != 0
}

/// Whether `task` is a kernel thread or a user worker (io_uring and the
/// like).
pub(crate) fn is_kernel_task(task: &Task) -> bool {
    flags(task) & (bindings::PF_KTHREAD | bindings::PF_USER_WORKER) != 0
}

/// Whether `task` is a thread of global init (PID 1), which ignores SIGKILL.
pub(crate) fn is_global_init(task: &Task) -> bool {
    task.tgid() == 1
}

/// The task whose global TID is `tid` now, valid while `guard` is held.
pub(crate) fn by_world_id<'a>(tid: Pid, _guard: &'a rcu::Guard) -> Option<&'a Task> {
    // SAFETY: `init_pid_ns` is the kernel's static initial namespace;
    // `find_pid_ns()` and `pid_task()` need only RCU, held by `_guard`, and
    // accept any number (NULL for none).
    let task = unsafe {
        bindings::pid_task(
            bindings::find_pid_ns(tid, &raw mut bindings::init_pid_ns),
            bindings::pid_type_PIDTYPE_PID,
        )
    };
    // SAFETY: a task found under RCU is freed only a grace period after it
    // leaves the pid hash; `_guard` holds this grace period. `Task` is a
    // transparent wrapper of `task_struct`.
    unsafe { task.cast::<Task>().as_ref() }
}
