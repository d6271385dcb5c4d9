# SPDX-License-Identifier: GPL-2.0
#
# The project's commands. Kbuild (not this file) lists the modules.
#
#   make            build every module (and, the first time, the dev kernel)
#   make run        boot the VM, load world_storage.ko and the sample, show it
#   make check      every check and every test, in the VM
#   make vm         an interactive shell in the VM
#   make vm-run EXTRA=<host dir> CMD='<guest command>'
#   make KDIR=<built kernel tree>   build against your own kernel instead
#
# Downloads and builds live in $(WORLD_STORAGE_CACHE), never in the tree.

SHELL := /bin/bash
export WORLD_STORAGE_CACHE ?= $(HOME)/.cache/world-storage

# With KDIR given, nothing is downloaded and no kernel is built.
ifeq ($(origin KDIR),undefined)
KDIR := $(shell scripts/paths.sh kdir)
OWN_KERNEL :=
else
OWN_KERNEL := 1
endif
KMAKE_ARGS ?= $(shell scripts/paths.sh kmake-args)
OUT := $(shell scripts/paths.sh out)
ifneq ($(OWN_KERNEL),)
# Outputs for another kernel must not mix with the dev kernel's.
OUT := $(OUT)-kdir-$(shell echo '$(abspath $(KDIR))' | sha256sum | cut -c1-8)
endif
MODOUT := $(OUT)/modules

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) MO=$(MODOUT) $(KMAKE_ARGS)

.PHONY: all modules setup kernel selftests run check check-debug bench vm vm-run \
	fmt clean help

all: modules

help:
	@sed -n '3,13p' Makefile | sed 's/^# \{0,1\}//'

setup:
ifeq ($(OWN_KERNEL),)
	@scripts/setup.sh
endif

kernel: setup
ifeq ($(OWN_KERNEL),)
	@scripts/build-kernel.sh
endif

modules: kernel
	@mkdir -p $(MODOUT)
	@+$(KMAKE) --no-print-directory $(if $(WERROR),WERROR=y) $(if $(CLIPPY),CLIPPY=1) modules

selftests: setup
	@+$(MAKE) -s --no-print-directory -C selftests OUTPUT=$(OUT)/selftests \
		KSFT_DIR=$(shell scripts/paths.sh ksrc)/tools/testing/selftests

run: modules selftests
	@scripts/vm.sh --name run --script scripts/guest/run-demo.sh --append "quiet loglevel=3"

check:
	@scripts/check.sh

# The whole suite and a fixed-time stress test on the debug kernel (KASAN,
# lockdep, kmemleak, failslab): any report fails it. Then a second boot, of
# the plain dev kernel, for the long stress test (at least 100 000 tasks).
check-debug:
	@WORLD_STORAGE_EXTRA_FRAGMENT=.config.debug.fragment scripts/check.sh --debug

# The benchmark, on a kernel configured like a distribution's
# (.config.bench.fragment): ns/op and instructions/op from two boots, and
# each performance goal with met/missed.
bench:
	@WORLD_STORAGE_EXTRA_FRAGMENT=.config.bench.fragment scripts/bench.sh

vm: modules selftests
	@scripts/vm.sh --name shell --interactive

# CMD and EXTRA reach the recipe through the environment, so that quotes and
# pipes in the command survive.
vm-run: export CMD := $(CMD)
vm-run: export EXTRA := $(EXTRA)
vm-run: modules selftests
	@test -n "$$CMD" || { echo "usage: make vm-run [EXTRA=<dir>] CMD='<command>'"; exit 2; }
	@scripts/vm.sh --name vm-run $${EXTRA:+--extra "$$EXTRA"} --cmd "$$CMD"

fmt:
	@scripts/rustfmt.sh --check

clean:
	rm -rf $(OUT)
