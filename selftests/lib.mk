# SPDX-License-Identifier: GPL-2.0
#
# Shared rules of our kselftest targets: static programs, kselftest.h from
# the kernel tree, every warning an error.

CFLAGS += -O2 -g -Wall -Wextra -Werror -static -pthread -I$(KSFT_DIR) \
	-I$(dir $(lastword $(MAKEFILE_LIST)))

.PHONY: all
all: $(addprefix $(OUTPUT)/,$(TEST_GEN_PROGS))
	@printf '%s\n' $(TEST_GEN_PROGS) > $(OUTPUT)/tests

$(OUTPUT)/%: %.c $(wildcard *.h) $(wildcard ../*.h)
	@mkdir -p $(OUTPUT)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)
