// SPDX-License-Identifier: GPL-2.0
/*
 * ws_harness: a test-only module that makes the test harness see a failure.
 *
 * `make check` boots the VM once per failure path with one of these planted
 * and asserts that the harness reports it:
 *   fail=1  the KUnit suite "ws_harness" has a failing case;
 *   warn=1  module init hits WARN_ON(), a kernel splat in the log.
 * With neither set, the suite passes and nothing is printed.
 */

#include <kunit/test.h>
#include <linux/bug.h>
#include <linux/module.h>

static bool fail;
module_param(fail, bool, 0444);
MODULE_PARM_DESC(fail, "make the KUnit case fail");

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "WARN_ON() in module init");

static void ws_harness_case(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, fail ? 1 : 0, 0);
}

static struct kunit_case ws_harness_cases[] = {
	KUNIT_CASE(ws_harness_case),
	{}
};

static struct kunit_suite ws_harness_suite = {
	.name = "ws_harness",
	.test_cases = ws_harness_cases,
};
kunit_test_suite(ws_harness_suite);

static int __init ws_harness_init(void)
{
	WARN_ON(warn);
	return 0;
}
module_init(ws_harness_init);

static void __exit ws_harness_exit(void)
{
}
module_exit(ws_harness_exit);

MODULE_DESCRIPTION("Test-only module that plants failures for the harness tests");
MODULE_LICENSE("GPL");
