// SPDX-License-Identifier: GPL-2.0
/*
 * ws_harness: a test-only module that makes the test harness see a failure.
 *
 * `make check` boots the VM once per failure path with one of these planted
 * and asserts that the harness reports it:
 *   fail=1  the KUnit suite "ws_harness" has a failing case;
 *   warn=1  the case hits WARN_ON(), a kernel splat in the log.
 * With neither set, the suite passes and nothing is printed.
 *
 * The module has no init of its own: without KUnit, kunit_test_suite()
 * (../ws_kunit.h) is its init.
 */

#include <linux/bug.h>
#include <linux/module.h>

#include "../ws_kunit.h"

static bool fail;
module_param(fail, bool, 0444);
MODULE_PARM_DESC(fail, "make the KUnit case fail");

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "WARN_ON() in the KUnit case");

static void ws_harness_case(struct kunit *test)
{
	WARN_ON(warn);
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

MODULE_DESCRIPTION("Test-only module that plants failures for the harness tests");
MODULE_LICENSE("GPL");
