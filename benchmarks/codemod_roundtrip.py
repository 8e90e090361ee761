"""Remove every flaky marker of a real repository, one at a time, and count corruptions.

    python benchmarks/codemod_roundtrip.py PATH [--json]

For each marker the scan finds (each distinct (file, line, source)), the file's bytes go through
``remove_markers`` alone; the result is judged by ``flaketui.codemod.check`` (standard ``ast``
and ``tokenize``, not libcst): it compiles, its tree is the old one minus that marker and the
imports/aliases nothing reads any more, every comment off the removed lines is kept, the line
diff stays on the removed lines. A refusal is not a corruption (the file is left alone); it is
counted with its reason. Removing the marker a second time must change nothing. Nothing is
written to PATH.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flaketui.codemod import remove_markers  # noqa: E402
from flaketui.codemod.check import removal_problems  # noqa: E402
from flaketui.models import Marker  # noqa: E402
from flaketui.service import Service  # noqa: E402


def _reason(failure: str) -> str:
    for key in ("does more than mark", "not a plain marker", "CR-only", "does not parse", "decoded", "no flaky marker", "drop", "compile"):
        if key in failure:
            return key
    return failure[:60]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scan = Service(args.path).scan(use_cache=False)
    scan_seconds = time.perf_counter() - started

    markers: dict[tuple[str, int, str], Marker] = {}
    for test in scan.tests:
        for marker in test.markers:
            markers.setdefault((marker.path, marker.line, marker.source), marker)

    def read(relative: str) -> bytes | None:
        target = args.path / relative
        return target.read_bytes() if target.is_file() else None

    counts: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    corruptions: list[str] = []
    sources: dict[str, bytes] = {}
    spent = 0.0
    for (path, line, _), marker in sorted(markers.items()):
        before = sources.setdefault(path, (args.path / path).read_bytes())
        forms[str(marker.scope)] += 1
        tick = time.perf_counter()
        removal = remove_markers(before, [marker], path=path, read=read)
        spent += time.perf_counter() - tick
        counts["markers"] += 1
        if removal.after is None:
            refusals[_reason(removal.failure or "")] += 1
            continue
        counts["removed"] += 1
        problems = removal_problems(before, removal.after, [marker])
        again = remove_markers(removal.after, [marker], path=path)
        if again.changed:
            problems.append("a second removal changed the file again")
        if problems:
            corruptions.append(f"{path}:{line}: {'; '.join(problems)}")
        if b"import" in before and before.count(b"\nimport") + before.count(b"\nfrom") > removal.after.count(
            b"\nimport"
        ) + removal.after.count(b"\nfrom"):
            counts["with an import or alias removed too"] += 1

    figures = {
        "repository": str(args.path),
        "files_scanned": scan.files_scanned,
        "flaky_tests": len(scan.tests),
        "distinct_markers": counts["markers"],
        "files_with_markers": len(sources),
        "forms": dict(forms),
        "removed_and_checked": counts["removed"],
        "removed_with_import_or_alias": counts["with an import or alias removed too"],
        "refused": dict(refusals),
        "corruptions": len(corruptions),
        "scan_seconds": round(scan_seconds, 2),
        "codemod_ms_per_marker": round(1000 * spent / max(counts["markers"], 1), 1),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")
    for corruption in corruptions:
        print("CORRUPTION", corruption, file=sys.stderr)
    return 1 if corruptions else 0


if __name__ == "__main__":
    raise SystemExit(main())
