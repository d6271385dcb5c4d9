# SPDX-License-Identifier: GPL-2.0
#
# Steps that are not run again while their inputs stay the same. Sourced
# by scripts/check.sh, after lib.sh.
#
#   cached_step NAME INPUTS CMD...
#
# runs CMD as `step` does, unless CMD passed before with exactly these
# inputs: then it prints what CMD printed then, and that it was not run
# again. INPUTS is a list of words, each one input:
#   PATH        a file or directory of the tree: the name and contents of
#               every file under it that git does not ignore
#   /PATH       a file or directory anywhere (a build output): the name and
#               contents of every file under it
#   /DIR:GLOB   those of the files under DIR whose name matches GLOB
#   tool:CMD    what `CMD --version` prints
#   var:NAME    the value of the variable NAME (a setting from the
#               environment, or one of check.sh's)
# The step's key is a hash of its name, CMD, the dev kernel's key and these
# inputs, and of the check machinery itself (check.sh, lib.sh, this file).
#
# A step that runs tests writes "PASSED FAILED SKIPPED" to the file named
# by $WS_STEP_COUNTS; `step_counts NAME` prints them, from this run or from
# the recorded one, so a step not run again counts what it counted when it
# ran, and `steps_total` sums them over the check's steps (check.sh's last
# line). A step is recorded only when CMD exits 0 and counted no failure: a
# failure is never reused, the step runs again the next time. CMD exiting
# non-zero ends the check, as with `step`.
#
# The records are kept in $(out_dir)/check-steps/<step>/<key>/ (the output,
# the counts, when it passed), in the cache, next to the build outputs they
# describe (`make clean` removes both). With WORLD_STORAGE_CHECK_CACHE=0
# every step runs (and a pass is recorded as usual).

WS_STEPS_DIR=$(out_dir)/check-steps
WS_CHECK_CACHE=${WORLD_STORAGE_CHECK_CACHE:-1}

# tree_files PATH: the files under PATH (relative to the tree) that git does
# not ignore, one per line, sorted; every file under it outside a git tree.
tree_files() {
	if git -C "$WS_TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$WS_TOP" ls-files --cached --others --exclude-standard -- "$1" |
			while IFS= read -r f; do [ ! -f "$WS_TOP/$f" ] || echo "$f"; done | sort -u
	elif [ -e "$WS_TOP/$1" ]; then
		(cd "$WS_TOP" && find "$1" -type f | sort)
	fi
}

# inputs_digest INPUT...: one line per input, to be hashed.
inputs_digest() {
	local item name
	for item in "$@"; do
		case "$item" in
		tool:*)
			name=${item#tool:}
			echo "$item $( (command -v "$name" >/dev/null && "$name" --version 2>&1) | head -n1 || echo none)"
			;;
		var:*)
			name=${item#var:}
			echo "$item ${!name-<unset>}"
			;;
		/*:*)
			echo "$item"
			[ ! -e "${item%%:*}" ] ||
				find "${item%%:*}" -type f -name "${item#*:}" -print0 | sort -z | xargs -0 -r sha256sum
			;;
		/*)
			echo "$item"
			[ ! -e "$item" ] || find "$item" -type f -print0 | sort -z | xargs -0 -r sha256sum
			;;
		*)
			echo "$item"
			tree_files "$item" | (cd "$WS_TOP" && xargs -r -d '\n' sha256sum)
			;;
		esac
	done
}

# step_slug NAME: the directory name of a step's record.
step_slug() {
	tr -c 'a-zA-Z0-9\n' '-' <<<"$1" | tr -s '-' | sed 's/^-//; s/-$//'
}

ws_steps_counted=()
cached_step() {
	local name=$1 inputs=$2 steps key dir rc start failed
	shift 2
	ws_steps_counted+=("$name")
	steps=$WS_STEPS_DIR/$(step_slug "$name")
	# shellcheck disable=SC2086 # INPUTS is a list of words
	key=$({
		echo "step $name"
		echo "command $*"
		echo "kernel $(kernel_key)"
		inputs_digest scripts/check.sh scripts/lib.sh scripts/steps.sh $inputs
	} | sha256sum | cut -c1-32)
	# One record per key: going back to earlier inputs (a plant taken out
	# again, another branch) finds its pass. The last run is "current".
	dir=$steps/$key
	mkdir -p "$steps"
	ln -sfn "$key" "$steps/current"
	if [ "$WS_CHECK_CACHE" != 0 ] && [ -f "$dir/passed" ]; then
		echo "==> $name: inputs unchanged since it passed ($(cat "$dir/passed")): not run again"
		cat "$dir/output"
		touch "$dir"
		return 0
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	# The 20 most recently used records are kept.
	find "$steps" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn |
		tail -n +21 | cut -d' ' -f2- | xargs -r rm -rf
	echo "==> $name"
	start=$(date +%s)
	set +e
	(
		set -e
		WS_STEP_COUNTS=$dir/counts "$@"
	) 2>&1 | tee "$dir/output"
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" -eq 0 ] || exit "$rc"
	echo "==> $name: done in $(($(date +%s) - start)) s"
	failed=0
	if [ -f "$dir/counts" ]; then
		read -r _ failed _ <"$dir/counts"
	fi
	[ "${failed:-1}" -ne 0 ] ||
		echo "$(date -u '+%F %T UTC'), in $(($(date +%s) - start)) s" >"$dir/passed"
}

# cached_step_bg NAME INPUTS CMD...: cached_step, in the background (the
# host has cores to spare while the VMs wait). Its output is held back
# until steps_wait shows it.
WS_BG_DIR=""
ws_bg_pids=()
cached_step_bg() {
	if [ -z "$WS_BG_DIR" ]; then
		WS_BG_DIR=$(mktemp -d)
		trap 'rm -rf "$WS_BG_DIR"' EXIT
	fi
	ws_steps_counted+=("$1")
	cached_step "$@" >"$WS_BG_DIR/${#ws_bg_pids[@]}" 2>&1 &
	ws_bg_pids+=($!)
}

# steps_wait: wait for every background step and show each one's output,
# in the order they were started; a step that failed ends the check.
steps_wait() {
	local i rc=0
	for i in "${!ws_bg_pids[@]}"; do
		wait "${ws_bg_pids[i]}" || rc=$?
		cat "$WS_BG_DIR/$i"
	done
	ws_bg_pids=()
	[ "$rc" -eq 0 ] || exit "$rc"
}

# step_counts NAME: "PASSED FAILED SKIPPED" of a step's last run, or of the
# pass it reused (0 0 0 if it counts no tests).
step_counts() {
	local file=$WS_STEPS_DIR/$(step_slug "$1")/current/counts
	if [ -f "$file" ]; then cat "$file"; else echo "0 0 0"; fi
}

# steps_total: "PASSED FAILED SKIPPED" summed over every cached step of
# this check (run or reused): what its last line counts.
steps_total() {
	local name p f s tp=0 tf=0 ts=0
	for name in "${ws_steps_counted[@]}"; do
		read -r p f s < <(step_counts "$name")
		tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
	done
	echo "$tp $tf $ts"
}
