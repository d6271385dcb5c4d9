// SPDX-License-Identifier: GPL-2.0
/*
 * doc_clients: the example clients of Documentation/world-storage.rst,
 * built by `make check` with the document's own recipes, print exactly what
 * the document says they print. For each doc-clients/<module>.expected
 * (extracted from the document, next to this program), load
 * /modules/<module>.ko, unload it, and compare the kernel log lines that
 * start with "<module>: " with the expected lines. An example that is a
 * shell script, doc-clients/<name>.sh, is run instead (with sh, in
 * /modules) and its output compared. In an expected line, every word "N"
 * is a number (decimal, or hex with 0x), the same number each time in that
 * line (e.g. "N objects constructed, N destructed").
 */

#include <ctype.h>
#include <dirent.h>

#include "ws_test.h"

#define DIR_EXPECTED "doc-clients"
#define MAX_LINES 16
#define LINE_LEN 256

/* Whether `line` matches the expected line `want`. */
static int line_matches(const char *want, const char *line)
{
	long n = -1;

	while (*want) {
		if (want[0] == 'N' && !isalnum((unsigned char)want[1]) &&
		    isdigit((unsigned char)*line)) {
			char *end;
			long got = strtol(line, &end, 0);

			if (n >= 0 && got != n)
				return 0;
			n = got;
			line = end;
			want++;
			continue;
		}
		if (*want++ != *line++)
			return 0;
	}
	return *line == '\0';
}

static int read_lines(const char *path, char lines[][LINE_LEN])
{
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (n < MAX_LINES && fgets(lines[n], LINE_LEN, f)) {
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

/* Loads and unloads the module; collects its log lines (prefix stripped). */
static int run_module(const char *module, char lines[][LINE_LEN])
{
	char path[LINE_LEN], rec[1024], prefix[LINE_LEN];
	int kmsg, fd, n = 0, err;
	ssize_t len;

	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0)
		return -errno;
	lseek(kmsg, 0, SEEK_END);
	snprintf(path, sizeof(path), "/modules/%s.ko", module);
	fd = open(path, O_RDONLY);
	err = fd < 0 || syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (!err && syscall(SYS_delete_module, module, O_NONBLOCK))
		err = -errno;
	snprintf(prefix, sizeof(prefix), "%s: ", module);
	while (!err && n < MAX_LINES && (len = read(kmsg, rec, sizeof(rec) - 1)) > 0) {
		char *msg = strchr(rec, ';');

		rec[len] = '\0';
		if (!msg || strncmp(++msg, prefix, strlen(prefix)))
			continue;
		msg += strlen(prefix);
		msg[strcspn(msg, "\n")] = '\0';
		snprintf(lines[n++], LINE_LEN, "%s", msg);
	}
	close(kmsg);
	return err ? err : n;
}

/* Runs the script `path` with sh in /modules; collects its output lines. */
static int run_script(const char *path, char lines[][LINE_LEN])
{
	char cmd[3 * LINE_LEN], cwd[LINE_LEN];
	int n = 0;
	FILE *out;

	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	snprintf(cmd, sizeof(cmd), "cd /modules && sh %s/%s", cwd, path);
	out = popen(cmd, "r");
	if (!out)
		return -errno;
	while (n < MAX_LINES && fgets(lines[n], LINE_LEN, out)) {
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	return pclose(out) ? -EIO : n;
}

static int check_client(const char *module)
{
	char want[MAX_LINES][LINE_LEN], got[MAX_LINES][LINE_LEN], path[LINE_LEN];
	int nwant, ngot, i, ok;

	snprintf(path, sizeof(path), DIR_EXPECTED "/%s.expected", module);
	nwant = read_lines(path, want);
	snprintf(path, sizeof(path), DIR_EXPECTED "/%s.sh", module);
	ngot = access(path, R_OK) ? run_module(module, got) : run_script(path, got);
	if (nwant <= 0 || ngot < 0) {
		ksft_print_msg("%s: %d expected lines, load/unload: %s\n", module, nwant,
			       ngot < 0 ? strerror(-ngot) : "ok");
		return 0;
	}
	ok = ngot == nwant;
	for (i = 0; i < nwant || i < ngot; i++) {
		int match = i < nwant && i < ngot && line_matches(want[i], got[i]);

		ok &= match;
		if (!match)
			ksft_print_msg("%s line %d: expected \"%s\", got \"%s\"\n", module, i + 1,
				       i < nwant ? want[i] : "", i < ngot ? got[i] : "");
	}
	return ok;
}

int main(void)
{
	char modules[8][LINE_LEN];
	struct dirent *e;
	int n = 0, i;
	DIR *d;

	ksft_print_header();
	d = opendir(DIR_EXPECTED);
	while (d && n < 8 && (e = readdir(d))) {
		char *dot = strrchr(e->d_name, '.');

		if (dot && !strcmp(dot, ".expected")) {
			*dot = '\0';
			snprintf(modules[n++], LINE_LEN, "%s", e->d_name);
		}
	}
	if (d)
		closedir(d);
	/* The document has a C client, two Rust clients and a trace script. */
	ksft_set_plan(1 + n);
	ksft_test_result(n == 4, "four_examples_extracted (%d)\n", n);
	for (i = 0; i < n; i++)
		ksft_test_result(check_client(modules[i]), "%s_prints_what_the_document_says\n",
				 modules[i]);
	ksft_finished();
}
