"""Diagnosis on real flaky tests of public repositories, labelled by hand.

    .venv/bin/python benchmarks/diagnosis_real.py DIR     # clones at DIR/owner+name

The labels live in ``diagnosis_real.toml`` (repository, commit, node id, cause, the lines a fix
must change, and why, in our words; none of their code). Each clone is checked out at the
labelled commit by the caller (``git -C DIR/owner+name checkout COMMIT``); a missing clone is
reported and left out. Prints precision (right / (right + wrong); ``unknown`` is neither),
coverage (right / every test with a known cause), the labelled line named (``fix_at``, and
among the evidence), and every miss, so that a reviewer can read what was claimed.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flaketui.service import Service

LABELS = Path(__file__).resolve().parent / "diagnosis_real.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clones", type=Path, help="a directory holding owner+name clones")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--set", choices=("all", "first", "new"), default="all",
                        help="first: the set the rules were tuned on; new: the one labelled before running on it")
    args = parser.parse_args(argv)
    data = tomllib.loads(args.labels.read_text(encoding="utf-8"))
    services: dict[str, Service] = {}
    right = wrong = known = fix_line = named = with_lines = decoys_quiet = decoys = 0
    misses: list[str] = []
    said: dict[int, list[bool]] = {}
    for case in data["case"]:
        if args.set != "all" and case.get("set", "first") != args.set:
            continue
        repo, nodeid, label = case["repo"], case["nodeid"], case["label"]
        clone = args.clones / repo.replace("/", "+")
        if not clone.is_dir():
            print(f"missing clone {clone}: {nodeid} left out")
            continue
        service = services.setdefault(repo, Service(clone))
        explanation = service.explain(nodeid)
        diagnosis = explanation.diagnosis
        got = str(diagnosis.suggestion.category)
        expected = {(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in case.get("lines", [])}
        places = {(e.path, e.line) for e in diagnosis.evidence} | {e.fix_at for e in diagnosis.evidence if e.fix_at}
        at = diagnosis.fix_at
        if label == "unknown":
            decoys += 1
            decoys_quiet += got == "unknown"
        else:
            known += 1
        ok = got == label and label != "unknown"
        if got != "unknown":
            bucket = min(9, int(diagnosis.suggestion.confidence * 10))
            said.setdefault(bucket, []).append(ok)
        right += ok
        wrong += got not in {label, "unknown"}
        if expected:
            with_lines += 1
            fix_line += at in expected
            named += bool((places | {at}) & expected)
        if not ok and got != label or (expected and at not in expected):
            top = ", ".join(f"{e.rule}@{e.path}:{e.line}" for e in diagnosis.evidence[:3]) or "no evidence"
            misses.append(f"  {repo} {nodeid}: expected {label}, got {got} "
                          f"({diagnosis.suggestion.confidence:.2f}), fix_at {at}; {top}")
    print(f"real tests: {right + wrong + (known - right - wrong) + decoys} from {len(services)} repositories "
          f"({known} with a known cause, {decoys} whose honest answer is unknown)")
    print(f"precision  {right}/{right + wrong} = {right / max(1, right + wrong):.0%}   (target >= 90%)")
    print(f"coverage   {right}/{known} = {right / max(1, known):.0%}   (target >= 75%)")
    print(f"unknown-labelled answered unknown: {decoys_quiet}/{decoys}")
    print(f"fix line   {fix_line}/{with_lines} = {fix_line / max(1, with_lines):.0%}   (suggestion.fix_at is a labelled line)")
    print(f"line named {named}/{with_lines} = {named / max(1, with_lines):.0%}   (a labelled line among fix_at and evidence)")
    print("calibration on these real tests (stated confidence -> right how often, over answers that name a cause)")
    for bucket in sorted(said):
        outcomes = said[bucket]
        print(f"  said {bucket * 10:3d}%-{bucket * 10 + 10}%: {sum(outcomes)}/{len(outcomes)} right = "
              f"{sum(outcomes) / len(outcomes):.0%}")
    if misses:
        print("misses:")
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
