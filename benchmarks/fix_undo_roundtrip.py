"""Fix then undo every flaky marker of a repository, in a throwaway clone; count round trips.

    python benchmarks/fix_undo_roundtrip.py PATH [--limit N]

For each flaky-marked test (or the class/module node id its shared marker asks for): plan the
removal, commit it (``unverified``: this measures the commit machinery, not the tests), undo
it, and check that the test file is byte-identical to what it was and that both commits touched
that file only. Prints the counts and the median time of each step. The clone is deleted after.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flaketui.errors import FlakeTUIError
from flaketui.service import Service

_GIVE = re.compile(r"Give `([^`]+)`")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="stop after this many targets (0: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flaketui-roundtrip-") as scratch:
        clone = Path(scratch) / "repo"
        subprocess.run(["git", "clone", "-q", str(args.path.resolve()), str(clone)], check=True)
        _git(clone, "config", "user.name", "flaketui benchmark")
        _git(clone, "config", "user.email", "bench@example.com")
        _git(clone, "config", "commit.gpgsign", "false")
        service = Service(clone)
        targets: list[str] = []
        for test in service.scan().tests:
            targets.append(test.nodeid if test.rootdir in ("", ".") else f"{test.rootdir}/{test.nodeid}")
        counts = {"round trips": 0, "refused": 0, "mismatched": 0, "errors": 0}
        timings: dict[str, list[float]] = {"plan": [], "commit": [], "undo": []}
        done: set[str] = set()
        for target in targets:
            if args.limit and len(done) >= args.limit:
                break
            started = time.perf_counter()
            plan = service.plan_fix(target, unverified=True)
            if plan.refusal and (wider := _GIVE.search(plan.refusal)):
                target = wider.group(1)
                plan = service.plan_fix(target, unverified=True)
            if target in done:
                continue
            done.add(target)
            timings["plan"].append(time.perf_counter() - started)
            if plan.refusal:
                counts["refused"] += 1
                print(f"refused  {target}: {plan.refusal.splitlines()[0][:160]}")
                continue
            paths = [p for p, _ in plan.new_contents]
            before = {p: (clone / p).read_bytes() for p in paths}
            try:
                started = time.perf_counter()
                fix = service.commit_fix(plan, unverified=True)
                timings["commit"].append(time.perf_counter() - started)
                started = time.perf_counter()
                undo = service.undo(fix.sha)
                timings["undo"].append(time.perf_counter() - started)
            except FlakeTUIError as exc:
                counts["errors"] += 1
                print(f"error    {target}: {exc.message.splitlines()[0][:160]}")
                _git(clone, "reset", "-q", "--hard", "HEAD")  # the throwaway clone only
                continue
            touched = set(_git(clone, "diff-tree", "--no-commit-id", "--name-only", "-r", fix.sha).split())
            touched |= set(_git(clone, "diff-tree", "--no-commit-id", "--name-only", "-r", undo.sha).split())
            if all((clone / p).read_bytes() == before[p] for p in paths) and touched == set(paths):
                counts["round trips"] += 1
            else:
                counts["mismatched"] += 1
                print(f"mismatch {target}: the file differs after fix + undo")
                _git(clone, "checkout", "-q", fix.sha + "^", "--", *paths)
                _git(clone, "commit", "-q", "-m", "benchmark: put the file back", "--", *paths)
        print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f" (of {len(done)} targets)")
        for step, values in timings.items():
            if values:
                print(f"{step}: median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms")
        return 0 if counts["mismatched"] == 0 and counts["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
