// SPDX-License-Identifier: GPL-2.0
/*
 * ws_counter: a C client of world storage. Every task has a counter;
 * writing to /dev/ws_counter bumps the writer's own counter (a local
 * lookup); reading returns "<tid> <count>" for a task chosen by writing
 * "tid <N>" first (a remote lookup, released at once), by default the
 * reader itself. The TID is the one the reader sees, in its own pid
 * namespace. After writing "total", reading returns "total <sum> tasks
 * <n>": the sum of every task's counter and the number of tasks, from a
 * visit of every task's object. Only root may open the device: a counter
 * is per-task data.
 */

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/uaccess.h>

#include "../include/world_storage.h"

static u64 handle = WORLD_STORAGE_HANDLE_INVALID;

/* file->private_data when read() reports the total. */
#define READ_TOTAL ((void *)-1L)

/*
 * file->private_data: the TID that read() reports, in the reader's pid
 * namespace; 0 for the reader; READ_TOTAL for the sum over every task.
 */
static int ws_counter_open(struct inode *inode, struct file *file)
{
	file->private_data = NULL;
	return 0;
}

static ssize_t ws_counter_write(struct file *file, const char __user *buf, size_t len,
				loff_t *ppos)
{
	char cmd[32] = "";
	u64 *mine;
	pid_t tid;
	int err;

	if (copy_from_user(cmd, buf, min(len, sizeof(cmd) - 1)))
		return -EFAULT;
	if (sscanf(cmd, "tid %d", &tid) == 1) {
		file->private_data = (void *)(long)tid;
		return len;
	}
	if (!strncmp(cmd, "total", 5)) {
		file->private_data = READ_TOTAL;
		return len;
	}
	err = world_storage_lookup_local_inline(handle, (void **)&mine);
	if (err)
		return err;
	(*mine)++;
	return len;
}

struct ws_counter_total {
	u64 sum;
	unsigned int tasks;
};

/* Called by the visit on each task's counter, one at a time. */
static int ws_counter_add(pid_t wid, void *object, void *arg)
{
	struct ws_counter_total *total = arg;

	total->sum += READ_ONCE(*(u64 *)object);
	total->tasks++;
	return 0;
}

static ssize_t ws_counter_read_total(char __user *buf, size_t len, loff_t *ppos)
{
	struct ws_counter_total total = {};
	char line[64];
	int err, n;

	err = world_storage_for_each(handle, ws_counter_add, &total);
	if (err)
		return err;
	n = scnprintf(line, sizeof(line), "total %llu tasks %u\n", total.sum, total.tasks);
	return simple_read_from_buffer(buf, len, ppos, line, n);
}

static ssize_t ws_counter_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	pid_t tid = (long)file->private_data ?: task_pid_vnr(current);
	struct task_struct *task;
	char line[48];
	u64 *counter;
	pid_t wid;
	int err, n;

	if (file->private_data == READ_TOTAL)
		return ws_counter_read_total(buf, len, ppos);
	/* The reader's TID names a task in its namespace, not a world ID. */
	rcu_read_lock();
	task = get_pid_task(find_vpid(tid), PIDTYPE_PID);
	rcu_read_unlock();
	if (!task)
		return -ESRCH;
	wid = task_pid_nr(task);
	err = world_storage_lookup_task(task, handle, (void **)&counter);
	put_task_struct(task);
	if (err)
		return err;
	n = scnprintf(line, sizeof(line), "%d %llu\n", tid, READ_ONCE(*counter));
	world_storage_release(wid, counter);
	return simple_read_from_buffer(buf, len, ppos, line, n);
}

static const struct file_operations ws_counter_fops = {
	.owner = THIS_MODULE,
	.open = ws_counter_open,
	.write = ws_counter_write,
	.read = ws_counter_read,
};

static struct miscdevice ws_counter_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ws_counter",
	.fops = &ws_counter_fops,
	.mode = 0600,
};

static int __init ws_counter_init(void)
{
	const struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = sizeof(u64),
		.align = __alignof__(u64),
		/* No constructor: every counter starts at zero. */
	};
	int err = world_storage_create(&props, &handle);

	if (err)
		return err;
	err = misc_register(&ws_counter_dev);
	if (err)
		world_storage_destroy(handle);
	return err;
}
module_init(ws_counter_init);

static void __exit ws_counter_exit(void)
{
	misc_deregister(&ws_counter_dev);
	world_storage_destroy(handle);
}
module_exit(ws_counter_exit);

MODULE_DESCRIPTION("Sample: a per-task counter in world storage, from C");
MODULE_LICENSE("GPL");
