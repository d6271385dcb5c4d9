/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the memory cgroup kselftests: cgroup v2 mounted with the memory
 * controller enabled for the root's children, files of a cgroup written and
 * read.
 */
#ifndef WS_CGROUP_H
#define WS_CGROUP_H

#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "ws_test.h"

#define WS_CGROUP_ROOT "/sys/fs/cgroup"
#define WS_CGROUP2_MAGIC 0x63677270

/* Writes `value` to file `name` of cgroup `group` ("" for the root). */
static inline int ws_cg_write(const char *group, const char *name, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), WS_CGROUP_ROOT "/%s/%s", group, name);
	return ws_write_file(path, value);
}

/* The number in file `name` of cgroup `group`, -1 if unreadable or "max". */
static inline long long ws_cg_value(const char *group, const char *name)
{
	char path[256];
	long long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), WS_CGROUP_ROOT "/%s/%s", group, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

/* memory.current of `group` in bytes, -1 if unreadable. */
static inline long long ws_cg_memory(const char *group)
{
	return ws_cg_value(group, "memory.current");
}

/* Mounts cgroup2 if it is not; 0, or a reason to skip. */
static inline const char *ws_cgroup2_ready(void)
{
	struct statfs fs;
	char line[256] = "";
	FILE *f;

	if (statfs(WS_CGROUP_ROOT, &fs) || fs.f_type != WS_CGROUP2_MAGIC)
		if (mount("cgroup2", WS_CGROUP_ROOT, "cgroup2", 0, NULL))
			return "cgroup2 cannot be mounted (CONFIG_CGROUPS?)";
	f = fopen(WS_CGROUP_ROOT "/cgroup.controllers", "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	if (!strstr(line, "memory"))
		return "no memory controller (CONFIG_MEMCG?)";
	if (ws_cg_write("", "cgroup.subtree_control", "+memory"))
		return "cannot enable the memory controller";
	return NULL;
}

/*
 * The start of every memory cgroup test: the header, the client check, the
 * skip without a memory controller, the plan; and orphaned tasks of a
 * killed cgroup come back to this process to be reaped.
 */
static inline void ws_cgroup_test_start(unsigned int plan)
{
	const char *why;

	ksft_print_header();
	ws_require_client();
	why = ws_cgroup2_ready();
	if (why)
		ksft_exit_skip("%s\n", why);
	ksft_set_plan(plan);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Makes cgroup `group` (it may exist already), or ends the test. */
static inline void ws_cg_make(const char *group)
{
	char path[256];

	snprintf(path, sizeof(path), WS_CGROUP_ROOT "/%s", group);
	if (mkdir(path, 0755) && errno != EEXIST)
		ksft_exit_fail_msg("mkdir %s: %s\n", path, strerror(errno));
}

/*
 * The end of every memory cgroup test that made `n` cgroups `groups`: back
 * to the root cgroup, the cgroups removed, the totals.
 */
static inline void __attribute__((noreturn)) ws_cgroup_test_end(const char *const *groups,
								  unsigned int n)
{
	char path[256];
	unsigned int g;

	ws_cg_write("", "cgroup.procs", "0");
	for (g = 0; g < n; g++) {
		snprintf(path, sizeof(path), WS_CGROUP_ROOT "/%s", groups[g]);
		rmdir(path);
	}
	ksft_finished();
}

/*
 * Tasks that sleep in a cgroup until it is killed: a child joins the cgroup
 * (ws_cg_sleepers_start()), then, when told (ws_cg_sleepers_make()), makes
 * the tasks and reports. The caller reads the cgroup's memory in between.
 */
struct ws_cg_sleepers {
	int ready[2], go[2], done[2];
};

/*
 * Forks a child that joins `group` and waits to make `tasks` tasks with
 * `spawn(arg)` (a fork()), each of which sleeps. 0 once it is in the
 * cgroup, or -1.
 */
static inline int ws_cg_sleepers_start(struct ws_cg_sleepers *s, const char *group, int tasks,
				       pid_t (*spawn)(int), int arg)
{
	pid_t pid;
	char c;
	int i;

	if (pipe(s->ready) || pipe(s->go) || pipe(s->done))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (ws_cg_write(group, "cgroup.procs", "0") || write(s->ready[1], "r", 1) != 1 ||
		    read(s->go[0], &c, 1) != 1)
			_exit(1);
		for (i = 0; i < tasks; i++) {
			pid = spawn(arg);
			if (pid < 0)
				_exit(1);
			if (pid == 0) {
				pause();
				_exit(0);
			}
		}
		if (write(s->done[1], "d", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	/* The child's ends: a child that fails is then seen at once. */
	close(s->ready[1]);
	close(s->go[0]);
	close(s->done[1]);
	return read(s->ready[0], &c, 1) == 1 ? 0 : -1;
}

/* Has the child make its tasks; 0 once they all exist, or -1. */
static inline int ws_cg_sleepers_make(struct ws_cg_sleepers *s)
{
	int ret;
	char c;

	ret = write(s->go[1], "g", 1) == 1 && read(s->done[0], &c, 1) == 1 ? 0 : -1;
	close(s->ready[0]);
	close(s->go[1]);
	close(s->done[0]);
	return ret;
}

/* fork(), for ws_cg_sleepers_start(). */
static inline pid_t ws_fork(int unused)
{
	(void)unused;
	return fork();
}

#endif /* WS_CGROUP_H */
