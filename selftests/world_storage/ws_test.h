/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the world storage kselftests: commands to the test
 * clients (ws_test_client.ko in Rust, ws_c_client.ko in C) through their
 * debugfs control files, and the numbers world storage shows in debugfs.
 */
#ifndef WS_TEST_H
#define WS_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest.h"

#define WS_CONTROL "/sys/kernel/debug/ws_test_client/control"
#define WS_C_CONTROL "/sys/kernel/debug/ws_c_client/control"
#define WS_STATS "/sys/kernel/debug/world_storage/stats"
#define WS_REGIONS "/sys/kernel/debug/world_storage/regions"
#define WS_C_VISIT "/sys/kernel/debug/ws_c_client/visit"

static inline pid_t ws_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Writes one command to a client's control file; returns 0 or -errno. */
static inline int ws_vcmd(const char *control, const char *fmt, va_list ap)
{
	char buf[128];
	ssize_t n;
	int fd, err = 0;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fd = open(control, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, strlen(buf));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Writes `value` to the file at `path`; 0 or -errno. */
static inline int ws_write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_TRUNC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Reads a client's result line into buf. */
static inline int ws_read_result(const char *control, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(control, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Sends one command to the Rust client; returns 0 or -errno. */
static inline __attribute__((format(printf, 1, 2))) int ws_cmd(const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = ws_vcmd(WS_CONTROL, fmt, ap);
	va_end(ap);
	return err;
}

/* Reads the calling task's last result line of the Rust client into buf. */
static inline int ws_result(char *buf, size_t len)
{
	return ws_read_result(WS_CONTROL, buf, len);
}

/* Sends one command to the C client; returns 0 or -errno. */
static inline __attribute__((format(printf, 1, 2))) int ws_c_cmd(const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = ws_vcmd(WS_C_CONTROL, fmt, ap);
	va_end(ap);
	return err;
}

/* Reads the C client's last result line into buf. */
static inline int ws_c_result(char *buf, size_t len)
{
	return ws_read_result(WS_C_CONTROL, buf, len);
}

/* Runs a command whose result is "wid=W value=V"; returns 0 or -errno. */
static inline int ws_query(int *wid, unsigned long long *value, const char *fmt, ...)
{
	char cmd[128], res[128];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	err = ws_cmd("%s", cmd);
	if (err)
		return err;
	err = ws_result(res, sizeof(res));
	if (err)
		return err;
	if (sscanf(res, "wid=%d value=%llu", wid, value) != 2)
		return -EPROTO;
	return 0;
}

/* Constructor and destructor calls of a region slot so far. */
static inline int ws_counts(int slot, long *ctor, long *dtor)
{
	char res[128];
	int err = ws_cmd("counts %d", slot);

	if (!err)
		err = ws_result(res, sizeof(res));
	if (!err && sscanf(res, "ctor=%ld dtor=%ld", ctor, dtor) != 2)
		err = -EPROTO;
	return err;
}

/* The value of `name` in a file of "name value" lines, -1 if absent. */
static inline long ws_file_value(const char *path, const char *name)
{
	char key[64];
	long value, found = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &value) == 2)
		if (!strcmp(key, name))
			found = value;
	fclose(f);
	return found;
}

/* Threads in the system, from /proc/<pid>/task. */
static inline long ws_count_threads(void)
{
	DIR *proc = opendir("/proc"), *tasks;
	struct dirent *p, *t;
	char path[300];
	long n = 0;

	if (!proc)
		return -1;
	while ((p = readdir(proc))) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		tasks = opendir(path);
		if (!tasks)
			continue;
		while ((t = readdir(tasks)))
			n += t->d_name[0] != '.';
		closedir(tasks);
	}
	closedir(proc);
	return n;
}

/* The number of lines of the kernel log that contain `needle`. */
static inline int ws_kernel_log_lines(const char *needle)
{
	char line[1024];
	int found = 0;
	FILE *f = popen("dmesg", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		found += strstr(line, needle) != NULL;
	pclose(f);
	return found;
}

/* One line of debugfs `regions`. */
struct ws_region {
	unsigned long long handle;
	char owner[64];
	unsigned int size, align;
	long objects, bytes, remote_refs, ctor_failures;
	/* "live", or "destroying" while a Destroy waits or sweeps. */
	char state[16];
};

/*
 * Finds the line of the region owned by `owner` and named `handle`, or with
 * handle 0 the last region owned by `owner`; 1 if found.
 */
static inline int ws_find_region(unsigned long long handle, const char *owner,
				 struct ws_region *found)
{
	char line[256], ctor[4], dtor[4];
	struct ws_region r;
	int ok = 0;
	FILE *f = fopen(WS_REGIONS, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %63s %u %u %3s %3s %ld %ld %ld %ld %15s", &r.handle, r.owner,
			   &r.size, &r.align, ctor, dtor, &r.objects, &r.bytes, &r.remote_refs,
			   &r.ctor_failures, r.state) != 11)
			continue;
		if (!strcmp(r.owner, owner) && (!handle || r.handle == handle)) {
			*found = r;
			ok = 1;
		}
	}
	fclose(f);
	return ok;
}

/* Writes one command to the C client's visit file; 0 or -errno. */
static inline __attribute__((format(printf, 1, 2))) int ws_visit_cmd(const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = ws_vcmd(WS_C_VISIT, fmt, ap);
	va_end(ap);
	return err;
}

/* What the C client's visit file shows (see ws_c_client.c). */
struct ws_visit_file {
	unsigned long long handle;
	int visiting, progress;
	int ret, visited, marked, dups, dead;
	unsigned long long sum;
	int destroy, running, ended;
	int paused, hits, watch_dtors, nested;
};

/* Reads the visit file; 1 if every field was found. */
static inline int ws_visit_read(struct ws_visit_file *v)
{
	char text[512];
	int fd = open(WS_C_VISIT, O_RDONLY), n;

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	memset(v, 0, sizeof(*v));
	return sscanf(text,
		      "handle=%llx running=%d progress=%d\n"
		      "run ret=%d visited=%d marked=%d sum=%llu dups=%d dead=%d\n"
		      "destroy destroy=%d running=%d ended=%d\n"
		      "adv paused=%d hits=%d watch_dtors=%d nested=%d",
		      &v->handle, &v->visiting, &v->progress, &v->ret, &v->visited, &v->marked,
		      &v->sum, &v->dups, &v->dead, &v->destroy, &v->running, &v->ended, &v->paused,
		      &v->hits, &v->watch_dtors, &v->nested) == 16;
}

/* Skips the whole test if the client is not loaded. */
/* A command to the C client run on a thread of its own (a Destroy that blocks). */
struct ws_background_cmd {
	pthread_t thread;
	const char *cmd;
	/* The Rust client's (ws_cmd) or the C client's (ws_c_cmd). */
	int (*run)(const char *fmt, ...);
	atomic_int done;
	int err;
};

static inline void *ws_background_cmd_thread(void *arg)
{
	struct ws_background_cmd *b = arg;

	b->err = b->run("%s", b->cmd);
	atomic_store(&b->done, 1);
	return NULL;
}

static inline void ws_background_start(struct ws_background_cmd *b,
				       int (*run)(const char *fmt, ...), const char *cmd)
{
	b->cmd = cmd;
	b->run = run;
	b->err = 1;
	atomic_store(&b->done, 0);
	if (pthread_create(&b->thread, NULL, ws_background_cmd_thread, b))
		ksft_exit_fail_msg("pthread_create\n");
}

/* Starts the C client's `cmd` (a string that outlives it) on its own thread. */
static inline void ws_background_c_cmd(struct ws_background_cmd *b, const char *cmd)
{
	ws_background_start(b, ws_c_cmd, cmd);
}

/* Starts the Rust client's `cmd` (a string that outlives it) on its own thread. */
static inline void ws_background_cmd(struct ws_background_cmd *b, const char *cmd)
{
	ws_background_start(b, ws_cmd, cmd);
}

/* Whether the command has returned. */
static inline int ws_background_done(struct ws_background_cmd *b)
{
	return atomic_load(&b->done);
}

/* Waits for the command; its result (0, or -errno). */
static inline int ws_background_join(struct ws_background_cmd *b)
{
	pthread_join(b->thread, NULL);
	return b->err;
}

static inline void ws_require_client(void)
{
	if (access(WS_CONTROL, W_OK))
		ksft_exit_skip("ws_test_client.ko is not loaded\n");
}

/* Loads the C client (each test that uses it loads and unloads it). */
static inline void ws_load_c_client(void)
{
	if (system("insmod /modules/ws_c_client.ko"))
		ksft_exit_fail_msg("insmod ws_c_client.ko\n");
}

/* Unloads the C client, which destroys its regions. */
static inline int ws_unload_c_client(void)
{
	return system("rmmod ws_c_client");
}

#endif /* WS_TEST_H */
