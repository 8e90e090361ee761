"""How fast the app is on a repository with 1,000 flaky tests.

    .venv/bin/python benchmarks/tui.py [--tests 1000] [--presses 40]

Measures, headless (Textual's Pilot), in one process:
- first frame: from before importing the app to the main screen's first paint (< 1 s);
- full table: from launch until all rows are in the table, cold scan cache (< 3 s);
- key latency: cursor moves and filter keystrokes, as the app's own cost: the mean time of
  Pilot.press on our app minus the same on an empty app measured in the same run (Pilot
  waits for idle, which costs ~40 ms per key on any app) (<= 50 ms); and the same as the
  main thread's CPU time ("own CPU"), which the wall times do not show alone: Pilot waits
  for the screen's next refresh, so they move in steps of a frame (1/60 s), and a key that
  ends just past a refresh costs a whole frame more;
- peak memory (ru_maxrss) of the whole process (< 250 MB).

``--baseline DIR`` (a checkout of another revision: ``git worktree add --detach DIR REV``) runs
this benchmark and that revision's own ``benchmarks/tui.py`` in turn, each in a process of its
own, ``--rounds`` times, and prints the best of each figure side by side with the ratio. Both
trees are byte-compiled first, as an installed package is.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCH = time.perf_counter()
WATCHDOG_SECONDS = 900
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TEST_TEMPLATE = '''
@pytest.mark.flaky(reruns={reruns})
def test_case_{index}(tmp_path):
    started = time.time()
    value = random.randint(0, 10) + {index}
    assert value >= {index}
    assert time.time() - started < 5
'''


def make_repository(root: Path, count: int, per_file: int = 25) -> None:
    for file_index in range(0, count, per_file):
        body = ["import random", "import time", "", "import pytest", ""]
        body += [TEST_TEMPLATE.format(index=i, reruns=1 + i % 3) for i in range(file_index, min(count, file_index + per_file))]
        target = root / "tests" / f"test_module_{file_index // per_file:03d}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(body))
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)


async def workers_done(app) -> None:
    """Until no worker runs. A worker of an exclusive group that a newer one replaced ends
    cancelled, and ``wait_for_complete`` raises for it: that one is done too."""
    from textual.worker import WorkerCancelled

    try:
        await app.workers.wait_for_complete()
    except WorkerCancelled:
        pass


async def key_cost(app, keys: list[str], prepare=None) -> tuple[float, float]:
    """Mean seconds per Pilot.press of ``keys`` (after ``prepare``): wall time, and the main
    thread's CPU time (the event loop's, where both Pilot and the app run)."""
    async with app.run_test(size=(160, 45)) as pilot:
        while True:  # the scan's handler starts the diagnosis: wait for both
            await workers_done(app)
            await pilot.pause()
            if not any(worker.is_running for worker in app.workers):
                break
        if prepare is not None:
            await prepare(pilot)
        timings, cpu = [], []
        for key in keys:
            started, started_cpu = time.perf_counter(), time.thread_time()
            await pilot.press(key)
            timings.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - started_cpu)
    return statistics.mean(timings), statistics.mean(cpu)


async def measure(root: Path, tests: int, presses: int) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.widgets import Input, Static

    from flaketui.service import Service
    from flaketui.tui.app import FlakeTUIApp
    from flaketui.tui.main_screen import MainScreen

    figures: dict[str, float] = {}
    marks: dict[str, float] = {}

    class Timed(FlakeTUIApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.main.call_after_refresh(lambda: marks.setdefault("first_frame", time.perf_counter()))

    def table_full(screen: MainScreen, expected: int) -> bool:
        return screen.table.row_count == expected

    def all_diagnosed(screen: MainScreen) -> bool:
        return all(row.diagnosis is not None for row in screen.model.rows.values())

    def give_up_after(seconds: float, what: str):
        deadline = time.monotonic() + seconds

        def check() -> None:
            if time.monotonic() > deadline:
                screen = app.main
                rows = getattr(getattr(screen, "model", screen), "rows")
                workers = ", ".join(f"{w.name}:{w.state.name}" for w in app.workers) or "none"
                raise RuntimeError(f"{what} after {seconds:.0f} s: {screen.table.row_count} rows in the table, "
                                   f"{len(rows)} in the model, {sum(r.diagnosis is not None for r in rows.values())} "
                                   f"diagnosed; workers: {workers}")
        return check

    app = Timed(Service(root))
    async with app.run_test(size=(160, 45)) as pilot:
        stuck = give_up_after(300, "the table is not full")
        while not table_full(app.main, tests):
            stuck()
            await pilot.pause(0.005)
        marks["table"] = time.perf_counter()
        during = []
        for _ in range(presses):  # the diagnosis of every test runs behind these keys, cold
            started = time.perf_counter()
            await pilot.press("j")
            during.append(time.perf_counter() - started)
        figures["cursor move while diagnosing, cold (ms)"] = statistics.mean(during) * 1000
        # Until every row has its diagnosis: after the keys, diagnosis waits for quiet with no
        # worker running, and stopping there left most of it (and the peak memory) to the next
        # app measured. A plain sleep: Pilot.pause's wait for the screen kept it from resuming.
        stuck = give_up_after(600, "the diagnosis did not end")
        while not all_diagnosed(app.main):
            stuck()
            await workers_done(app)
            await asyncio.sleep(0.05)
        marks["diagnosed"] = time.perf_counter()
    figures["first frame (s)"] = marks["first_frame"] - LAUNCH
    figures["full table, cold scan (s)"] = marks["table"] - LAUNCH
    figures["all diagnosed, cold (s)"] = marks["diagnosed"] - LAUNCH

    started = time.perf_counter()
    app = FlakeTUIApp(Service(root))
    async with app.run_test(size=(160, 45)) as pilot:
        while app.main.table.row_count < tests:
            await pilot.pause(0.005)
        figures["full table, warm cache (s)"] = time.perf_counter() - started

    class Empty(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("empty")
            yield Input()

    moves = ["j"] * presses
    letters = list("test_case_9") * (presses // 11 + 1)
    empty_keys = await key_cost(Empty(), moves)

    async def open_filter(pilot) -> None:
        await pilot.press("slash")

    async def focus_input(pilot) -> None:
        pilot.app.query_one(Input).focus()
        await pilot.pause()

    empty_typing = await key_cost(Empty(), letters[:presses], focus_input)
    ours_moves = await key_cost(FlakeTUIApp(Service(root)), moves)
    ours_filter = await key_cost(FlakeTUIApp(Service(root)), letters[:presses], open_filter)
    async def open_filter_with_prefix(pilot) -> None:
        await pilot.press("slash", *"test_case_")

    # Each of these changes what is shown (all 1,000 rows <-> the ~111 ending in 9). The table
    # refills after a pause in typing; the time from the last key to the refilled table:
    app = FlakeTUIApp(Service(root))
    refills = []
    async with app.run_test(size=(160, 45)) as pilot:
        await workers_done(app)
        await open_filter_with_prefix(pilot)
        nines = sum("test_case_9" in f"test_case_{i}" for i in range(tests))  # 111 of 1,000
        for key in ["9", "backspace"] * (presses // 8):
            expected = nines if key == "9" else tests
            started = time.perf_counter()
            await pilot.press(key)
            while app.main.table.row_count != expected:
                await pilot.pause(0.002)
            refills.append(time.perf_counter() - started)
        app.main.stop_everything()
    figures["filter: last key to refilled table (ms)"] = statistics.mean(refills) * 1000
    figures["cursor move, empty app (ms)"] = empty_keys[0] * 1000
    figures["cursor move, flaketui (ms)"] = ours_moves[0] * 1000
    figures["cursor move, own cost (ms)"] = (ours_moves[0] - empty_keys[0]) * 1000
    figures["cursor move, own CPU (ms)"] = (ours_moves[1] - empty_keys[1]) * 1000
    figures["filter keystroke, empty app (ms)"] = empty_typing[0] * 1000
    figures["filter keystroke, flaketui (ms)"] = ours_filter[0] * 1000
    figures["filter keystroke, own cost (ms)"] = (ours_filter[0] - empty_typing[0]) * 1000
    figures["filter keystroke, own CPU (ms)"] = (ours_filter[1] - empty_typing[1]) * 1000
    figures["peak memory (MB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="A checkout of another revision to run in turn.")
    parser.add_argument("--rounds", type=int, default=3, help="With --baseline: rounds, each side once per round.")
    options = parser.parse_args(argv)
    if options.baseline is not None:
        return against_baseline(options.baseline, options.rounds, ["--tests", str(options.tests), "--presses", str(options.presses)])
    global LAUNCH
    # A measurement that never ends (a row never filled or diagnosed) prints where every
    # thread stands and fails the run, instead of holding the comparison forever.
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    with tempfile.TemporaryDirectory(prefix="flaketui-bench-") as directory:
        root = Path(directory) / "bench"
        root.mkdir()
        make_repository(root, options.tests)
        os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
        LAUNCH = time.perf_counter()  # the repository exists; the app's clock starts now
        figures = asyncio.run(measure(root, options.tests, options.presses))
    limits = {"first frame (s)": 1.0, "full table, cold scan (s)": 3.0, "cursor move, own cost (ms)": 50.0,
              "filter keystroke, own cost (ms)": 50.0, "peak memory (MB)": 250.0}
    failed = False
    for name, value in figures.items():
        limit = limits.get(name)
        verdict = "" if limit is None else ("  ok" if value <= limit else f"  OVER (limit {limit:g})")
        failed |= bool(limit is not None and value > limit)
        print(f"{name:<36} {value:8.3f}{verdict}")
    return 1 if failed else 0


def against_baseline(baseline: Path, rounds: int, args: list[str]) -> int:
    """Both revisions' benchmarks in turn; the best (lowest) of each figure, and the ratio."""
    sides = {"ours": Path(__file__).resolve(), "baseline": baseline.resolve() / "benchmarks" / "tui.py"}
    best: dict[str, dict[str, float]] = {side: {} for side in sides}
    # Both sides as installed (pip writes the bytecode): a tree left without it, as under
    # PYTHONDONTWRITEBYTECODE, compiled its sources inside its first frame, and the side with
    # more code lost 30 ms that no user pays.
    for script in sides.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(script.parents[1] / "flaketui")],
                       capture_output=True, check=True)  # fmt: skip
    for _ in range(rounds):
        for side, script in sides.items():
            done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False)
            found = 0
            for line in done.stdout.splitlines():
                name, _, rest = line.partition("  ")
                words = rest.split()
                try:
                    value = float(words[0])
                except (IndexError, ValueError):
                    continue
                found += 1
                best[side][name.strip()] = min(value, best[side].get(name.strip(), value))
            if not found:  # exit 1 with figures is a figure over its limit; without any, a failed run
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
                print(f"{side}: a run failed (exit {done.returncode}):\n{tail}", file=sys.stderr)
    print(f"best of {rounds} rounds, each side in turn; baseline {baseline}")
    for name, ours in best["ours"].items():
        theirs = best["baseline"].get(name)
        versus = "" if not theirs else f"   {theirs:8.3f}  {(ours / theirs - 1) * 100:+6.1f}%"
        print(f"{name:<42} {ours:8.3f}{versus}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
