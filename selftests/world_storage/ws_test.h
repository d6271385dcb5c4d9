/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the world storage kselftests: commands to the Rust test
 * client (ws_test_client.ko) through its debugfs control file.
 */
#ifndef WS_TEST_H
#define WS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest.h"

#define WS_CONTROL "/sys/kernel/debug/ws_test_client/control"

static inline pid_t ws_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Sends one command; returns 0 or -errno. */
static inline int ws_cmd(const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	ssize_t n;
	int fd, err = 0;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(WS_CONTROL, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, strlen(buf));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Reads the calling task's last result line into buf. */
static inline int ws_result(char *buf, size_t len)
{
	ssize_t n;
	int fd = open(WS_CONTROL, O_RDONLY);

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

/* Skips the whole test if the client is not loaded. */
static inline void ws_require_client(void)
{
	if (access(WS_CONTROL, W_OK))
		ksft_exit_skip("ws_test_client.ko is not loaded\n");
}

#endif /* WS_TEST_H */
