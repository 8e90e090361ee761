"""The demo repository: ``taskq``, a small job queue whose tests flake for every reason we know.

The project's files are package data under ``demo_project/`` (named ``*.txt`` so that nothing
collects or imports them inside flaketui's own tree). ``write_demo`` replays a short history
onto them: each commit adds files, and a few later commits fix a test but leave its flaky marker
behind, as happens in real repositories. Authors, committers and dates are fixed, so the same
flaketui version always writes the same commits (same SHAs).

What the tests show: truly flaky tests for race (threads and a join() that returns early), async
(a fixed asyncio.sleep), time (elapsed-time and wall-clock asserts), external (a fixed port and a
slow receiver), data (unseeded random data; set order, which only fresh processes reveal); tests
that flake only in another order (a module fixture mutated, os.environ set without monkeypatch,
a registry filled by a neighbour); and fixed tests whose marker stayed. Markers come in both
dialects (reruns=, max_runs=) and every form: decorator, bare, class, pytestmark, pytest.param,
and an alias imported from tests/helpers.py. A CI workflow reruns every failure.

Standard library only; git is run as a command with a local identity, so the demo needs none
on the machine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from flaketui.errors import FlakeTUIError
from flaketui.gitjobs import Running

#: The identity recorded in the demo's own ``.git/config``; commits carry their authors'.
LOCAL_NAME = "flaketui demo"
LOCAL_EMAIL = "demo@flaketui.invalid"

_ANA = ("Ana Ruiz", "ana.ruiz@taskq.example")
_TOM = ("Tom Becker", "tom.becker@taskq.example")


@dataclass(frozen=True)
class Fix:
    """A test repaired in a later commit; before it, ``path`` held ``before`` where it now holds ``after``."""

    path: str
    after: str
    before: str

    def undone(self, text: str) -> str:
        """``text``, the file with this fix, as it stood before the fix."""
        if text.count(self.after) != 1:
            raise AssertionError(f"demo fix for {self.path} no longer matches its template")
        return text.replace(self.after, self.before)


@dataclass(frozen=True)
class DemoCommit:
    message: str
    date: str
    author: tuple[str, str]
    adds: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()


_ETA_FIX = Fix(
    "tests/test_schedule.py",
    after='''    sched = Schedule(clock=lambda: NOON)
    job = sched.add(Job("report"), delay=timedelta(minutes=5))
    assert sched.eta(job) == "in 5 min (12:05 UTC)"
''',
    before='''    sched = Schedule()
    job = sched.add(Job("report"), delay=timedelta(minutes=5))
    expected = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%H:%M")
    assert sched.eta(job) == f"in 5 min ({expected} UTC)"
''',
)

_WEBHOOK_FIX = Fix(
    "tests/test_webhooks.py",
    after='''    def test_server_error_raises_delivery_error(self, receiver):
        receiver.status = 503
        client = WebhookClient(receiver.url, timeout=5.0)
''',
    before='''    def test_server_error_raises_delivery_error(self):
        # Nothing listens on 8799 on the CI runners.
        client = WebhookClient("http://127.0.0.1:8799/hooks", timeout=2.0)
''',
)

_WAIT_IDLE_FIX = Fix(
    "tests/test_queue.py",
    after='''    jobs = [running_queue.submit(Job("thumbnail", {"size": 32})) for _ in range(6)]
    assert running_queue.wait_idle()
''',
    before='''    jobs = [running_queue.submit(Job("thumbnail", {"size": 32})) for _ in range(6)]
    assert running_queue.join()
''',
)

_JOIN_DOC_FIX = Fix(
    "src/taskq/queue.py",
    after='''        """Wait until no job is waiting. Kept for 0.1 callers: a job a worker has taken may
        still be running when this returns; use ``wait_idle`` to wait for it."""
''',
    before='''        """Wait until the queue is empty."""
''',
)

_ENV_FIX = Fix(
    "tests/test_settings.py",
    after='''def test_retry_budget_from_environment(monkeypatch):
    monkeypatch.setenv("TASKQ_MAX_RETRIES", "5")
    assert Settings.from_env().max_retries == 5
''',
    before='''def test_retry_budget_from_environment():
    os.environ["TASKQ_MAX_RETRIES"] = "5"
    assert Settings.from_env().max_retries == 5
    del os.environ["TASKQ_MAX_RETRIES"]
''',
)

_RERUN_PLUGIN_FIX = Fix(
    "pyproject.toml",
    after="""# CI reruns flaky tests. We moved from flaky to pytest-rerunfailures (which also reads the
# old max_runs= markers, as a single rerun); flaky cannot be installed next to reruns= markers.
test = ["pytest>=8", "pytest-rerunfailures>=14"]
""",
    before="""test = ["pytest>=8", "flaky>=3.8"]
""",
)

_CI_RERUNS_FIX = Fix(
    ".github/workflows/ci.yml",
    after="""      - run: pytest --reruns 2 --reruns-delay 1
""",
    before="""      - run: pytest --force-flaky --max-runs 3
""",
)

HISTORY: tuple[DemoCommit, ...] = (
    DemoCommit(
        "Initial job queue: priorities, worker threads, stats",
        "2025-01-06T09:12:00+01:00",
        _ANA,
        adds=(
            ".gitignore",
            "README.md",
            "pyproject.toml",
            "src/taskq/__init__.py",
            "src/taskq/jobs.py",
            "src/taskq/queue.py",
            "src/taskq/settings.py",
            "tests/__init__.py",
            "tests/conftest.py",
            "tests/receiver.py",
            "tests/helpers.py",
            "tests/test_jobs.py",
            "tests/test_queue.py",
        ),
    ),
    DemoCommit(
        "Retry temporary failures with exponential backoff and full jitter",
        "2025-01-09T14:40:00+01:00",
        _TOM,
        adds=("src/taskq/retry.py", "tests/test_retry.py"),
    ),
    DemoCommit(
        "CI: run the tests on 3.11 to 3.13, rerunning flaky failures",
        "2025-01-10T08:55:00+01:00",
        _TOM,
        adds=(".github/workflows/ci.yml",),
    ),
    DemoCommit(
        "Schedule jobs for later and expire them after a TTL",
        "2025-01-14T11:05:00+01:00",
        _ANA,
        adds=("src/taskq/schedule.py", "tests/test_schedule.py"),
    ),
    DemoCommit(
        "Read settings from TASKQ_* variables; register handlers by name",
        "2025-01-20T16:22:00+01:00",
        _TOM,
        adds=("src/taskq/registry.py", "tests/test_settings.py", "tests/test_registry.py"),
    ),
    DemoCommit(
        "Rerun flaky tests with pytest-rerunfailures instead of flaky",
        "2025-01-22T09:40:00+01:00",
        _TOM,
        fixes=(_RERUN_PLUGIN_FIX, _CI_RERUNS_FIX),
    ),
    DemoCommit(
        "POST a signed webhook when a job completes",
        "2025-01-27T10:48:00+01:00",
        _ANA,
        adds=("src/taskq/webhooks.py", "tests/test_webhooks.py"),
    ),
    DemoCommit(
        "Async runner for I/O-bound handlers",
        "2025-02-03T09:30:00+01:00",
        _TOM,
        adds=("src/taskq/aio.py", "tests/test_aio.py"),
    ),
    DemoCommit(
        "Test the ETA with a fixed clock instead of the wall clock",
        "2025-02-11T15:02:00+01:00",
        _ANA,
        fixes=(_ETA_FIX,),
    ),
    DemoCommit(
        "Settings tests: set the environment with monkeypatch",
        "2025-02-18T12:10:00+01:00",
        _TOM,
        fixes=(_ENV_FIX,),
    ),
    DemoCommit(
        "Webhook tests: make the receiver answer 503 instead of assuming port 8799 is free",
        "2025-02-25T17:45:00+01:00",
        _ANA,
        fixes=(_WEBHOOK_FIX,),
    ),
    DemoCommit(
        "Queue: document that join() returns before in-flight jobs finish; tests use wait_idle()",
        "2025-03-04T10:15:00+01:00",
        _TOM,
        fixes=(_WAIT_IDLE_FIX, _JOIN_DOC_FIX),
    ),
)


def template_names() -> list[str]:
    """Every file of the demo, as its repo-relative path."""
    found: list[str] = []

    def walk(node: Traversable, parts: list[str]) -> None:  # Traversable has no rglob
        for child in node.iterdir():
            if child.is_dir():
                walk(child, [*parts, _real_name(child.name)])
            elif child.name.endswith(".txt"):
                found.append("/".join([*parts, _real_name(child.name.removesuffix(".txt"))]))

    walk(_templates(), [])
    return sorted(found)


def final_content(path: str) -> bytes:
    """The file as the demo's last commit has it."""
    *directories, name = path.split("/")
    node = _templates()
    for part in directories:
        node = node / _stored_name(part)
    return (node / (_stored_name(name) + ".txt")).read_bytes()


def _templates() -> Traversable:
    return resources.files("flaketui") / "demo_project"


# Dot files and directories are stored as dot-NAME: package data globs skip hidden files.
def _real_name(stored: str) -> str:
    return "." + stored.removeprefix("dot-") if stored.startswith("dot-") else stored


def _stored_name(real: str) -> str:
    return "dot-" + real[1:] if real.startswith(".") else real


def content_at(path: str, commit_index: int) -> bytes:
    """The file as it stood after ``HISTORY[commit_index]``: later fixes not yet made."""
    text = final_content(path).decode("utf-8")
    for later in reversed(HISTORY[commit_index + 1 :]):
        for fix in later.fixes:
            if fix.path == path:
                text = fix.undone(text)
    return text.encode("utf-8")


def write_demo(path: Path) -> Path:
    """Write the demo repository into ``path`` (absent or empty) and return it, resolved.

    If writing fails half-way, what was written is removed again, so a retry into the same
    directory works.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FlakeTUIError(
            f"{path} already exists and is not an empty directory.",
            "Give `flaketui demo` a new or empty directory, or none to use a fresh temporary one.",
        )
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True)
    path = path.resolve()
    try:
        _write_history(path)
    except BaseException:
        if existed:
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            shutil.rmtree(path)
        raise
    return path


def _write_history(path: Path) -> None:
    _git(path, "init", "-q", "-b", "main")
    for key, value in (
        ("user.name", LOCAL_NAME),
        ("user.email", LOCAL_EMAIL),
        ("commit.gpgsign", "false"),
        ("core.autocrlf", "false"),
    ):
        _git(path, "config", "--local", key, value)
    written: set[str] = set()
    for index, commit in enumerate(HISTORY):
        changed = [*commit.adds, *dict.fromkeys(fix.path for fix in commit.fixes)]
        for rel in changed:
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content_at(rel, index))
        written.update(changed)
        _git(path, "add", "--", *changed)
        _commit(path, commit)
    missing = set(template_names()) - written
    if missing:  # a template nobody commits would leave the work tree dirty
        raise AssertionError(f"demo files not in any commit: {sorted(missing)}")


def _commit(root: Path, commit: DemoCommit) -> None:
    name, email = commit.author
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": commit.date,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": commit.date,
    }
    # No hooks: the machine's global hooks have no business in a generated repository.
    _git(root, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--no-verify", "-m", commit.message, extra_env=env)


def _git(root: Path, *args: str, extra_env: dict[str, str] | None = None) -> None:
    """The git binary through ``gitjobs.Running``, as everywhere but the fix commit; a
    repository this process is inside (a hook's GIT_DIR) must not receive the demo."""
    code, _, err = Running(root, args, extra_env, unset=("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")).output()
    if code != 0:
        shown = " ".join(a for a in args if not a.startswith(("-c", "core.")))
        raise FlakeTUIError(
            f"git {shown} failed while writing the demo: {err.decode(errors='replace').strip()}",
            "Check that the directory is writable, then run `flaketui demo` again with a new directory.",
        )
