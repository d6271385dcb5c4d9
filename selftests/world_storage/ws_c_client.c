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
 *   adopt H             names another module's region, handle H (hex), as
 *                       the next region I: get, hold and destroy work on
 *                       it; result "region=I"
 *   destroy I           destroys region I
 *   destroyall          destroys every region still live
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
 *   hold I TID          remote lookup by TID, kept until `unhold` (up to
 *                       MAX_HELD at a time)
 *   unhold              releases every held reference (it does not wait
 *                       for a command that blocks, such as a destroy
 *                       waiting for these references)
 *   execarm I TID       remote lookup by TID, kept; the reference is then
 *                       released by the thread TID itself, from its
 *                       task_rename tracepoint once its TID changed: in an
 *                       execve() from a thread, after de_thread() gave it
 *                       its leader's TID and before world storage's exec
 *                       hook (one at a time)
 *   execresult          result: "release=R cleanup=C": that release's
 *                       answer (1: it did not run), and the answer of a
 *                       release by TID done here if it did not succeed
 *   exitwatch create    creates the exitwatch region (below)
 *   exitwatch destroy   destroys it
 *   exitwatch result    result: the last report of the exitwatch file's
 *                       release, "tid=T exiting=E destructed=D value=V
 *                       lookup=L"
 *   kthread             creates a kernel thread and stops it before it
 *                       runs; result "tid=T"
 *   badrelease TID      releases for TID a pointer that no lookup returned
 *                       (this module's result buffer); the release's error
 *                       (-EINVAL); result "object=P", the pointer's raw
 *                       address (%px: the test compares it with the trace
 *                       event's, read with tracefs's hash-ptr option off)
 *
 * /sys/kernel/debug/ws_c_client/exitwatch shows how long a pointer from
 * world_storage_lookup_local() stays valid. The exitwatch region's
 * constructor writes WATCH_LIVE in each object, its destructor WATCH_DEAD.
 * open() keeps the opener's object; release() reports the releasing task's
 * TID, whether it is exiting, whether the kept object was destructed by
 * then (its destructor tells the open file, so release() never reads a
 * destructed object), the object's value if not, and what a local lookup
 * answers there.
 *
 * /sys/kernel/debug/ws_c_client/visit drives world_storage_for_each() on a
 * region of its own. Write one of:
 *
 *   create              creates the visit region
 *   mark V              stores V in the caller's object
 *   run US              visits every world's object, sleeping US
 *                       microseconds in each callback
 *   destroy             destroys the visit region (it may race a run)
 *
 *   pause TID           the next run's callback of world TID waits (once)
 *                       until "resume"; also watches TID (below)
 *   resume              lets a paused callback go on
 *   watch TID           counts the destructor calls of world TID's objects
 *   stopat TID          the callback of world TID stops the visit (77)
 *                       (TID -1: no world, for pause, watch and stopat)
 *   steal TID           the callback of world TID releases the object it
 *                       was given (a misuse), once per run
 *   lookup TID          looks up world TID's object and keeps it (one)
 *   unlookup            releases it
 *   nested 0|1          the first callback of a run looks its world's object
 *                       up and releases it, visits the region again, and
 *                       creates and destroys another region
 *
 * Reading gives "handle=H running=R progress=N" (visits under way, worlds
 * visited so far by the last run), "run ret=R visited=N marked=M sum=S
 * dups=D dead=X" (the last run: its answer, worlds visited, those with a
 * mark, the marks' sum, objects visited twice, objects found destructed),
 * "destroy destroy=R running=N ended=E" (the last destroy: its answer,
 * visits under way when it started, visits that ended before it returned)
 * and "adv paused=P hits=H watch_dtors=W nested=N" (a callback waits at the
 * paused world, callbacks of that world so far, destructor calls of the
 * watched world, the nested operations' answer in the last run).
 */

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "../../include/world_storage.h"

/* More than the region table holds, so that filling it ends in -ENOSPC. */
#define MAX_HANDLES 1100
#define MAX_HELD 8
#define WATCH_LIVE 0x600dULL
#define WATCH_DEAD 0xdeadULL

/* Everything below is guarded by `lock`. */
static DEFINE_MUTEX(lock);
/* Handles in creation order; WORLD_STORAGE_HANDLE_INVALID once destroyed. */
static u64 *handles;
static unsigned int nr_handles;
static struct task_struct *pinned;
static char result[96];
static u64 watch_handle = WORLD_STORAGE_HANDLE_INVALID;

/* References taken by `hold`, guarded by `held_lock`, never by `lock`. */
static DEFINE_MUTEX(held_lock);
static struct {
	pid_t wid;
	void *object;
} held[MAX_HELD];
static unsigned int nr_held;

/* The objects of the exitwatch region; their fields are under `watch_lock`. */
struct watched {
	u64 value;
	/* The open exitwatch file that keeps this object, or NULL. */
	struct watch_open *opener;
};

/* An open exitwatch file. */
struct watch_open {
	struct watched *object;
	/* Set by the object's destructor. */
	bool destructed;
};

/* Taken in the destructor (any context but hard IRQ: never in one here). */
static DEFINE_SPINLOCK(watch_lock);
/* The last report of the exitwatch file's release, under `watch_lock`. */
static char watch_report[96];

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

static int adopt(u64 handle)
{
	if (nr_handles == MAX_HANDLES)
		return -EMFILE;
	handles[nr_handles] = handle;
	snprintf(result, sizeof(result), "region=%u", nr_handles);
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

static int hold(unsigned int i, pid_t tid)
{
	void *object;
	u64 handle;
	int err = region(i, &handle);

	if (err)
		return err;
	mutex_lock(&held_lock);
	if (nr_held == MAX_HELD) {
		err = -ENOSPC;
	} else {
		err = world_storage_lookup(tid, handle, &object);
		if (!err) {
			held[nr_held].wid = tid;
			held[nr_held].object = object;
			nr_held++;
		}
	}
	mutex_unlock(&held_lock);
	return err;
}

/* Releases every held reference; 0, or the first release's error. */
static int unhold(void)
{
	int err = 0;

	mutex_lock(&held_lock);
	while (nr_held) {
		nr_held--;
		err = world_storage_release(held[nr_held].wid, held[nr_held].object) ?: err;
	}
	mutex_unlock(&held_lock);
	return err;
}

/*
 * execarm: the armed thread, its TID when armed, the reference kept on its
 * object (NULL once released) and the answer of the release from its
 * task_rename probe (1 until then). Written under `lock` while the probe is
 * not registered; the probe claims the release by moving exec_result from 1.
 */
static struct tracepoint *rename_tp;
static struct task_struct *exec_task;
static pid_t exec_wid;
static void *exec_object;
static int exec_result = 1;

static void find_rename_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "task_rename"))
		*(struct tracepoint **)priv = tp;
}

/* The armed thread, renamed once its TID changed: inside its execve(). */
static void exec_rename_probe(void *data, struct task_struct *task, const char *comm)
{
	int err;

	if (task != exec_task || task != current || task_pid_nr(task) == exec_wid)
		return;
	err = world_storage_release(exec_wid, exec_object);
	if (cmpxchg(&exec_result, 1, err) == 1 && !err)
		WRITE_ONCE(exec_object, NULL);
}

static int exec_arm(unsigned int i, pid_t tid)
{
	struct pid *pid;
	u64 handle;
	int err = region(i, &handle);

	if (err)
		return err;
	if (exec_task)
		return -EBUSY;
	if (!rename_tp)
		for_each_kernel_tracepoint(find_rename_tp, &rename_tp);
	if (!rename_tp)
		return -ENOENT;
	pid = find_get_pid(tid);
	exec_task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	if (!exec_task)
		return -ESRCH;
	err = world_storage_lookup(tid, handle, &exec_object);
	if (!err) {
		exec_wid = tid;
		exec_result = 1;
		err = tracepoint_probe_register(rename_tp, exec_rename_probe, NULL);
		if (err)
			world_storage_release(tid, exec_object);
	}
	if (err) {
		put_task_struct(exec_task);
		exec_task = NULL;
	}
	return err;
}

/* Stops watching; releases the reference if the probe did not. */
static int exec_disarm(void)
{
	int cleanup = 0;

	if (!exec_task)
		return -ENOENT;
	tracepoint_probe_unregister(rename_tp, exec_rename_probe, NULL);
	tracepoint_synchronize_unregister();
	if (exec_object)
		cleanup = world_storage_release(exec_wid, exec_object);
	exec_object = NULL;
	snprintf(result, sizeof(result), "release=%d cleanup=%d", exec_result, cleanup);
	put_task_struct(exec_task);
	exec_task = NULL;
	return 0;
}

static int watch_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	struct watched *w = object;

	w->value = WATCH_LIVE;
	w->opener = NULL;
	return 0;
}

static void watch_dtor(pid_t wid, void *object, u32 size, void *arg)
{
	struct watched *w = object;
	unsigned long flags;

	spin_lock_irqsave(&watch_lock, flags);
	if (w->opener)
		w->opener->destructed = true;
	w->opener = NULL;
	w->value = WATCH_DEAD;
	spin_unlock_irqrestore(&watch_lock, flags);
}

static int exitwatch(const char *verb)
{
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = sizeof(struct watched),
		.align = __alignof__(struct watched),
		.constructor = watch_ctor,
		.destructor = watch_dtor,
	};
	unsigned long flags;
	u64 handle;
	int err;

	if (!strcmp(verb, "create")) {
		if (watch_handle != WORLD_STORAGE_HANDLE_INVALID)
			return -EBUSY;
		err = world_storage_create(&props, &handle);
		if (!err)
			watch_handle = handle;
		return err;
	}
	if (!strcmp(verb, "destroy")) {
		err = world_storage_destroy(watch_handle);
		watch_handle = WORLD_STORAGE_HANDLE_INVALID;
		return err;
	}
	if (!strcmp(verb, "result")) {
		spin_lock_irqsave(&watch_lock, flags);
		strscpy(result, watch_report);
		spin_unlock_irqrestore(&watch_lock, flags);
		return 0;
	}
	return -EINVAL;
}

/*
 * The visit region (debugfs "visit"): each object has a magic that its
 * destructor poisons, a serial that no other live object has, and a mark
 * its task sets. "run" and "destroy" take no lock of this client, so one
 * can race the other; visits run one at a time (visit_lock).
 */
#define VISIT_LIVE 0x11fe11fe11fe11feULL
#define VISIT_DEAD 0xdeaddeaddeaddeadULL
#define VISIT_SERIALS (1U << 22)

struct visited {
	u64 magic;
	u64 mark;
	u32 serial;
};

struct visit_state {
	unsigned int delay_us;
	unsigned int visited, marked, dups, dead;
	u64 sum;
};

static u64 visit_handle = WORLD_STORAGE_HANDLE_INVALID;
static atomic_t visit_serial = ATOMIC_INIT(0);
/* Serials seen by the visit under way, under visit_lock. */
static unsigned long *visit_seen;
static DEFINE_MUTEX(visit_lock);
static atomic_t visits_running, visits_done, visit_progress;
/* Results of the last "run" and the last "destroy", under visit_result_lock. */
static DEFINE_SPINLOCK(visit_result_lock);
static char visit_run_result[128] = "ret=0 visited=0 marked=0 sum=0 dups=0 dead=0";
static char visit_destroy_result[64] = "destroy=0 running=0 ended=0";
/* The controls that attack a visit: "pause", "watch", "stopat", "nested". */
#define VISIT_STOP 77
/* -1: none (0 is a world ID: the idle tasks'). */
static pid_t visit_pause_wid = -1, visit_watch_wid = -1, visit_stop_wid = -1;
static pid_t visit_steal_wid = -1, visit_lookup_wid;
static void *visit_lookup_object;
static bool visit_nested, visit_resumed;
static DECLARE_WAIT_QUEUE_HEAD(visit_resume_wait);
static atomic_t visit_paused, visit_pause_hits, visit_watch_dtors;
static int visit_nested_result;

static int visit_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	struct visited *v = object;

	v->magic = VISIT_LIVE;
	v->mark = 0;
	v->serial = (u32)atomic_inc_return(&visit_serial) % VISIT_SERIALS;
	return 0;
}

static void visit_dtor(pid_t wid, void *object, u32 size, void *arg)
{
	WRITE_ONCE(((struct visited *)object)->magic, VISIT_DEAD);
	if (wid == READ_ONCE(visit_watch_wid))
		atomic_inc(&visit_watch_dtors);
}

static int visit_count(pid_t wid, void *object, void *arg)
{
	(*(unsigned int *)arg)++;
	return 0;
}

/*
 * From a callback on @object of world @wid: a lookup and release of the
 * same object, a visit of the same region, a Create and a Destroy of
 * another region. 0 if each did what the header says.
 */
static int visit_nested_ops(pid_t wid, void *object)
{
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = 8,
		.align = 8,
	};
	unsigned int inner = 0;
	void *again;
	u64 other;
	int err;

	err = world_storage_lookup(wid, READ_ONCE(visit_handle), &again);
	if (err)
		return err;
	err = world_storage_release(wid, again);
	if (err)
		return err;
	if (again != object)
		return -EFAULT;
	err = world_storage_for_each(READ_ONCE(visit_handle), visit_count, &inner);
	if (err)
		return err;
	if (!inner)
		return -ENOENT;
	err = world_storage_create(&props, &other);
	if (err)
		return err;
	return world_storage_destroy(other);
}

/* Checks the object is live before and after an optional sleep. */
static int visit_one(pid_t wid, void *object, void *arg)
{
	struct visit_state *st = arg;
	struct visited *v = object;
	bool live = READ_ONCE(v->magic) == VISIT_LIVE;

	if (live && __test_and_set_bit(v->serial, visit_seen))
		st->dups++;
	st->visited++;
	atomic_set(&visit_progress, st->visited);
	if (READ_ONCE(v->mark)) {
		st->marked++;
		st->sum += READ_ONCE(v->mark);
	}
	if (st->delay_us)
		usleep_range(st->delay_us, st->delay_us + 100);
	if (wid == READ_ONCE(visit_pause_wid) && atomic_inc_return(&visit_pause_hits) == 1) {
		atomic_set(&visit_paused, 1);
		wait_event_timeout(visit_resume_wait, READ_ONCE(visit_resumed), 60 * HZ);
		atomic_set(&visit_paused, 0);
	}
	if (READ_ONCE(visit_nested) && st->visited == 1)
		visit_nested_result = visit_nested_ops(wid, object);
	if (wid == READ_ONCE(visit_steal_wid)) {
		WRITE_ONCE(visit_steal_wid, -1);
		world_storage_release(wid, object);
	}
	if (!live || READ_ONCE(v->magic) != VISIT_LIVE)
		st->dead++;
	return wid == READ_ONCE(visit_stop_wid) ? VISIT_STOP : 0;
}

static int visit_run(unsigned int delay_us)
{
	struct visit_state st = { .delay_us = delay_us };
	int ret;

	mutex_lock(&visit_lock);
	bitmap_zero(visit_seen, VISIT_SERIALS);
	atomic_set(&visit_progress, 0);
	atomic_inc(&visits_running);
	ret = world_storage_for_each(READ_ONCE(visit_handle), visit_one, &st);
	atomic_dec(&visits_running);
	atomic_inc(&visits_done);
	mutex_unlock(&visit_lock);
	spin_lock(&visit_result_lock);
	snprintf(visit_run_result, sizeof(visit_run_result),
		 "ret=%d visited=%u marked=%u sum=%llu dups=%u dead=%u", ret, st.visited,
		 st.marked, st.sum, st.dups, st.dead);
	spin_unlock(&visit_result_lock);
	return 0;
}

/* Notes whether a visit was under way, and whether it ended before this returned. */
static int visit_destroy(void)
{
	int running = atomic_read(&visits_running), done = atomic_read(&visits_done);
	int err = world_storage_destroy(READ_ONCE(visit_handle));

	WRITE_ONCE(visit_handle, WORLD_STORAGE_HANDLE_INVALID);
	spin_lock(&visit_result_lock);
	snprintf(visit_destroy_result, sizeof(visit_destroy_result),
		 "destroy=%d running=%d ended=%d", err, running,
		 atomic_read(&visits_done) - done);
	spin_unlock(&visit_result_lock);
	return 0;
}

static int visit_cmd(char *cmd)
{
	struct world_storage_props props = {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = sizeof(struct visited),
		.align = __alignof__(struct visited),
		.constructor = visit_ctor,
		.destructor = visit_dtor,
	};
	unsigned long long mark;
	unsigned int delay_us;
	struct visited *v;
	u64 handle;
	pid_t tid;
	int err;

	if (!strcmp(cmd, "create")) {
		if (READ_ONCE(visit_handle) != WORLD_STORAGE_HANDLE_INVALID)
			return -EBUSY;
		err = world_storage_create(&props, &handle);
		if (!err)
			WRITE_ONCE(visit_handle, handle);
		return err;
	}
	if (!strcmp(cmd, "destroy"))
		return visit_destroy();
	if (sscanf(cmd, "run %u", &delay_us) == 1)
		return visit_run(delay_us);
	if (sscanf(cmd, "pause %d", &tid) == 1) {
		WRITE_ONCE(visit_resumed, false);
		atomic_set(&visit_pause_hits, 0);
		WRITE_ONCE(visit_pause_wid, tid);
		atomic_set(&visit_watch_dtors, 0);
		WRITE_ONCE(visit_watch_wid, tid);
		return 0;
	}
	if (!strcmp(cmd, "resume")) {
		WRITE_ONCE(visit_resumed, true);
		wake_up_all(&visit_resume_wait);
		return 0;
	}
	if (sscanf(cmd, "watch %d", &tid) == 1) {
		atomic_set(&visit_watch_dtors, 0);
		WRITE_ONCE(visit_watch_wid, tid);
		return 0;
	}
	if (sscanf(cmd, "steal %d", &tid) == 1) {
		WRITE_ONCE(visit_steal_wid, tid);
		return 0;
	}
	if (sscanf(cmd, "lookup %d", &tid) == 1) {
		if (visit_lookup_object)
			return -EBUSY;
		err = world_storage_lookup(tid, READ_ONCE(visit_handle), &visit_lookup_object);
		if (err)
			visit_lookup_object = NULL;
		else
			visit_lookup_wid = tid;
		return err;
	}
	if (!strcmp(cmd, "unlookup")) {
		if (!visit_lookup_object)
			return -ENOENT;
		err = world_storage_release(visit_lookup_wid, visit_lookup_object);
		visit_lookup_object = NULL;
		return err;
	}
	if (sscanf(cmd, "stopat %d", &tid) == 1) {
		WRITE_ONCE(visit_stop_wid, tid);
		return 0;
	}
	if (sscanf(cmd, "nested %d", &tid) == 1) {
		visit_nested_result = 0;
		WRITE_ONCE(visit_nested, tid != 0);
		return 0;
	}
	if (sscanf(cmd, "mark %llu", &mark) == 1) {
		err = world_storage_lookup_local(READ_ONCE(visit_handle), (void **)&v);
		if (!err)
			WRITE_ONCE(v->mark, mark);
		return err;
	}
	return -EINVAL;
}

/*
 * Copies a command written to a control file into `buf` (of `size`
 * bytes); the command with its surrounding blanks trimmed, or an ERR_PTR.
 */
static char *copy_command(char *buf, size_t size, const char __user *ubuf, size_t len)
{
	if (len >= size)
		return ERR_PTR(-EINVAL);
	if (copy_from_user(buf, ubuf, len))
		return ERR_PTR(-EFAULT);
	buf[len] = '\0';
	return strim(buf);
}

static ssize_t visit_write(struct file *file, const char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	char buf[32], *cmd = copy_command(buf, sizeof(buf), ubuf, len);

	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	return visit_cmd(cmd) ?: len;
}

static ssize_t visit_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	char text[384];
	int n;

	spin_lock(&visit_result_lock);
	n = scnprintf(text, sizeof(text),
		      "handle=%#llx running=%d progress=%d\nrun %s\ndestroy %s\n"
		      "adv paused=%d hits=%d watch_dtors=%d nested=%d\n",
		      READ_ONCE(visit_handle), atomic_read(&visits_running),
		      atomic_read(&visit_progress),
		      visit_run_result, visit_destroy_result, atomic_read(&visit_paused),
		      atomic_read(&visit_pause_hits), atomic_read(&visit_watch_dtors),
		      READ_ONCE(visit_nested_result));
	spin_unlock(&visit_result_lock);
	return simple_read_from_buffer(ubuf, len, ppos, text, n);
}

static const struct file_operations visit_fops = {
	.owner = THIS_MODULE,
	.read = visit_read,
	.write = visit_write,
};

/* Never runs: `kthread` stops its thread before waking it. */
static int idle_thread(void *data)
{
	return 0;
}

/* A kernel thread created, then stopped (its TID in the result). */
static int new_kthread(void)
{
	struct task_struct *t = kthread_create(idle_thread, NULL, "ws_c_kthread");

	if (IS_ERR(t))
		return PTR_ERR(t);
	snprintf(result, sizeof(result), "tid=%d", task_pid_nr(t));
	kthread_stop(t);
	return 0;
}

/* The value in a remote lookup's object, released at once. */
static int show_remote(pid_t tid, void *object)
{
	snprintf(result, sizeof(result), "value=%llu", *(u64 *)object);
	return world_storage_release(tid, object);
}

static int run(char *cmd)
{
	unsigned int i, size, align;
	unsigned long long value;
	char verb[16];
	struct pid *pid;
	void *object;
	u64 handle;
	pid_t tid;
	int err;

	if (sscanf(cmd, "create %u %u", &size, &align) == 2)
		return create(size, align);
	if (sscanf(cmd, "adopt %llx", &value) == 1)
		return adopt(value);
	if (sscanf(cmd, "destroy %u", &i) == 1)
		return destroy(i);
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
		/* Read no later than the lookup (world_storage_lookup_task()). */
		tid = task_pid_nr(pinned);
		err = region(i, &handle) ?: world_storage_lookup_task(pinned, handle, &object);
		return err ?: show_remote(tid, object);
	}
	if (sscanf(cmd, "hold %u %d", &i, &tid) == 2)
		return hold(i, tid);
	if (sscanf(cmd, "exitwatch %15s", verb) == 1)
		return exitwatch(verb);
	if (sscanf(cmd, "execarm %u %d", &i, &tid) == 2)
		return exec_arm(i, tid);
	if (!strcmp(cmd, "execresult"))
		return exec_disarm();
	if (!strcmp(cmd, "kthread"))
		return new_kthread();
	if (sscanf(cmd, "badrelease %d", &tid) == 1) {
		snprintf(result, sizeof(result), "object=%px", result);
		return world_storage_release(tid, result);
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
	char buf[64], *cmd = copy_command(buf, sizeof(buf), ubuf, len);
	int err;

	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	/* Not under `lock`: a destroy holds it while it waits for these. */
	if (!strcmp(cmd, "unhold"))
		return unhold() ?: len;
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

/* Under `lock`, so that the region is not destroyed meanwhile. */
static int watch_open(struct inode *inode, struct file *file)
{
	struct watch_open *open;
	struct watched *object;
	unsigned long flags;
	int err;

	open = kzalloc(sizeof(*open), GFP_KERNEL);
	if (!open)
		return -ENOMEM;
	mutex_lock(&lock);
	err = world_storage_lookup_local(watch_handle, (void **)&object);
	if (!err) {
		spin_lock_irqsave(&watch_lock, flags);
		open->object = object;
		object->opener = open;
		spin_unlock_irqrestore(&watch_lock, flags);
	}
	mutex_unlock(&lock);
	if (err) {
		kfree(open);
		return err;
	}
	file->private_data = open;
	return 0;
}

/*
 * The kept object is read only if its destructor has not run: under
 * `watch_lock`, which the destructor takes before its object can be freed.
 */
static int watch_release(struct inode *inode, struct file *file)
{
	struct watch_open *open = file->private_data;
	u64 value = 0, handle = READ_ONCE(watch_handle);
	unsigned long flags;
	void *object;
	int lookup;

	lookup = world_storage_lookup_local(handle, &object);
	spin_lock_irqsave(&watch_lock, flags);
	if (!open->destructed) {
		value = open->object->value;
		open->object->opener = NULL;
	}
	snprintf(watch_report, sizeof(watch_report),
		 "tid=%d exiting=%d destructed=%d value=%#llx lookup=%d", task_pid_nr(current),
		 !!(current->flags & PF_EXITING), open->destructed, value, lookup);
	spin_unlock_irqrestore(&watch_lock, flags);
	kfree(open);
	return 0;
}

static const struct file_operations exitwatch_fops = {
	.owner = THIS_MODULE,
	.open = watch_open,
	.release = watch_release,
};

static struct dentry *dir;

static int __init ws_c_client_init(void)
{
	handles = kcalloc(MAX_HANDLES, sizeof(*handles), GFP_KERNEL);
	visit_seen = vzalloc(BITS_TO_LONGS(VISIT_SERIALS) * sizeof(long));
	if (!handles || !visit_seen) {
		kfree(handles);
		vfree(visit_seen);
		return -ENOMEM;
	}
	dir = debugfs_create_dir("ws_c_client", NULL);
	debugfs_create_file("control", 0600, dir, NULL, &control_fops);
	debugfs_create_file("exitwatch", 0400, dir, NULL, &exitwatch_fops);
	debugfs_create_file("visit", 0600, dir, NULL, &visit_fops);
	return 0;
}
module_init(ws_c_client_init);

static void __exit ws_c_client_exit(void)
{
	debugfs_remove_recursive(dir);
	exec_disarm();
	unhold();
	if (watch_handle != WORLD_STORAGE_HANDLE_INVALID)
		world_storage_destroy(watch_handle);
	if (visit_handle != WORLD_STORAGE_HANDLE_INVALID)
		world_storage_destroy(visit_handle);
	vfree(visit_seen);
	run("destroyall");
	if (pinned)
		put_task_struct(pinned);
	kfree(handles);
}
module_exit(ws_c_client_exit);

MODULE_DESCRIPTION("World storage test client (C API), driven from debugfs");
MODULE_LICENSE("GPL");
