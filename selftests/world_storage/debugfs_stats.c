// SPDX-License-Identifier: GPL-2.0
/*
 * The numbers in /sys/kernel/debug/world_storage/ move as expected: a
 * region shows up in `regions`, N new threads make N more objects in
 * `stats`, and Destroy takes them all away.
 */

#include "ws_test.h"

#define THREADS 6
#define STATS "/sys/kernel/debug/world_storage/stats"
#define REGIONS "/sys/kernel/debug/world_storage/regions"

static pthread_barrier_t started, stop;

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&stop);
	return NULL;
}

static long stat(const char *name)
{
	return ws_file_value(STATS, name);
}

/* The region line owned by ws_test_client: its fields, or 0 if none. */
static int client_region(unsigned int *size, unsigned int *align, char *ctor, char *dtor,
			 long *objects, long *bytes)
{
	char line[256], owner[64];
	unsigned long long handle;
	long refs, failures;
	int found = 0;
	FILE *f = fopen(REGIONS, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %63s %u %u %3s %3s %ld %ld %ld %ld", &handle, owner, size,
			   align, ctor, dtor, objects, bytes, &refs, &failures) == 10 &&
		    !strcmp(owner, "ws_test_client"))
			found = 1;
	fclose(f);
	return found;
}

int main(void)
{
	long objects0, objects1, objects2, regions0, objects, bytes;
	pthread_t threads[THREADS];
	unsigned int size, align;
	char ctor[4], dtor[4];
	int i;

	ksft_print_header();
	ws_require_client();
	if (access(STATS, R_OK))
		ksft_exit_skip("no %s\n", STATS);
	ksft_set_plan(5);

	regions0 = stat("regions");
	ksft_test_result(ws_cmd("create 3") == 0 && stat("regions") == regions0 + 1,
			 "region_counted\n");
	ksft_test_result(client_region(&size, &align, ctor, dtor, &objects, &bytes) &&
			 size == 16 && align == 8 && !strcmp(ctor, "yes") &&
			 !strcmp(dtor, "yes") && bytes == objects * 16,
			 "region_line_shows_layout_and_callbacks\n");

	objects0 = stat("objects");
	pthread_barrier_init(&started, NULL, THREADS + 1);
	pthread_barrier_init(&stop, NULL, THREADS + 1);
	for (i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, sleeper, NULL);
	pthread_barrier_wait(&started);
	objects1 = stat("objects");
	ksft_print_msg("objects: %ld, with %d more threads: %ld\n", objects0, THREADS, objects1);
	ksft_test_result(objects1 == objects0 + THREADS, "new_threads_add_objects\n");
	pthread_barrier_wait(&stop);
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	ksft_test_result(stat("objects") == objects0, "exited_threads_remove_objects\n");

	ws_cmd("destroy 3");
	objects2 = stat("objects");
	ksft_test_result(stat("regions") == regions0 && objects2 == 0 &&
			 !client_region(&size, &align, ctor, dtor, &objects, &bytes),
			 "destroy_leaves_nothing\n");
	ksft_finished();
}
