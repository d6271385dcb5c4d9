// SPDX-License-Identifier: GPL-2.0
/*
 * The region table and debugfs's byte count, through the C client
 * (ws_c_client.ko): debugfs `bytes` counts each object's size rounded up to
 * its alignment; 1024 regions fit and the 1025th Create gets -ENOSPC; the
 * slot of a destroyed region takes a new one.
 */

#include "ws_test.h"

#define MAX_REGIONS 1024

/* Creates a region of the C client; its handle, or 0 with *err set. */
static unsigned long long create(unsigned int size, unsigned int align, int *err)
{
	unsigned long long handle;
	unsigned int index;
	char res[128];

	*err = ws_c_cmd("create %u %u", size, align);
	if (*err)
		return 0;
	*err = ws_c_result(res, sizeof(res));
	if (!*err && sscanf(res, "region=%u handle=%llx", &index, &handle) != 2)
		*err = -EPROTO;
	return *err ? 0 : handle;
}

/* A region whose size is not a multiple of its alignment. */
static void bytes_count_padding(void)
{
	struct ws_region r = { 0 };
	unsigned long long handle;
	int err, found;

	handle = create(24, 16, &err);
	found = handle && ws_find_region(handle, "ws_c_client", &r);
	ksft_print_msg("create 24 16: %d; size %u align %u, %ld objects, %ld bytes\n", err,
		       r.size, r.align, r.objects, r.bytes);
	ksft_test_result(found && r.size == 24 && r.align == 16 && r.objects > 0 &&
			 r.bytes == r.objects * 32, "bytes_count_alignment_padding\n");
	ws_c_cmd("destroyall");
}

int main(void)
{
	long regions0, regions1;
	unsigned long long first, again;
	int created = 0, err = 0, err_after, err_again, destroyed;

	ksft_print_header();
	ws_load_c_client();
	ksft_set_plan(4);

	bytes_count_padding();

	/* Fill the table: every slot the other clients leave free. */
	regions0 = ws_file_value(WS_STATS, "regions");
	first = create(8, 8, &err);
	if (first)
		for (created = 1; created <= MAX_REGIONS && !err; created += !err)
			create(8, 8, &err);
	ksft_print_msg("%ld regions before, %d created, then %d\n", regions0, created, err);
	ksft_test_result(first && err == -ENOSPC && regions0 + created == MAX_REGIONS,
			 "table_holds_%d_regions\n", MAX_REGIONS);

	/* A slot freed by Destroy takes one region, and only one. */
	destroyed = ws_c_cmd("destroy %d", created / 2);
	again = create(8, 8, &err_again);
	create(8, 8, &err_after);
	ksft_print_msg("destroy: %d, create: %d (handle %#llx), one more: %d\n", destroyed,
		       err_again, again, err_after);
	ksft_test_result(!destroyed && !err_again && again && err_after == -ENOSPC,
			 "destroyed_slot_takes_a_new_region\n");

	ws_c_cmd("destroyall");
	regions1 = ws_file_value(WS_STATS, "regions");
	ksft_test_result(regions1 == regions0 && !ws_unload_c_client(),
			 "destroying_them_all_empties_the_table\n");
	ksft_finished();
}
