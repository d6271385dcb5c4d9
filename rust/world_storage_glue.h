/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C glue of world_storage.ko, called from its Rust half: wrappers for
 * what Rust cannot call directly (static inline functions and macros).
 */
#ifndef WORLD_STORAGE_GLUE_H
#define WORLD_STORAGE_GLUE_H

#include <linux/types.h>

size_t ws_layout_c_offset(const char *name);

#endif /* WORLD_STORAGE_GLUE_H */
