/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ws_kunit.h: KUnit for the project's C test modules, or a minimal runner
 * of the same tests where the kernel has no KUnit (Debian's own kernel:
 * CONFIG_KUNIT is off).
 *
 * The runner covers what the tests use: KUNIT_CASE(), KUNIT_CASE_SLOW(),
 * the EXPECT and ASSERT macros below, kunit_info(), kunit_kzalloc(),
 * kunit_kcalloc() and kunit_test_suite(). With the same semantics where
 * they matter: each case runs in a kernel thread of its own; a failed
 * EXPECT marks the case failed and the case goes on; a failed ASSERT ends
 * the case (its thread exits); what kunit_kzalloc() gave is freed after
 * the case. Unlike KUnit's, EXPECT, ASSERT and kunit_info() may be used
 * only from the case's own thread, and kunit.filter_glob is not honoured.
 *
 * kunit_test_suite() runs the suite when the module is loaded and then
 * publishes its KTAP where KUnit's debugfs does, and in KUnit's shape:
 * /sys/kernel/debug/kunit/<suite>/results (the guest's harness,
 * scripts/guest/run-tests.sh, reads it there). It defines the module's
 * init and exit: a module that uses it has none of its own.
 *
 * Building with -DWS_KTAP_RUNNER (make modules KCFLAGS=-DWS_KTAP_RUNNER)
 * takes the runner on a kernel that has KUnit, to test the runner itself.
 */
#ifndef WS_KUNIT_H
#define WS_KUNIT_H

#if IS_ENABLED(CONFIG_KUNIT) && !defined(WS_KTAP_RUNNER)
#include <kunit/test.h>
#else

#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/printk.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

struct kunit;

/**
 * struct kunit_case - one test case of a suite.
 * @run_case: the case; NULL ends the suite's array.
 * @name: its name in the KTAP.
 * @slow: declared with KUNIT_CASE_SLOW() (KUnit's speed attribute).
 */
struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
	bool slow;
};

/**
 * struct kunit_suite - a suite, and what the runner keeps of its run.
 * @name: its name in the KTAP and in debugfs.
 * @test_cases: its cases, ending with an empty one.
 * @ws_log: the KTAP lines of the run, as KUnit keeps them in its logs.
 * @ws_len: the length of @ws_log.
 * @ws_cases: the number of cases.
 * @ws_failed: the number of failed cases.
 * @ws_lost: a line could not be kept (out of memory): the suite fails.
 * @ws_dir: the suite's debugfs directory.
 */
struct kunit_suite {
	const char *name;
	struct kunit_case *test_cases;
	char *ws_log;
	size_t ws_len;
	size_t ws_cases;
	size_t ws_failed;
	bool ws_lost;
	struct dentry *ws_dir;
};

/**
 * struct kunit - the context of a running case.
 * @name: the case's name.
 * @suite: its suite.
 * @run_case: the case.
 * @failed: an EXPECT or ASSERT failed.
 * @allocs: what kunit_kmalloc() gave, freed after the case.
 * @done: the case's thread has finished with this context.
 */
struct kunit {
	const char *name;
	struct kunit_suite *suite;
	void (*run_case)(struct kunit *test);
	bool failed;
	struct list_head allocs;
	struct completion done;
};

#define KUNIT_CASE(fn) { .run_case = fn, .name = #fn }
#define KUNIT_CASE_SLOW(fn) { .run_case = fn, .name = #fn, .slow = true }

/*
 * ws_kunit_log() - append a line to the suite's KTAP and print it.
 * Like KUnit's log, it ends the line unless the format did.
 */
static inline __printf(2, 3) void ws_kunit_log(struct kunit_suite *suite, const char *fmt, ...)
{
	va_list args;
	char *line, *log;
	size_t len;

	va_start(args, fmt);
	line = kvasprintf(GFP_KERNEL, fmt, args);
	va_end(args);
	if (!line) {
		suite->ws_lost = true;
		return;
	}
	len = strlen(line);
	if (len && line[len - 1] == '\n')
		len--;
	/* Not pr_info(): the test file's pr_fmt() must not prefix KTAP. */
	printk(KERN_INFO "%.*s\n", (int)len, line);
	log = krealloc(suite->ws_log, suite->ws_len + len + 2, GFP_KERNEL);
	if (log) {
		memcpy(log + suite->ws_len, line, len);
		suite->ws_len += len + 1;
		log[suite->ws_len - 1] = '\n';
		log[suite->ws_len] = '\0';
		suite->ws_log = log;
	} else {
		suite->ws_lost = true;
	}
	kfree(line);
}

/**
 * kunit_info() - a "# <case>: " line in the KTAP and the kernel log.
 * @test: the case's context.
 * @fmt: a printk() format, and its arguments.
 */
#define kunit_info(test, fmt, ...) \
	ws_kunit_log((test)->suite, "    # %s: " fmt, (test)->name, ##__VA_ARGS__)

/*
 * A failure, in KUnit's words: where, then why (the macro's lines), then
 * the caller's message if any (fmt NULL: none, as in KUnit).
 */
static inline void __ws_kunit_fail(struct kunit *test, bool assert, const char *file, int line)
{
	test->failed = true;
	ws_kunit_log(test->suite, "    # %s: %s FAILED at %s:%d", test->name,
		     assert ? "ASSERTION" : "EXPECTATION", file, line);
}

static inline __printf(2, 3) void __ws_kunit_msg(struct kunit *test, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (!fmt)
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	ws_kunit_log(test->suite, "%pV", &vaf);
	va_end(args);
}

/* Ends the case: only its own thread may call it (KUnit's is the same). */
static inline void __noreturn __ws_kunit_abort(struct kunit *test)
{
	kthread_complete_and_exit(&test->done, 0);
}

/*
 * KUnit shows no operand that is its own value's literal ("0"). (Parsed,
 * not printed and compared: gcc's -Wstring-compare rejects comparing the
 * longer operands with a short buffer.)
 */
static inline bool ws_kunit_is_literal(const char *text, long long value)
{
	long long parsed;

	return !kstrtoll(text, 10, &parsed) && parsed == value;
}

static inline void __ws_kunit_binary(struct kunit *test, const char *left, const char *op,
				     const char *right, long long lv, long long rv)
{
	ws_kunit_log(test->suite, "    Expected %s %s %s, but", left, op, right);
	if (!ws_kunit_is_literal(left, lv))
		ws_kunit_log(test->suite, "        %s == %lld (0x%llx)", left, lv, lv);
	if (!ws_kunit_is_literal(right, rv))
		ws_kunit_log(test->suite, "        %s == %lld (0x%llx)", right, rv, rv);
}

#define __WS_KUNIT_FAILED(test, assert, why, fmt, ...)				\
	do {									\
		__ws_kunit_fail(test, assert, __FILE__, __LINE__);		\
		why;								\
		__ws_kunit_msg(test, fmt, ##__VA_ARGS__);			\
		if (assert)							\
			__ws_kunit_abort(test);					\
	} while (0)

/* Integers: compared in their own types, shown as long long (KUnit's way). */
#define __WS_KUNIT_BINARY(test, assert, left, op, right, fmt, ...)		\
	do {									\
		const typeof(left) __left = (left);				\
		const typeof(right) __right = (right);				\
										\
		if (!(__left op __right))					\
			__WS_KUNIT_FAILED(test, assert,				\
				__ws_kunit_binary(test, #left, #op, #right,	\
						  (long long)__left,		\
						  (long long)__right),		\
				fmt, ##__VA_ARGS__);				\
	} while (0)

#define __WS_KUNIT_PTR(test, assert, left, op, right)				\
	do {									\
		const void *__left = (left);					\
		const void *__right = (right);					\
										\
		if (!(__left op __right))					\
			__WS_KUNIT_FAILED(test, assert,				\
				ws_kunit_log((test)->suite,			\
					"    Expected %s %s %s, but\n"		\
					"        %s == %px\n        %s == %px",	\
					#left, #op, #right, #left, __left,	\
					#right, __right),			\
				NULL);						\
	} while (0)

#define __WS_KUNIT_BOOL(test, assert, cond, expected)				\
	do {									\
		if (!(cond) != !(expected))					\
			__WS_KUNIT_FAILED(test, assert,				\
				ws_kunit_log((test)->suite,			\
					"    Expected %s to be %s, but is %s",	\
					#cond, (expected) ? "true" : "false",	\
					(expected) ? "false" : "true"),		\
				NULL);						\
	} while (0)

/*
 * KUNIT_EXPECT_*(test, ...): on failure, the case is marked failed and
 * goes on. KUNIT_ASSERT_*(test, ...): on failure, the case ends.
 */
#define KUNIT_EXPECT_EQ(test, l, r) __WS_KUNIT_BINARY(test, false, l, ==, r, NULL)
#define KUNIT_EXPECT_EQ_MSG(test, l, r, fmt, ...) \
	__WS_KUNIT_BINARY(test, false, l, ==, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_NE(test, l, r) __WS_KUNIT_BINARY(test, false, l, !=, r, NULL)
#define KUNIT_EXPECT_GE(test, l, r) __WS_KUNIT_BINARY(test, false, l, >=, r, NULL)
#define KUNIT_EXPECT_GT(test, l, r) __WS_KUNIT_BINARY(test, false, l, >, r, NULL)
#define KUNIT_EXPECT_PTR_EQ(test, l, r) __WS_KUNIT_PTR(test, false, l, ==, r)
#define KUNIT_EXPECT_NOT_NULL(test, p) __WS_KUNIT_PTR(test, false, p, !=, NULL)
#define KUNIT_EXPECT_TRUE(test, c) __WS_KUNIT_BOOL(test, false, c, true)
#define KUNIT_EXPECT_FALSE(test, c) __WS_KUNIT_BOOL(test, false, c, false)
#define KUNIT_ASSERT_EQ(test, l, r) __WS_KUNIT_BINARY(test, true, l, ==, r, NULL)
#define KUNIT_ASSERT_GE(test, l, r) __WS_KUNIT_BINARY(test, true, l, >=, r, NULL)
#define KUNIT_ASSERT_NOT_NULL(test, p) __WS_KUNIT_PTR(test, true, p, !=, NULL)
#define KUNIT_ASSERT_FALSE(test, c) __WS_KUNIT_BOOL(test, true, c, false)

/**
 * KUNIT_FAIL_AND_ABORT() - fail the case with a message, and end it.
 * @test: the case's context.
 * @fmt: a printk() format, and its arguments.
 */
#define KUNIT_FAIL_AND_ABORT(test, fmt, ...) \
	__WS_KUNIT_FAILED(test, true, (void)0, fmt, ##__VA_ARGS__)

/* A kunit_kmalloc() block: kept on the case's list until the case ends. */
struct ws_kunit_alloc {
	struct list_head node;
	u8 data[] __aligned(ARCH_KMALLOC_MINALIGN);
};

/**
 * kunit_kmalloc() - kmalloc() memory that is freed when the case ends.
 * @test: the case's context.
 * @size: the size.
 * @gfp: the allocation flags.
 *
 * Return: the memory, or NULL.
 */
static inline void *kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	struct ws_kunit_alloc *a = kmalloc(struct_size(a, data, size), gfp);

	if (!a)
		return NULL;
	list_add(&a->node, &test->allocs);
	return a->data;
}

/**
 * kunit_kzalloc() - kunit_kmalloc(), zeroed.
 * @test: the case's context.
 * @size: the size.
 * @gfp: the allocation flags.
 *
 * Return: the memory, or NULL.
 */
static inline void *kunit_kzalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	return kunit_kmalloc(test, size, gfp | __GFP_ZERO);
}

/**
 * kunit_kcalloc() - kunit_kzalloc() of an array.
 * @test: the case's context.
 * @n: the number of elements.
 * @size: the size of one.
 * @gfp: the allocation flags.
 *
 * Return: the memory, or NULL (also if n * size overflows).
 */
static inline void *kunit_kcalloc(struct kunit *test, size_t n, size_t size, gfp_t gfp)
{
	return kunit_kzalloc(test, size_mul(n, size), gfp);
}

/* The case's thread: a failed ASSERT leaves it at __ws_kunit_abort(). */
static inline int ws_kunit_case_thread(void *data)
{
	struct kunit *test = data;

	test->run_case(test);
	kthread_complete_and_exit(&test->done, 0);
}

static inline void ws_kunit_run_case(struct kunit_suite *suite, struct kunit_case *c,
				     size_t number)
{
	struct kunit test = { .name = c->name, .suite = suite, .run_case = c->run_case };
	struct ws_kunit_alloc *a, *next;
	struct task_struct *thread;

	INIT_LIST_HEAD(&test.allocs);
	init_completion(&test.done);
	/* KUnit's name for a case's thread. */
	thread = kthread_run(ws_kunit_case_thread, &test, "kunit_try_catch");
	if (IS_ERR(thread)) {
		test.failed = true;
		kunit_info(&test, "no thread to run it: %ld", PTR_ERR(thread));
	} else {
		wait_for_completion(&test.done);
	}
	list_for_each_entry_safe(a, next, &test.allocs, node)
		kfree(a);
	if (c->slow)
		ws_kunit_log(suite, "    # %s.speed: slow", c->name);
	ws_kunit_log(suite, "    %s %zu %s", test.failed ? "not ok" : "ok", number, c->name);
	suite->ws_failed += test.failed;
}

static inline bool ws_kunit_suite_ok(const struct kunit_suite *suite)
{
	return !suite->ws_failed && !suite->ws_lost;
}

/* The lines KUnit prints before a suite's cases: the suite's name, its count. */
#define WS_KUNIT_SUITE_HEADER \
	"KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: %s\n    1..%zu\n"

/*
 * The results file: what KUnit's debugfs prints, the headers it prints
 * around the kept lines included.
 */
static inline int ws_kunit_results_show(struct seq_file *m, void *v)
{
	struct kunit_suite *suite = m->private;

	seq_printf(m, WS_KUNIT_SUITE_HEADER, suite->name, suite->ws_cases);
	seq_puts(m, suite->ws_log ?: "");
	seq_printf(m, "%s 1 %s\n", ws_kunit_suite_ok(suite) ? "ok" : "not ok", suite->name);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ws_kunit_results);

/**
 * ws_kunit_run_suite() - run a suite's cases, publish its KTAP in debugfs.
 * @suite: the suite.
 *
 * Return: 0: failed cases are reported in the KTAP, not by the module load.
 */
static inline int ws_kunit_run_suite(struct kunit_suite *suite)
{
	struct dentry *root;
	struct kunit_case *c;
	size_t n = 0, passed;

	for (c = suite->test_cases; c->run_case; c++)
		suite->ws_cases++;
	/* KUnit prints its headers; its results file adds them when read. */
	printk(KERN_INFO WS_KUNIT_SUITE_HEADER, suite->name, suite->ws_cases);
	for (c = suite->test_cases; c->run_case; c++)
		ws_kunit_run_case(suite, c, ++n);
	passed = n - suite->ws_failed;
	ws_kunit_log(suite, "    # module: %s", KBUILD_MODNAME);
	/* KUnit counts a suite of one case only in its line. */
	if (n > 1) {
		ws_kunit_log(suite, "# %s: pass:%zu fail:%zu skip:0 total:%zu", suite->name,
			     passed, suite->ws_failed, n);
		ws_kunit_log(suite, "# Totals: pass:%zu fail:%zu skip:0 total:%zu",
			     passed, suite->ws_failed, n);
	}
	printk(KERN_INFO "%s 1 %s\n", ws_kunit_suite_ok(suite) ? "ok" : "not ok", suite->name);

	/*
	 * KUnit's debugfs directory: without KUnit, the first suite creates
	 * it, and it stays after that module's unload (another module's
	 * suite may be in it; KUnit's stays too). debugfs takes an error
	 * pointer for a parent and returns it: nothing to check here.
	 */
	root = debugfs_lookup("kunit", NULL);
	suite->ws_dir = debugfs_create_dir(suite->name, root ?: debugfs_create_dir("kunit", NULL));
	dput(root);
	debugfs_create_file("results", 0444, suite->ws_dir, suite, &ws_kunit_results_fops);
	return 0;
}

/**
 * ws_kunit_remove_suite() - remove a suite's results.
 * @suite: the suite.
 */
static inline void ws_kunit_remove_suite(struct kunit_suite *suite)
{
	debugfs_remove(suite->ws_dir);
	kfree(suite->ws_log);
}

/**
 * kunit_test_suite() - run the suite when the module is loaded.
 * @suite: the struct kunit_suite.
 *
 * Defines the module's init and exit.
 */
#define kunit_test_suite(suite)						\
	static int __init ws_kunit_init(void)				\
	{								\
		return ws_kunit_run_suite(&(suite));			\
	}								\
	module_init(ws_kunit_init);					\
	static void __exit ws_kunit_exit(void)				\
	{								\
		ws_kunit_remove_suite(&(suite));			\
	}								\
	module_exit(ws_kunit_exit)

#endif /* CONFIG_KUNIT && !WS_KTAP_RUNNER */
#endif /* WS_KUNIT_H */
