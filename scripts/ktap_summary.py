#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise one VM test run.

Reads the results channel (suites between WS-SUITE-BEGIN/END markers, KTAP
inside) and the console log, and decides whether the run is green:
every expected suite reported, no test failed, no suite exited non-zero,
the guest reported its exit status, and the console shows no kernel splat.

Prints one line per problem, then "N passed, N failed[, N skipped]".
Every problem counts as a failure: a failed test once, and a problem that
is no test's result (a splat, a timeout, a guest that exited non-zero or
reported no status, a failure in a suite that is not ours) as one more.
Exit status 0 when green (no failure), 1 otherwise.
"""

import argparse
import re
import sys

SPLATS = [
    r"BUG:", r"WARNING:", r"Oops", r"Call Trace", r"KASAN", r"UBSAN",
    r"Kernel panic", r"possible circular locking", r"possible recursive locking",
    r"suspicious RCU usage",
    r"inconsistent lock state", r"rcu: INFO:", r"RCU stall",
    r"self-detected stall", r"blocked for more than", r"kmemleak:.*new suspected",
    r"unreferenced object", r"general protection fault",
]
SPLAT_RE = re.compile("|".join(SPLATS))
# Console lines printed after the first splat line (two hung tasks' stacks).
SPLAT_CONTEXT = 80
TOTALS_RE = re.compile(r"^\s*# Totals: pass:(\d+) fail:(\d+)(?:.* skip:(\d+))?")
CASE_RE = re.compile(r"^(\s*)(not ok|ok) \d+ ([^#\n]*)(#\s*SKIP)?", re.I)


def suites(results):
    """Yield (kind, name, status, lines) for each reported suite."""
    current = None
    for line in results:
        line = line.rstrip("\r\n")
        if line.startswith("WS-SUITE-BEGIN "):
            _, kind, name = line.split(None, 2)
            current = (kind, name, [])
        elif line.startswith("WS-SUITE-END ") and current:
            parts = line.split()
            status = int(parts[3]) if len(parts) > 3 else -1
            yield current[0], current[1], status, current[2]
            current = None
        elif current:
            current[2].append(line)
    if current:
        yield current[0], current[1], None, current[2]


def count(lines):
    """(passed, failed, skipped) of a suite's KTAP, None if it has no result.

    Uses the last "# Totals:" line (KUnit and kselftest.h both print one);
    without it, counts the most indented result lines (the test cases).
    """
    for line in reversed(lines):
        m = TOTALS_RE.match(line)
        if m:
            return int(m[1]), int(m[2]), int(m[3] or 0)
    cases = [m for m in map(CASE_RE.match, lines) if m]
    if not cases:
        return None
    depth = max(len(m[1]) for m in cases)
    cases = [m for m in cases if len(m[1]) == depth]
    skipped = sum(1 for m in cases if m[4])
    failed = sum(1 for m in cases if m[2].lower() == "not ok" and not m[4])
    return len(cases) - failed - skipped, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--console", required=True)
    ap.add_argument("--expect", action="append", default=[],
                    help="a suite that must report, as kind/name; only "
                    "these are counted")
    ap.add_argument("--vm-status", type=int, default=0,
                    help="exit status of scripts/vm.sh")
    args = ap.parse_args()

    problems = []
    passed = failed = skipped = 0
    seen = set()
    try:
        with open(args.results, errors="replace") as f:
            reported = list(suites(f))
    except FileNotFoundError:
        reported = []
    for kind, name, status, lines in reported:
        seen.add(f"{kind}/{name}")
        counts = count(lines)
        if f"{kind}/{name}" not in args.expect:
            # Not ours (e.g. the kernel's own KUnit suites): only a failure
            # there matters.
            if counts and counts[1]:
                problems.append(f"suite {kind} {name} (not ours): {counts[1]} failed")
                failed += 1
            continue
        if counts is None:
            problems.append(f"suite {kind} {name}: no test result")
            failed += 1
            continue
        passed += counts[0]
        failed += counts[1]
        skipped += counts[2]
        if counts[1]:
            problems.append(f"suite {kind} {name}: {counts[1]} failed")
        if status not in (0, 4):
            problems.append(f"suite {kind} {name}: exit status {status}")
            if not counts[1]:
                failed += 1
    for suite in args.expect:
        if suite not in seen:
            problems.append(f"suite {suite.replace('/', ' ', 1)}: expected, produced no result")
            failed += 1

    if args.vm_status == 124:
        problems.append("VM timed out")
        failed += 1
    elif args.vm_status == 125:
        problems.append("guest reported no exit status (crash or panic?)")
        failed += 1
    elif args.vm_status:
        problems.append(f"guest command exited with {args.vm_status}")
        failed += 1

    try:
        with open(args.console, errors="replace") as f:
            console = f.readlines()
        for i, line in enumerate(console):
            if SPLAT_RE.search(line):
                # The report that follows (a hung task's stack, an oops's
                # trace) goes into the output too.
                context = "".join(f"\n    | {c.rstrip()}"
                                  for c in console[i + 1:i + 1 + SPLAT_CONTEXT])
                problems.append(f"kernel splat: {line.strip()}{context}")
                failed += 1
                break
    except FileNotFoundError:
        problems.append("no console log")
        failed += 1

    for p in problems:
        print(f"  {p}")
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
