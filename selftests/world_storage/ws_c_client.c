// SPDX-License-Identifier: GPL-2.0
/*
 * ws_c_client: a test client of the C API (include/world_storage.h), driven
 * by the kselftests through /sys/kernel/debug/ws_c_client/control. It makes
 * what the Rust client cannot: regions of any size and alignment (a Rust
 * type's size is always a multiple of its alignment), as many as the table
 * holds, and lookups by a task that has exited.
 *
 * Write one command; a failing command's write returns its errno. Reading
 * gives the last result line. Regions are numbered in creation order (`I`).
 *
 *   create SIZE ALIGN   a region of SIZE-byte objects (SIZE >= 8) starting
 *                       with a u64, no callbacks (zero-filled); result
 *                       "region=I handle=H"
 *   destroy I           destroys region I; it waits, with the lock dropped,
 *                       for a reference `hold` keeps
 *   destroyall          destroys every region still live (`unhold` first)
 *   leak I              forgets region I: only this module's unload
 *                       destroys it (with no callbacks, nothing crashes
 *                       if it did not)
 *   set I V             stores V in the caller's object of region I
 *   get I TID           remote lookup by TID, released at once;
 *                       result "value=V"
 *   pin TID             keeps a reference on that task (one at a time)
 *   getpinned I         world_storage_lookup_task() of the pinned task;
 *                       result "value=V"
 *   unpin               drops the task reference
 *   hold I TID          remote lookup by TID, kept until `unhold` (one at a
 *                       time)
 *   unhold              releases it; fails with the release's error
 */

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "../../include/world_storage.h"

/* More than the region table holds, so that filling it ends in -ENOSPC. */
#define MAX_HANDLES 1100

/* Everything below is guarded by `lock`. */
static DEFINE_MUTEX(lock);
/* Handles in creation order; WORLD_STORAGE_HANDLE_INVALID once destroyed. */
static u64 *handles;
static unsigned int nr_handles;
static struct task_struct *pinned;
/* The reference `hold` keeps: an object of world held_tid, or NULL. */
static void *held;
static pid_t held_tid;
static char result[64];

static int region(unsigned int i, u64 *handle)
{
	if (i >= nr_handles || handles[i] == WORLD_STORAGE_HANDLE_INVALID)
		return -ENOENT;
	*handle = handles[i];
	return 0;
}

static int create(u32 size, u32 align)
{
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = size,
		.align = align,
	};
	u64 handle;
	int err;

	/* Objects hold a u64 (set, get). */
	if (size < sizeof(u64))
		return -EINVAL;
	if (nr_handles == MAX_HANDLES)
		return -EMFILE;
	err = world_storage_create(&props, &handle);
	if (err)
		return err;
	handles[nr_handles] = handle;
	snprintf(result, sizeof(result), "region=%u handle=%#llx", nr_handles, handle);
	nr_handles++;
	return 0;
}

static int destroy(unsigned int i)
{
	u64 handle;
	int err = region(i, &handle);

	if (err)
		return err;
	handles[i] = WORLD_STORAGE_HANDLE_INVALID;
	return world_storage_destroy(handle);
}

/* The value in a remote lookup's object, released at once. */
static int show_remote(pid_t tid, void *object)
{
	snprintf(result, sizeof(result), "value=%llu", *(u64 *)object);
	return world_storage_release(tid, object);
}

/* Called with `lock` held; `destroy I` drops it while Destroy waits. */
static int run(char *cmd)
{
	unsigned int i, size, align;
	unsigned long long value;
	struct pid *pid;
	void *object;
	u64 handle;
	pid_t tid;
	int err;

	if (sscanf(cmd, "create %u %u", &size, &align) == 2)
		return create(size, align);
	if (sscanf(cmd, "destroy %u", &i) == 1) {
		err = region(i, &handle);
		if (err)
			return err;
		handles[i] = WORLD_STORAGE_HANDLE_INVALID;
		/* Unlocked: `unhold` releases what Destroy waits for. */
		mutex_unlock(&lock);
		err = world_storage_destroy(handle);
		mutex_lock(&lock);
		return err;
	}
	if (sscanf(cmd, "leak %u", &i) == 1) {
		err = region(i, &handle);
		if (!err)
			handles[i] = WORLD_STORAGE_HANDLE_INVALID;
		return err;
	}
	if (!strcmp(cmd, "destroyall")) {
		for (i = 0, err = 0; i < nr_handles; i++)
			if (handles[i] != WORLD_STORAGE_HANDLE_INVALID)
				err = destroy(i) ?: err;
		nr_handles = 0;
		return err;
	}
	if (sscanf(cmd, "set %u %llu", &i, &value) == 2) {
		err = region(i, &handle) ?: world_storage_lookup_local(handle, &object);
		if (!err)
			*(u64 *)object = value;
		return err;
	}
	if (sscanf(cmd, "get %u %d", &i, &tid) == 2) {
		err = region(i, &handle) ?: world_storage_lookup(tid, handle, &object);
		return err ?: show_remote(tid, object);
	}
	if (sscanf(cmd, "pin %d", &tid) == 1) {
		if (pinned)
			return -EBUSY;
		pid = find_get_pid(tid);
		pinned = get_pid_task(pid, PIDTYPE_PID);
		put_pid(pid);
		return pinned ? 0 : -ESRCH;
	}
	if (sscanf(cmd, "getpinned %u", &i) == 1) {
		if (!pinned)
			return -ENOENT;
		err = region(i, &handle) ?: world_storage_lookup_task(pinned, handle, &object);
		return err ?: show_remote(task_pid_nr(pinned), object);
	}
	if (sscanf(cmd, "hold %u %d", &i, &tid) == 2) {
		if (held)
			return -EBUSY;
		err = region(i, &handle) ?: world_storage_lookup(tid, handle, &object);
		if (!err) {
			held = object;
			held_tid = tid;
		}
		return err;
	}
	if (!strcmp(cmd, "unhold")) {
		if (!held)
			return -ENOENT;
		err = world_storage_release(held_tid, held);
		held = NULL;
		return err;
	}
	if (!strcmp(cmd, "unpin")) {
		if (!pinned)
			return -ENOENT;
		put_task_struct(pinned);
		pinned = NULL;
		return 0;
	}
	return -EINVAL;
}

static ssize_t control_write(struct file *file, const char __user *ubuf, size_t len,
			     loff_t *ppos)
{
	char cmd[64];
	int err;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	strim(cmd);
	mutex_lock(&lock);
	result[0] = '\0';
	err = run(cmd);
	mutex_unlock(&lock);
	return err ?: len;
}

static ssize_t control_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	char line[sizeof(result) + 1];
	int n;

	mutex_lock(&lock);
	n = scnprintf(line, sizeof(line), "%s\n", result);
	mutex_unlock(&lock);
	return simple_read_from_buffer(ubuf, len, ppos, line, n);
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.read = control_read,
	.write = control_write,
};

static struct dentry *dir;

static int __init ws_c_client_init(void)
{
	handles = kcalloc(MAX_HANDLES, sizeof(*handles), GFP_KERNEL);
	if (!handles)
		return -ENOMEM;
	dir = debugfs_create_dir("ws_c_client", NULL);
	debugfs_create_file("control", 0600, dir, NULL, &control_fops);
	return 0;
}
module_init(ws_c_client_init);

static void __exit ws_c_client_exit(void)
{
	debugfs_remove_recursive(dir);
	if (held)
		world_storage_release(held_tid, held);
	run("destroyall");
	if (pinned)
		put_task_struct(pinned);
	kfree(handles);
}
module_exit(ws_c_client_exit);

MODULE_DESCRIPTION("World storage test client (C API), driven from debugfs");
MODULE_LICENSE("GPL");
