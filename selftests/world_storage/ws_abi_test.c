// SPDX-License-Identifier: GPL-2.0
/*
 * ws_abi_test: KUnit suite "world_storage_abi", a C client of
 * include/world_storage.h. Every bad input gets its errno; alignments and
 * sizes are honoured; a kernel thread whose constructor fails has no object;
 * Destroy invalidates the handle at once and waits for references.
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "../../include/world_storage.h"

static atomic_t ctor_calls, dtor_calls;
static bool fail_constructor;
static void *last_arg;
static u32 last_size;

static int counting_ctor(pid_t wid, void *object, u32 size, void *arg)
{
	if (READ_ONCE(fail_constructor))
		return -EDOM;
	memset(object, 0xa5, size);
	WRITE_ONCE(last_arg, arg);
	WRITE_ONCE(last_size, size);
	atomic_inc(&ctor_calls);
	return 0;
}

static void counting_dtor(pid_t wid, void *object, u32 size, void *arg)
{
	atomic_inc(&dtor_calls);
}

static struct world_storage_props props(u32 size, u32 align)
{
	return (struct world_storage_props) {
		.type = WORLD_STORAGE_TYPE_SIMPLE,
		.owner = THIS_MODULE,
		.size = size,
		.align = align,
		.constructor = counting_ctor,
		.destructor = counting_dtor,
		.arg = &ctor_calls,
	};
}

static void create_rejects_bad_props(struct kunit *test)
{
	struct world_storage_props p;
	u64 h = WORLD_STORAGE_HANDLE_INVALID;

	KUNIT_EXPECT_EQ(test, world_storage_create(NULL, &h), -EINVAL);
	p = props(8, 8);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, NULL), -EINVAL);
	p = props(0, 8);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, &h), -EINVAL);
	p = props((1 << 20) + 1, 8);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, &h), -EINVAL);
	p = props(8, 0);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, &h), -EINVAL);
	p = props(8, 24);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, &h), -EINVAL);
	p = props(8, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, &h), -EINVAL);
	p = props(8, 8);
	p.type = 1;
	KUNIT_EXPECT_EQ(test, world_storage_create(&p, &h), -EINVAL);
	KUNIT_EXPECT_EQ(test, h, WORLD_STORAGE_HANDLE_INVALID);
}

static void constructor_gets_its_arguments(struct kunit *test)
{
	struct world_storage_props p = props(40, 8);
	u64 h;
	u8 *obj;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(last_arg), (void *)&ctor_calls);
	KUNIT_EXPECT_EQ(test, READ_ONCE(last_size), 40);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_local(h, (void **)&obj), 0);
	KUNIT_EXPECT_EQ(test, obj[0], 0xa5);
	KUNIT_EXPECT_EQ(test, obj[39], 0xa5);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&ctor_calls), atomic_read(&dtor_calls));
}

static void alignments_are_honoured(struct kunit *test)
{
	u32 align;

	for (align = 8; align <= PAGE_SIZE; align *= 2) {
		struct world_storage_props p = props(24, align);
		void *local, *remote;
		u64 h;

		KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
		KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, &local), 0);
		KUNIT_EXPECT_EQ(test, (unsigned long)local % align, 0);
		KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), h, &remote), 0);
		KUNIT_EXPECT_PTR_EQ(test, local, remote);
		KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), remote), 0);
		KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
	}
}

static void large_region_is_zero_filled(struct kunit *test)
{
	struct world_storage_props p = props(SZ_64K, 64);
	u8 *obj;
	size_t i, nonzero = 0;
	u64 h;

	p.constructor = NULL;
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_local(h, (void **)&obj), 0);
	for (i = 0; i < SZ_64K; i++)
		nonzero += obj[i] != 0;
	KUNIT_EXPECT_EQ(test, nonzero, 0);
	obj[SZ_64K - 1] = 7;
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
}

static void stale_and_invalid_handles(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	void *obj;
	u64 h, h2;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_destroy(h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h2), 0);
	KUNIT_EXPECT_NE(test, h, h2);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), h, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(WORLD_STORAGE_HANDLE_INVALID, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(0, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h2 ^ (1ULL << 40), &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h2), 0);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h2), -EINVAL);
}

static void lookup_errors(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	void *obj;
	u64 h;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(0x3ffffff0, h, &obj), -ESRCH);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(-1, h, &obj), -ESRCH);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), h, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(h, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup_task(NULL, h, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
}

static void lookup_task_and_release(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	void *local, *obj;
	int stack_var;
	u64 h;

	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &h), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_local(h, &local), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup_task(current, h, &obj), 0);
	KUNIT_EXPECT_PTR_EQ(test, obj, local);
	/* Wrong TID, foreign pointers: refused, the reference stays. */
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current) + 1, obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), &stack_var), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), (u8 *)obj + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), obj), 0);
	/* Double release, and release of a pointer from lookup_local. */
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(h), 0);
}

struct kthread_probe {
	u64 handle;
	int result;
	struct completion done;
};

static int probe_local(void *data)
{
	struct kthread_probe *probe = data;
	void *obj;

	probe->result = world_storage_lookup_local(probe->handle, &obj);
	complete(&probe->done);
	return 0;
}

static void kthread_with_failed_constructor_has_no_object(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	struct kthread_probe probe = { .result = 1 };
	struct task_struct *t;

	init_completion(&probe.done);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &probe.handle), 0);
	WRITE_ONCE(fail_constructor, true);
	t = kthread_run(probe_local, &probe, "ws_abi_probe");
	WRITE_ONCE(fail_constructor, false);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	wait_for_completion(&probe.done);
	KUNIT_EXPECT_EQ(test, probe.result, -ENOENT);
	KUNIT_EXPECT_EQ(test, world_storage_destroy(probe.handle), 0);
}

static int destroy_thread(void *data)
{
	struct kthread_probe *probe = data;

	probe->result = world_storage_destroy(probe->handle);
	complete(&probe->done);
	return 0;
}

static void destroy_invalidates_at_once_and_waits(struct kunit *test)
{
	struct world_storage_props p = props(8, 8);
	struct kthread_probe probe = { .result = 1 };
	struct task_struct *t;
	void *held, *obj;

	init_completion(&probe.done);
	KUNIT_ASSERT_EQ(test, world_storage_create(&p, &probe.handle), 0);
	KUNIT_ASSERT_EQ(test, world_storage_lookup(task_pid_nr(current), probe.handle, &held), 0);
	t = kthread_run(destroy_thread, &probe, "ws_abi_destroy");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	msleep(100);
	KUNIT_EXPECT_FALSE(test, completion_done(&probe.done));
	KUNIT_EXPECT_EQ(test, world_storage_lookup_local(probe.handle, &obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_lookup(task_pid_nr(current), probe.handle, &obj),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, world_storage_release(task_pid_nr(current), held), 0);
	wait_for_completion(&probe.done);
	KUNIT_EXPECT_EQ(test, probe.result, 0);
}

static struct kunit_case ws_abi_cases[] = {
	KUNIT_CASE(create_rejects_bad_props),
	KUNIT_CASE(constructor_gets_its_arguments),
	KUNIT_CASE(alignments_are_honoured),
	KUNIT_CASE(large_region_is_zero_filled),
	KUNIT_CASE(stale_and_invalid_handles),
	KUNIT_CASE(lookup_errors),
	KUNIT_CASE(lookup_task_and_release),
	KUNIT_CASE(kthread_with_failed_constructor_has_no_object),
	KUNIT_CASE(destroy_invalidates_at_once_and_waits),
	{}
};

static struct kunit_suite ws_abi_suite = {
	.name = "world_storage_abi",
	.test_cases = ws_abi_cases,
};
kunit_test_suite(ws_abi_suite);

MODULE_DESCRIPTION("KUnit tests of the world storage C API");
MODULE_LICENSE("GPL");
