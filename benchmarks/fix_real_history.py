"""Does ``flaketui fix --propose`` change the lines real developers changed to fix a flaky test?

    .venv/bin/python benchmarks/fix_real_history.py [--mirrors DIR] [--only TEXT] [--timeout S] [--code DIR]

The cases live in ``fix_real_history.toml``: real flaky tests of public repositories whose
developers fixed them in the same commit that removed the marker, with the lines the real fix
changed (coordinates and line numbers only, none of their code). For each case the parent of the
fix commit is exported from a bare mirror (``DIR/owner+name/repo``, as ``fetch`` leaves them) into a
temporary directory with ``git archive``, and ``flaketui fix NODEID --propose --json`` runs there
under a time limit. ``--propose`` starts no test run, so the tree needs no environment of its own
(checked with ``strace -f -e trace=execve``: only git runs).

A case is a hit when the best proposal's diff removes or changes one of the real fix's lines, or
inserts right before one (the rule of ``benchmarks/fix_history.py``). A case whose real fix
weakens the test (a bigger sleep or timeout, an added sleep, a loosened assertion) and gets no
hit is "refused": flaketui must not write such a fix. Prints a row per case and the hit rate over
all cases, over the cases whose real fix is not a weakening one, and over those of them mined from
repositories no remedy was tuned on (``untuned = true``; ``--untuned`` runs only these). ``--code DIR`` runs the flaketui
of another checkout (``git worktree add --detach DIR REV``) to compare revisions.

A local benchmark, not a test: without the mirrors it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from fix_history import touched  # the one hit rule, shared with the shaped cases

CASES = HERE / "fix_real_history.toml"
MIRRORS = Path(os.environ.get("FLAKETUI_MIRRORS", "/work/.mirror"))


@dataclass
class Outcome:
    id: str
    shape: str
    weakening: bool
    verdict: str  # hit, miss, no proposal, refused, timeout, error, no mirror
    seconds: float
    what: str
    #: CPU seconds of the flaketui process: steadier than wall time on a shared machine.
    cpu: float = 0.0
    #: Mined from a repository no remedy was tuned on (``untuned = true``): the nearest to held out.
    untuned: bool = False


def mirror_of(mirrors: Path, repo: str) -> Path | None:
    """The bare git directory ``fetch`` left for owner/name, if any."""
    base = mirrors / repo.replace("/", "+")
    for candidate in (base / "repo", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


#: What flaketui reads of a tree: sources, pytest's and the packaging's configuration.
_TEXT = (".py", ".toml", ".cfg", ".ini", ".txt", ".in", ".yaml", ".yml", ".json")


def export(git_dir: Path, commit: str, into: Path) -> int:
    """Write the commit's source and configuration files under ``into``; the number written.

    ``git archive`` would stop at the first blob a mirror left out (its largest files may be
    absent), so the blobs are read one by one and a missing one is skipped."""
    listing = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", commit],
                             capture_output=True, check=True).stdout  # fmt: skip
    wanted: list[tuple[str, str]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        name = path.decode("utf-8", errors="surrogateescape")
        if kind == b"blob" and mode != b"120000" and name.endswith(_TEXT):
            wanted.append((sha.decode(), name))
    batch = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
                           input=b"".join(f"{sha}\n".encode() for sha, _ in wanted), capture_output=True, check=True).stdout  # fmt: skip
    written = offset = 0
    for _, name in wanted:
        end = batch.index(b"\n", offset)
        header = batch[offset:end].split()
        offset = end + 1
        if len(header) < 3 or header[1] != b"blob":
            continue  # "<sha> missing": left out of the mirror
        size = int(header[2])
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(batch[offset : offset + size])
        offset += size + 1
        written += 1
    return written


def propose(
    tree: Path, nodeid: str, timeout: float, code: Path = ROOT
) -> tuple[dict[str, object] | None, str, float, float]:
    """The JSON ``fix --propose --json`` printed (None on a timeout or a crash), a note, wall and CPU seconds."""
    started = time.perf_counter()
    used = _children_cpu()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "flaketui", "-C", str(tree), "fix", nodeid, "--propose", "--json"],
            capture_output=True, text=True, timeout=timeout, cwd=code, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"no answer within {timeout:.0f} s", time.perf_counter() - started, _children_cpu() - used
    seconds, cpu = time.perf_counter() - started, _children_cpu() - used
    try:
        return json.loads(run.stdout), "", seconds, cpu
    except json.JSONDecodeError:
        last = (run.stderr.strip().splitlines() or [f"exit {run.returncode}, no output"])[-1]
        return None, last[:100], seconds, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def judge(case: dict[str, object], answer: dict[str, object] | None, note: str, seconds: float, cpu: float = 0.0) -> Outcome:
    weakening = bool(case.get("weakening"))

    def outcome(verdict: str, what: str) -> Outcome:
        return Outcome(str(case["id"]), str(case["shape"]), weakening, verdict, seconds, what, cpu, bool(case.get("untuned")))

    if answer is None:
        return outcome("timeout" if note.startswith("no answer") else "error", note)
    listed = answer.get("proposals")
    proposals = [p for p in listed if isinstance(p, dict) and p.get("diff")] if isinstance(listed, list) else []
    if not proposals:
        declined = answer.get("declined")
        why = "; ".join(str(d.get("remedy")) for d in declined if isinstance(d, dict)) if isinstance(declined, list) else ""
        verdict = "refused" if weakening else "no proposal"
        return outcome(verdict, f"declined: {why}" if why else "nothing matched")
    best = proposals[0]
    lines = case["lines"] if isinstance(case["lines"], list) else []
    expected = {(path, int(line)) for path, line in (str(x).rsplit(":", 1) for x in lines)}
    hit = bool(touched(str(best["diff"])) & expected)
    verdict = "hit" if hit else ("refused" if weakening else "miss")
    later = next((f" (#{n} {p.get('remedy')} would hit)" for n, p in enumerate(proposals[1:], start=2)
                  if touched(str(p["diff"])) & expected), "")  # fmt: skip
    return outcome(verdict, str(best.get("remedy", "?")) + ("" if hit else later))


def run_case(case: dict[str, object], mirrors: Path, scratch: Path, timeout: float, code: Path = ROOT) -> Outcome:
    git_dir = mirror_of(mirrors, str(case["repo"]))
    if git_dir is None:
        return Outcome(str(case["id"]), str(case["shape"]), bool(case.get("weakening")), "no mirror", 0.0, str(case["repo"]))
    tree = scratch / str(case["id"])
    tree.mkdir()
    try:
        export(git_dir, str(case["parent"]), tree)
    except (subprocess.CalledProcessError, ValueError) as error:
        return Outcome(str(case["id"]), str(case["shape"]), bool(case.get("weakening")), "error", 0.0, f"export: {error}")
    answer, note, seconds, cpu = propose(tree, str(case["nodeid"]), timeout, code)
    return judge(case, answer, note, seconds, cpu)


def summary(outcomes: list[Outcome]) -> list[str]:
    measured = [o for o in outcomes if o.verdict != "no mirror"]
    honest = [o for o in measured if not o.weakening]
    hits = sum(o.verdict == "hit" for o in measured)
    honest_hits = sum(o.verdict == "hit" for o in honest)
    slowest = max(measured, key=lambda o: o.seconds, default=None)
    lines = [
        f"hit rate, all cases:           {hits}/{len(measured)} ({hits / max(len(measured), 1):.0%})",
        f"hit rate, non-weakening fixes: {honest_hits}/{len(honest)} ({honest_hits / max(len(honest), 1):.0%})",
        "weakening fixes refused: " + f"{sum(o.verdict == 'refused' for o in measured)}/{len(measured) - len(honest)}",
    ]
    untuned = [o for o in honest if o.untuned]
    if untuned:
        untuned_hits = sum(o.verdict == "hit" for o in untuned)
        lines.append(f"hit rate, non-weakening, untuned repositories: {untuned_hits}/{len(untuned)} ({untuned_hits / len(untuned):.0%})")
    if slowest is not None:
        lines.append(f"slowest: {slowest.id} {slowest.seconds:.1f} s ({slowest.cpu:.1f} s CPU); "
                     f"total {sum(o.seconds for o in measured):.0f} s, {sum(o.cpu for o in measured):.0f} s CPU")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=MIRRORS, help="directory of owner+name bare mirrors")
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--only", help="run the cases whose id contains this text")
    parser.add_argument("--untuned", action="store_true", help="only the cases of repositories no remedy was tuned on")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per case")
    parser.add_argument("--json", dest="json_out", type=Path, help="also write the outcomes here")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose flaketui runs (python -m from there)")
    args = parser.parse_args(argv)
    if not args.mirrors.is_dir():
        print(f"fix_real_history: no mirrors at {args.mirrors} (fetch the repositories first); nothing measured.")
        return 0
    cases = [c for c in tomllib.loads(args.cases.read_text(encoding="utf-8"))["case"] if (not args.only or args.only in c["id"]) and (not args.untuned or c.get("untuned"))]
    outcomes: list[Outcome] = []
    print(f"real history: does the best proposal change the lines the real fix changed? ({len(cases)} cases)")
    with tempfile.TemporaryDirectory(prefix="flaketui-real-history-") as scratch_dir:
        for case in cases:
            outcome = run_case(case, args.mirrors, Path(scratch_dir), args.timeout, args.code.resolve())
            outcomes.append(outcome)
            mark = "*" if outcome.weakening else " "
            print(f"  {outcome.id:36} {outcome.verdict:11} {outcome.seconds:6.1f}s {outcome.cpu:5.1f}s CPU {mark} {outcome.what[:44]:44} "
                  f"({outcome.shape[:70]})", flush=True)  # fmt: skip
    if all(o.verdict == "no mirror" for o in outcomes):
        print(f"fix_real_history: none of the repositories is mirrored under {args.mirrors}; nothing measured.")
        return 0
    print("  (* the real fix weakens the test: flaketui must not write it)")
    for line in summary(outcomes):
        print("  " + line)
    if args.json_out:
        args.json_out.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
