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
	int fd, err = 0;

	snprintf(path, sizeof(path), WS_CGROUP_ROOT "/%s/%s", group, name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
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

#endif /* WS_CGROUP_H */
