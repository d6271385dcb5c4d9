# SPDX-License-Identifier: GPL-2.0
#
# The project's commands (`make help` lists them). Kbuild (not this file)
# lists the modules. Downloads and builds live in $(WORLD_STORAGE_CACHE),
# never in the tree.

SHELL := /bin/bash
export WORLD_STORAGE_CACHE ?= $(HOME)/.cache/world-storage

# KERNEL=debian: the modules are built for Debian's own kernel and the VM
# boots it (scripts/debian.sh); the default, dev, is the dev kernel.
KERNEL ?= $(or $(WORLD_STORAGE_KERNEL),dev)
export WORLD_STORAGE_KERNEL := $(KERNEL)

# The debug kernel's check and the editor and rustdoc builds are the dev
# kernel's (Debian's rustc builds the same sources).
ifeq ($(KERNEL),debian)
ifneq ($(filter check-debug rust-analyzer rustdoc,$(or $(MAKECMDGOALS),all)),)
$(error make $(filter check-debug rust-analyzer rustdoc,$(MAKECMDGOALS)) is the dev kernel's: it takes no KERNEL=debian)
endif
else ifneq ($(KERNEL),dev)
$(error KERNEL=$(KERNEL): it is dev (the default) or debian)
endif

# With KDIR given, nothing is downloaded and no kernel is built, and the
# kernel's own make arguments (LLVM=1, CROSS_COMPILE=...) go in KMAKE_ARGS
# (default: none). scripts/paths.sh answers for either kernel.
ifeq ($(origin KDIR),undefined)
OWN_KERNEL :=
PATHS := WORLD_STORAGE_KERNEL=$(KERNEL) scripts/paths.sh
else
ifeq ($(KERNEL),debian)
$(error KERNEL=debian builds against Debian's kernel: it takes no KDIR)
endif
OWN_KERNEL := 1
PATHS := KDIR='$(KDIR)' $(if $(filter undefined,$(origin KMAKE_ARGS)),,KMAKE_ARGS='$(KMAKE_ARGS)') \
	scripts/paths.sh
endif

# The targets that boot the VM run the dev kernel (and its modules).
VM_GOALS := run check check-debug bench vm vm-run
GOALS := $(or $(MAKECMDGOALS),all)
ifneq ($(OWN_KERNEL),)
ifneq ($(filter $(VM_GOALS),$(GOALS)),)
$(error make $(filter $(VM_GOALS),$(GOALS)) boots the dev kernel: it takes no KDIR)
endif
# A bad KDIR fails here, before anything is built or created.
override KDIR := $(shell $(PATHS) kdir)
ifeq ($(KDIR),)
$(error bad KDIR)
endif
ifeq ($(wildcard $(KDIR)/Module.symvers $(KDIR)/include/generated/rustc_cfg),)
$(error KDIR=$(KDIR) is not a built kernel with Rust (no Module.symvers or include/generated/rustc_cfg))
endif
else
KDIR := $(shell $(PATHS) kdir)
endif
KMAKE_ARGS := $(shell $(PATHS) kmake-args)
OUT := $(shell $(PATHS) out)
MODOUT := $(OUT)/modules

# make vm-run: its arguments are checked before anything is built.
ifneq ($(filter vm-run,$(GOALS)),)
ifeq ($(strip $(value CMD)),)
$(error usage: make vm-run [EXTRA=<dir>] CMD='<command>' [V=1])
endif
ifneq ($(EXTRA),)
ifeq ($(wildcard $(EXTRA)/.),)
$(error EXTRA=$(EXTRA) is not a directory)
endif
endif
endif

# V=1 or VERBOSE=1: show the VM's boot, not only the command's output.
VM_VERBOSE := $(filter 1,$(V) $(VERBOSE))

# make vm-run shows only the command's output: the builds before it are silent.
QUIET_BUILD := $(if $(and $(filter vm-run,$(GOALS)),$(if $(VM_VERBOSE),,1)),-s)

# Debian's kernel: its modules are built with its own toolchain, in the
# Debian system scripts/debian.sh keeps.
KMAKE_RUNNER := $(if $(filter debian,$(KERNEL)),scripts/debian.sh run)
KMAKE = $(KMAKE_RUNNER) $(MAKE) $(QUIET_BUILD) -C $(KDIR) M=$(CURDIR) MO=$(MODOUT) $(KMAKE_ARGS)

# install: world_storage.ko under $(INSTALL_MOD_PATH)/lib/modules/<release>/,
# and what a client builds against (header, Rust API, Module.symvers) under
# $(DESTDIR)$(PREFIX)/src/world-storage-<release>/.
PREFIX ?= /usr
INSTALL_MOD_DIR ?= updates

.PHONY: all modules setup kernel selftests run check check-debug bench vm vm-run \
	install rust-analyzer rustdoc fmt clean help

all: modules

help:
	@echo 'Targets:'
	@echo '  all, modules   build every module (the first time: set up and build the dev kernel)'
	@echo '  setup          install and fetch what the build needs (Debian packages, bindgen,'
	@echo '                 rust-src, the kernel source), into $$WORLD_STORAGE_CACHE'
	@echo '  kernel         build the dev kernel (.config.fragment)'
	@echo '  selftests      build the test programs'
	@echo '  run            boot the VM, load world_storage.ko and the sample, show it'
	@echo '  check          every check and every test, in two VMs at once; last line'
	@echo '                 "N passed, N failed"; a step whose inputs did not change since it'
	@echo '                 passed is not run again (WORLD_STORAGE_CHECK_CACHE=0: run all)'
	@echo '                 T=<suite>: the builds, then only that suite: a kselftest'
	@echo '                 (world_storage/new_tasks), a KUnit module or a KUnit suite'
	@echo '  check-debug    the tests on the debug kernel in two VMs, then the long stress run;'
	@echo '                 T=<suite>: only that suite, on the debug kernel'
	@echo '  bench          the benchmark table'
	@echo '  vm             an interactive shell in the VM'
	@echo '  vm-run         CMD='"'"'<command>'"'"' [EXTRA=<dir>]: run a command in the VM (<dir> at'
	@echo '                 /extra) and show its output (V=1: the whole boot); its exit status'
	@echo '  install        world_storage.ko into $$INSTALL_MOD_PATH/lib/modules/<release>/$(INSTALL_MOD_DIR),'
	@echo '                 header, Rust API and Module.symvers into'
	@echo '                 $$DESTDIR$(PREFIX)/src/world-storage-<release>'
	@echo '  rust-analyzer  write rust-project.json (git ignores it) for the project'"'"'s crates'
	@echo '  rustdoc        the safe Rust API'"'"'s reference (include/world_storage.rs), HTML in'
	@echo '                 $$(scripts/paths.sh out)/rustdoc/world_storage/index.html'
	@echo '  fmt            check the Rust formatting (scripts/rustfmt.sh formats)'
	@echo '  clean          remove this checkout'"'"'s build output ($$(scripts/paths.sh out))'
	@echo '  help           this list'
	@echo 'Variables:'
	@echo '  KDIR=<built kernel tree> [KMAKE_ARGS=<its make arguments, e.g. LLVM=1>]'
	@echo '                 build against your own kernel (no download, no kernel build)'
	@echo '  KERNEL=debian  build for Debian'"'"'s own kernel and boot it (make, run, check, bench,'
	@echo '                 vm, vm-run); README.md, "The kernels it runs on"'
	@echo '  WERROR=1 CLIPPY=1   warnings are errors, clippy (as make check builds)'
	@echo 'Your own module: Documentation/world-storage.rst, "Building a client".'

setup:
ifeq ($(OWN_KERNEL),)
	@scripts/setup.sh
ifeq ($(KERNEL),debian)
	@scripts/debian.sh setup
endif
endif

kernel: setup
ifeq ($(KERNEL),debian)
	@scripts/debian.sh kernel
else ifeq ($(OWN_KERNEL),)
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
	@scripts/check.sh $(if $(T),--only '$(T)')

# The whole suite and a fixed-time stress test on the debug kernel (KASAN,
# lockdep, kmemleak, failslab): any report fails it. Then a second boot, of
# the plain dev kernel, for the long stress test (at least 100 000 tasks).
check-debug:
	@WORLD_STORAGE_EXTRA_FRAGMENT=.config.debug.fragment scripts/check.sh --debug \
		$(if $(T),--only '$(T)')

# The benchmark, on a kernel configured like a distribution's
# (.config.bench.fragment): ns/op and instructions/op from two boots, and
# each performance goal with met/missed.
bench:
	@WORLD_STORAGE_EXTRA_FRAGMENT=.config.bench.fragment scripts/bench.sh

vm: modules selftests
	@scripts/vm.sh --name shell --interactive

# CMD and EXTRA reach the recipe through the environment, as typed
# ($(value): make expands nothing in them), so that quotes, pipes, newlines
# and $(...) in the command survive.
vm-run: export WS_VM_CMD := $(value CMD)
vm-run: export WS_VM_EXTRA := $(value EXTRA)
vm-run: modules selftests
	@scripts/vm.sh --name vm-run $${WS_VM_EXTRA:+--extra "$$WS_VM_EXTRA"} --cmd "$$WS_VM_CMD" \
		$(if $(VM_VERBOSE),,--output-only)

install: modules
	@KDIR='$(KDIR)' MODOUT='$(MODOUT)' DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' \
		INSTALL_MOD_PATH='$(INSTALL_MOD_PATH)' INSTALL_MOD_DIR='$(INSTALL_MOD_DIR)' \
		scripts/install.sh

# The kernel's generator lists the kernel's crates; ours come from Kbuild.
rust-analyzer: kernel
	@mkdir -p $(MODOUT)
	@+$(KMAKE) -s --no-print-directory rust-analyzer
	@scripts/rust-analyzer.py $(MODOUT)/rust-project.json $(CURDIR)

# The safe Rust API's reference, as the kernel's `make rustdoc` builds its
# crates' (scripts/rustdoc.sh).
rustdoc: kernel
	@$(if $(OWN_KERNEL),KDIR='$(KDIR)' KMAKE_ARGS='$(KMAKE_ARGS)') scripts/rustdoc.sh

fmt:
	@scripts/rustfmt.sh --check

clean:
	rm -rf $(OUT)
