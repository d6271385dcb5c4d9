// SPDX-License-Identifier: GPL-2.0
/*
 * The trace events of world storage (tracefs, events/world_storage/): each
 * case enables its events, does the operation through a test client, reads
 * the trace buffer and checks each field against what the client or
 * debugfs shows; then disables them and empties the buffer. A disabled
 * event records nothing.
 */

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "ws_test.h"

#define TRACING "/sys/kernel/tracing"
#define EVENTS TRACING "/events/world_storage"
#define MAX_LINES 4096

/* How long the region_destroy case holds a reference while Destroy waits. */
#define HOLD_MS 300
/* What its waited_us must reach at least (a lower bound only). */
#define WAITED_US_MIN 200000ULL

static const char *const all_events[] = {
	"region_create", "region_destroy", "constructor_failure",
	"task_failed", "bad_release", "owner_unload",
};

/* The trace buffer read last, cut into lines (comments left out). */
static char trace_text[1 << 20];
static char *trace_lines[MAX_LINES];
static int nr_trace_lines;

/* Disables every event of world_storage and empties the trace buffer. */
static void trace_reset(void)
{
	ws_write_file(EVENTS "/enable", "0");
	ws_write_file(TRACING "/trace", "");
}

/* Empties the buffer, then enables the events named (NULL-terminated). */
static int trace_start(const char *event, ...)
{
	char path[256];
	va_list ap;
	int err = 0;

	trace_reset();
	va_start(ap, event);
	for (; event && !err; event = va_arg(ap, const char *)) {
		snprintf(path, sizeof(path), EVENTS "/%s/enable", event);
		err = ws_write_file(path, "1");
		if (err)
			ksft_print_msg("enable %s: %s\n", event, strerror(-err));
	}
	va_end(ap);
	return err;
}

/* Reads the trace buffer into trace_lines (and shows it), then resets. */
static void trace_stop(void)
{
	char *line, *save;
	size_t len = 0;
	ssize_t n;
	int fd = open(TRACING "/trace", O_RDONLY);

	nr_trace_lines = 0;
	if (fd >= 0) {
		while ((n = read(fd, trace_text + len, sizeof(trace_text) - 1 - len)) > 0)
			len += n;
		close(fd);
	}
	trace_text[len] = '\0';
	for (line = strtok_r(trace_text, "\n", &save); line && nr_trace_lines < MAX_LINES;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		trace_lines[nr_trace_lines++] = line;
		ksft_print_msg("trace:%s\n", line);
	}
	trace_reset();
}

/* The fields of the i-th (from 0) line of `event` read last, or NULL. */
static const char *event_fields(const char *event, int i)
{
	char tag[64];
	const char *p;
	int k;

	snprintf(tag, sizeof(tag), " %s: ", event);
	for (k = 0; k < nr_trace_lines; k++) {
		p = strstr(trace_lines[k], tag);
		if (p && i-- == 0)
			return p + strlen(tag);
	}
	return NULL;
}

/* The lines of `event` read last. */
static int event_count(const char *event)
{
	int i = 0;

	while (event_fields(event, i))
		i++;
	return i;
}

/* A region_create line's fields. */
struct created {
	unsigned long long handle;
	unsigned int size, align;
	char owner[64], ctor[4], dtor[4];
};

/* The i-th region_create line read last; 1 if there is one. */
static int region_created(int i, struct created *c)
{
	const char *f = event_fields("region_create", i);

	return f && sscanf(f, "handle=%llx size=%u align=%u owner=%63s ctor=%3s dtor=%3s",
			   &c->handle, &c->size, &c->align, c->owner, c->ctor, c->dtor) == 6;
}

/* The region_destroy line of `handle` read last; 1 if there is one. */
static int region_destroyed(unsigned long long handle, unsigned long long *objects,
			    unsigned long long *waited_us)
{
	unsigned long long h;
	const char *f;
	int i;

	for (i = 0; (f = event_fields("region_destroy", i)); i++)
		if (sscanf(f, "handle=%llx objects=%llu waited_us=%llu", &h, objects,
			   waited_us) == 3 && h == handle)
			return 1;
	return 0;
}

/* The constructor_failure line of world `wid` read last; 1 if there is one. */
static int constructor_failed(int wid, unsigned long long *handle, int *err)
{
	const char *f;
	int i, w;

	for (i = 0; (f = event_fields("constructor_failure", i)); i++)
		if (sscanf(f, "wid=%d handle=%llx err=%d", &w, handle, err) == 3 && w == wid)
			return 1;
	return 0;
}

/* The fate in the task_failed line of world `wid` read last, or "". */
static const char *task_fate(int wid)
{
	static char fate[32];
	const char *f;
	int i, w;

	for (i = 0; (f = event_fields("task_failed", i)); i++)
		if (sscanf(f, "wid=%d fate=%31s", &w, fate) == 2 && w == wid)
			return fate;
	return "";
}

/* The C client's `create SIZE ALIGN`: its region number and handle; 0 or -errno. */
static int c_create(unsigned int size, unsigned int align, unsigned int *index,
		    unsigned long long *handle)
{
	char res[128];
	int err = ws_c_cmd("create %u %u", size, align);

	if (!err)
		err = ws_c_result(res, sizeof(res));
	if (!err && sscanf(res, "region=%u handle=%llx", index, handle) != 2)
		err = -EPROTO;
	return err;
}

/* With every event disabled, Create and Destroy leave the buffer empty. */
static void disabled_events_record_nothing(void)
{
	unsigned long long handle = 0;
	unsigned int index = 0, i;
	int err, found = 0;

	trace_start(NULL);
	err = c_create(16, 8, &index, &handle) ?: ws_c_cmd("destroy %u", index);
	trace_stop();
	for (i = 0; i < ARRAY_SIZE(all_events); i++)
		found += event_count(all_events[i]);
	ksft_test_result(!err && !found, "disabled_events_record_nothing\n");
}

/* region_create of a C region without callbacks: the client's handle, size, align. */
static void region_create_c(void)
{
	unsigned long long handle = 0;
	struct created c = { 0 };
	unsigned int index = 0;
	int err, ok;

	err = trace_start("region_create", NULL) ?: c_create(24, 16, &index, &handle);
	trace_stop();
	ok = !err && event_count("region_create") == 1 && region_created(0, &c) &&
	     c.handle == handle && c.size == 24 && c.align == 16 &&
	     !strcmp(c.owner, "ws_c_client") && !strcmp(c.ctor, "no") && !strcmp(c.dtor, "no");
	ksft_print_msg("client: handle %#llx\n", handle);
	ksft_test_result(ok, "region_create_c_client\n");
	ws_c_cmd("destroy %u", index);
}

/* region_create of a Rust region (constructor and destructor): debugfs's line. */
static void region_create_rust(void)
{
	struct created c = { 0 };
	struct ws_region r = { 0 };
	int err, ok;

	err = trace_start("region_create", NULL) ?: ws_cmd("create 1");
	trace_stop();
	ok = !err && event_count("region_create") == 1 && region_created(0, &c) &&
	     ws_find_region(c.handle, "ws_test_client", &r) && c.size == r.size &&
	     c.align == r.align && r.size > 0 && !strcmp(c.owner, "ws_test_client") &&
	     !strcmp(c.ctor, "yes") && !strcmp(c.dtor, "yes");
	ksft_print_msg("debugfs: handle %#llx size %u align %u\n", r.handle, r.size, r.align);
	ksft_test_result(ok, "region_create_rust_client\n");
	ws_cmd("destroy 1");
}

/*
 * region_destroy of a region whose Destroy waits HOLD_MS for a reference:
 * its objects (debugfs's count, read while it waits: the test's threads
 * stay alive, no new world gets one) and a wait of at least WAITED_US_MIN.
 */
static void region_destroy_fields(void)
{
	static char destroy_cmd[32];
	unsigned long long handle = 0, objects = 0, waited_us = 0;
	struct ws_background_cmd destroyer;
	struct ws_region r = { 0 };
	unsigned int index = 0;
	int err, waiting = 0, i, destroyed, found;

	err = c_create(16, 8, &index, &handle) ?: ws_c_cmd("hold %u %d", index, getpid()) ?:
	      trace_start("region_destroy", NULL);
	if (err) {
		ksft_test_result_fail("region_destroy_objects_and_wait: setup %d\n", err);
		trace_reset();
		return;
	}
	snprintf(destroy_cmd, sizeof(destroy_cmd), "destroy %u", index);
	ws_background_c_cmd(&destroyer, destroy_cmd);
	for (i = 0; i < 2000 && !waiting; i++) {
		waiting = ws_find_region(handle, "ws_c_client", &r) &&
			  !strcmp(r.state, "destroying");
		if (!waiting)
			usleep(10000);
	}
	usleep(HOLD_MS * 1000);
	ws_c_cmd("unhold");
	err = ws_background_join(&destroyer);
	trace_stop();
	found = event_count("region_destroy") == 1;
	destroyed = region_destroyed(handle, &objects, &waited_us);
	ksft_print_msg("debugfs while waiting: %ld objects; destroy: %d\n", r.objects, err);
	ksft_print_msg("event: objects %llu, waited %llu us\n", objects, waited_us);
	ksft_test_result(waiting && !err && found && destroyed && r.objects > 0 &&
			 objects == (unsigned long long)r.objects && waited_us >= WAITED_US_MIN,
			 "region_destroy_objects_and_wait\n");
}

/*
 * A constructor fails in Create's scan of the existing worlds (the fourth):
 * the region was published, the failure names it with the constructor's
 * error, and its Destroy destructed the 3 objects constructed.
 */
static void constructor_failure_in_create(void)
{
	unsigned long long handle = 0, objects = 0, waited_us = 0;
	struct created c = { 0 };
	int err, ctor_err = 0, wid = 0, ok;
	const char *f;

	trace_start("region_create", "constructor_failure", "region_destroy", NULL);
	ws_cmd("fail after 3");
	err = ws_cmd("create 1");
	ws_cmd("fail none");
	trace_stop();
	f = event_fields("constructor_failure", 0);
	ok = err == -EDOM && region_created(0, &c) && event_count("constructor_failure") == 1 &&
	     f && sscanf(f, "wid=%d handle=%llx err=%d", &wid, &handle, &ctor_err) == 3 &&
	     wid > 0 && handle == c.handle && ctor_err == -EDOM &&
	     region_destroyed(c.handle, &objects, &waited_us) && objects == 3;
	ksft_print_msg("create: %d\n", err);
	ksft_test_result(ok, "constructor_failure_in_create\n");
}

/* The handle of the Rust client's region (its only one); 0 if none. */
static unsigned long long rust_region(void)
{
	struct ws_region r;

	return ws_find_region(0, "ws_test_client", &r) ? r.handle : 0;
}

/*
 * A user task whose constructor fails: constructor_failure with its TID, the
 * region and the constructor's error, and task_failed: killed.
 */
static void user_task_constructor_failure(void)
{
	unsigned long long region, handle = 0;
	int err, ctor_err = 0, status = 0, failed;
	pid_t child;

	err = ws_cmd("create 1");
	region = rust_region();
	err = err ?: trace_start("constructor_failure", "task_failed", NULL);
	ws_cmd("fail all");
	child = fork();
	if (child == 0)
		_exit(0);
	ws_cmd("fail none");
	if (child > 0)
		waitpid(child, &status, 0);
	trace_stop();
	ksft_print_msg("child %d: %s %d\n", child, WIFSIGNALED(status) ? "signal" : "exit",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	failed = constructor_failed(child, &handle, &ctor_err);
	ksft_test_result(!err && child > 0 && region && failed && handle == region &&
			 ctor_err == -EDOM, "constructor_failure_user_task\n");
	ksft_test_result(child > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
			 !strcmp(task_fate(child), "killed"), "task_failed_user_task_killed\n");
}

/*
 * A kernel thread whose constructor fails (made by the C client while the
 * Rust client's constructor fails): constructor_failure with its TID, and
 * task_failed: kept. Destroys the Rust client's region.
 */
static void kthread_constructor_failure(void)
{
	unsigned long long region = rust_region(), handle = 0;
	int err, ctor_err = 0, tid = 0, failed;
	char res[128];

	err = trace_start("constructor_failure", "task_failed", NULL);
	ws_cmd("fail all");
	err = err ?: ws_c_cmd("kthread");
	ws_cmd("fail none");
	trace_stop();
	if (!err && (ws_c_result(res, sizeof(res)) || sscanf(res, "tid=%d", &tid) != 1))
		err = -EPROTO;
	ksft_print_msg("kthread: %d, tid %d\n", err, tid);
	failed = constructor_failed(tid, &handle, &ctor_err);
	ksft_test_result(!err && tid > 0 && region && failed && handle == region &&
			 ctor_err == -EDOM, "constructor_failure_kernel_thread\n");
	ksft_test_result(!err && tid > 0 && !strcmp(task_fate(tid), "kept_kernel_task"),
			 "task_failed_kernel_thread_kept\n");
	ws_cmd("destroy 1");
}

/*
 * A refused release: the world ID it named and the pointer, read with the
 * hash-ptr option off (%p in events prints the raw address).
 */
static void bad_release(void)
{
	char res[128], client_object[64] = "", object[64] = "";
	const char *f;
	int err, wid = 0;
	pid_t me = ws_gettid();

	err = ws_write_file(TRACING "/options/hash-ptr", "0") ?: trace_start("bad_release", NULL);
	err = err ?: ws_c_cmd("badrelease %d", me);
	trace_stop();
	ws_write_file(TRACING "/options/hash-ptr", "1");
	if (ws_c_result(res, sizeof(res)) || sscanf(res, "object=%63s", client_object) != 1)
		client_object[0] = '\0';
	f = event_fields("bad_release", 0);
	ksft_print_msg("release: %d, client's pointer %s\n", err, client_object);
	ksft_test_result(err == -EINVAL && event_count("bad_release") == 1 && f &&
			 sscanf(f, "wid=%d object=%63s", &wid, object) == 2 && wid == me &&
			 client_object[0] &&
			 strspn(client_object, "0123456789abcdef") == strlen(client_object) &&
			 !strcmp(object, client_object),
			 "bad_release\n");
}

/* The C client unloads and leaves a region: owner_unload, then its region_destroy. */
static void owner_unload(void)
{
	unsigned long long handle = 0, unloaded = 0, objects, waited_us;
	char owner[64] = "";
	unsigned int index = 0;
	const char *f;
	int err;

	err = c_create(8, 8, &index, &handle) ?: ws_c_cmd("leak %u", index) ?:
	      trace_start("owner_unload", "region_destroy", NULL) ?: ws_unload_c_client();
	trace_stop();
	f = event_fields("owner_unload", 0);
	ksft_test_result(!err && event_count("owner_unload") == 1 && f &&
			 sscanf(f, "owner=%63s handle=%llx", owner, &unloaded) == 2 &&
			 !strcmp(owner, "ws_c_client") && unloaded == handle &&
			 region_destroyed(handle, &objects, &waited_us),
			 "owner_unload\n");
}

int main(void)
{
	ksft_print_header();
	ws_require_client();
	if (access(TRACING "/trace", F_OK) && mount("nodev", TRACING, "tracefs", 0, NULL))
		ksft_exit_fail_msg("mount tracefs: %s\n", strerror(errno));
	if (access(EVENTS, F_OK))
		ksft_exit_fail_msg(EVENTS ": %s\n", strerror(errno));
	if (ws_write_file(TRACING "/tracing_on", "1"))
		ksft_exit_fail_msg("tracing_on: %s\n", strerror(errno));
	ksft_set_plan(11);
	ws_load_c_client();

	disabled_events_record_nothing();
	region_create_c();
	region_create_rust();
	region_destroy_fields();
	constructor_failure_in_create();
	user_task_constructor_failure();
	kthread_constructor_failure();
	bad_release();
	owner_unload();
	ksft_finished();
}
