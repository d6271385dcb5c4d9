// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of world_storage.ko: what Rust cannot express.
 *
 * - ws_layout_c_offset(): the C side of the layout test, offsetof() of every
 *   kernel structure field that the Rust half reads through bindings.
 */

#include <linux/limits.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/tracepoint.h>

#include "world_storage_glue.h"

#define WS_FIELD(type, field) { #type "." #field, offsetof(struct type, field) }

static const struct {
	const char *name;
	size_t offset;
} ws_c_layout[] = {
	WS_FIELD(task_struct, pid),
	WS_FIELD(task_struct, tgid),
	WS_FIELD(task_struct, flags),
	WS_FIELD(tracepoint, name),
	WS_FIELD(module, name),
};

/**
 * ws_layout_c_offset() - offset of a kernel structure field as C sees it
 * @name: "struct.field", e.g. "task_struct.pid"
 *
 * Return: offsetof() of the field, or SIZE_MAX if @name is not in the table.
 */
size_t ws_layout_c_offset(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ws_c_layout); i++)
		if (!strcmp(ws_c_layout[i].name, name))
			return ws_c_layout[i].offset;
	return SIZE_MAX;
}
