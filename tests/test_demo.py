"""The demo repository: a real git history, and a test suite that runs under plain pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flaketui.cli import main
from flaketui.demo import HISTORY, LOCAL_EMAIL, LOCAL_NAME, content_at, template_names, write_demo
from tests.conftest import git

#: The demo's tests that carry no flaky marker.
ORDINARY = {
    "tests/test_jobs.py::test_new_job_has_defaults",
    "tests/test_jobs.py::test_job_ids_are_unique",
    "tests/test_queue.py::test_submitted_job_runs",
    "tests/test_queue.py::test_failing_handler_is_counted",
    "tests/test_registry.py::test_register_adds_handler",
    "tests/test_registry.py::test_unknown_handler_is_rejected",
    "tests/test_retry.py::test_gives_up_after_the_last_attempt",
    "tests/test_retry.py::test_backoff_is_capped",
    "tests/test_schedule.py::test_due_jobs_come_in_order",
    "tests/test_schedule.py::test_job_expires_after_ttl[long-after-ttl]",
    "tests/test_settings.py::test_retries_can_be_disabled",
    "tests/test_settings.py::test_webhook_url_from_environment",
    "tests/test_webhooks.py::test_payload_is_signed",
}

#: Flaky-marked tests that fail now and then when run (the rest are fixed, or flake only in
#: another order or another process): node id -> (root cause it was written for, marker scope).
TRULY_FLAKY = {
    "tests/test_aio.py::test_results_fill_in_while_running": ("async", "module"),
    "tests/test_jobs.py::test_describe_lists_tags": ("data", "function"),
    "tests/test_jobs.py::test_random_priorities_are_served_highest_first": ("data", "function"),
    "tests/test_queue.py::test_jobs_from_concurrent_producers_are_all_counted": ("race", "function"),
    "tests/test_retry.py::test_three_attempts_finish_within_budget": ("time", "function"),
    "tests/test_schedule.py::test_job_expires_after_ttl[just-past-ttl]": ("time", "param"),
    "tests/test_webhooks.py::TestWebhookDelivery::test_delivers_to_staging_receiver": ("external", "class"),
}

#: Flaky-marked tests that pass in the file's order: fixed already, or hurt only by test order.
STABLE_IN_FILE_ORDER = {
    "tests/test_aio.py::test_fetch_all_returns_every_result": ("async", "module"),
    "tests/test_queue.py::test_results_are_visible_once_idle": ("race", "function"),
    "tests/test_registry.py::test_only_builtin_handlers_by_default": ("order", "function"),
    "tests/test_registry.py::test_dispatch_runs_the_registered_handler": ("order", "function"),
    "tests/test_schedule.py::test_eta_is_shown_in_minutes": ("time", "function"),
    "tests/test_settings.py::test_default_retry_budget": ("fixture", "function"),
    "tests/test_settings.py::test_webhook_url_defaults_to_local_receiver": ("fixture", "function"),
    "tests/test_settings.py::test_retry_budget_from_environment": ("fixture", "function"),
    "tests/test_webhooks.py::TestWebhookDelivery::test_server_error_raises_delivery_error": ("external", "class"),
}

FLAKY_MARKED = {**TRULY_FLAKY, **STABLE_IN_FILE_ORDER}


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo shared by the tests that leave its work tree alone (writing it takes a dozen commits).

    Scans, diagnoses and verifications write only under .git/flaketui."""
    return write_demo(tmp_path_factory.mktemp("demo") / "taskq")


def run_demo_pytest(root: Path, *args: str, hashseed: str | None = None) -> subprocess.CompletedProcess[str]:
    """The demo's suite under plain pytest: no plugins at all, as on a machine with flaketui only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKQ_", "PYTEST_", "PYTHONHASHSEED"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if hashseed is not None:
        env["PYTHONHASHSEED"] = hashseed
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def junit_outcomes(report: Path) -> dict[str, str]:
    """node id -> passed / failed / error / skipped, from a junit XML report."""
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        module, _, cls = case.attrib["classname"].rpartition(".")
        if module.startswith("tests.") and cls[:1].isupper():
            nodeid = f"{module.replace('.', '/')}.py::{cls}::{case.attrib['name']}"
        else:
            nodeid = f"{case.attrib['classname'].replace('.', '/')}.py::{case.attrib['name']}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[nodeid] = kinds[0] if kinds else "passed"
    return outcomes


# -- the repository ---------------------------------------------------------------------


def test_history_has_every_commit_with_its_author_and_date(demo_repo: Path) -> None:
    log = git(demo_repo, "log", "--reverse", "--format=%s|%an|%aI|%cI").splitlines()
    assert [line.split("|")[0] for line in log] == [c.message for c in HISTORY]
    for line, commit in zip(log, HISTORY, strict=True):
        _, author, authored, committed = line.split("|")
        assert author == commit.author[0]
        assert authored == committed == commit.date
    assert git(demo_repo, "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_local_identity_and_clean_work_tree(demo_repo: Path) -> None:
    assert git(demo_repo, "config", "--local", "user.name").strip() == LOCAL_NAME
    assert git(demo_repo, "config", "--local", "user.email").strip() == LOCAL_EMAIL
    assert git(demo_repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert sorted(git(demo_repo, "ls-files").splitlines()) == template_names()


def test_same_version_writes_the_same_commits(demo_repo: Path, tmp_path: Path) -> None:
    again = write_demo(tmp_path / "again")
    assert git(again, "rev-parse", "HEAD") == git(demo_repo, "rev-parse", "HEAD")


def test_files_are_the_templates_byte_for_byte(demo_repo: Path) -> None:
    last = len(HISTORY) - 1
    for rel in template_names():
        assert (demo_repo / rel).read_bytes() == content_at(rel, last), rel
    assert (demo_repo / ".gitignore").is_file()
    assert not list(demo_repo.rglob("*.txt"))


def test_fixing_commits_left_the_marker_in_place(demo_repo: Path) -> None:
    """A "fixed but still marked" test: the commit changed its body, not its marker."""
    for back, commit in enumerate(reversed(HISTORY)):
        for fix in commit.fixes:
            before = git(demo_repo, "show", f"HEAD~{back + 1}:{fix.path}")
            after = git(demo_repo, "show", f"HEAD~{back}:{fix.path}")
            assert fix.before in before and fix.after not in before
            assert fix.after in after
            if fix.path.startswith("tests/"):
                assert before.count("flaky") == after.count("flaky")


def test_every_python_file_compiles_at_every_commit() -> None:
    present: set[str] = set()
    for index, commit in enumerate(HISTORY):
        present.update(commit.adds)
        assert {fix.path for fix in commit.fixes} <= present, commit.message
        for rel in sorted(p for p in present if p.endswith(".py")):
            compile(content_at(rel, index), f"{rel}@{index}", "exec")


def test_works_without_any_git_identity_on_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    root = write_demo(tmp_path / "demo")
    assert len(git(root, "log", "--format=%H").split()) == len(HISTORY)


def test_refuses_a_non_empty_directory_and_leaves_it_alone(tmp_path: Path) -> None:
    from flaketui.errors import FlakeTUIError

    (tmp_path / "notes.txt").write_bytes(b"mine\r\n")
    with pytest.raises(FlakeTUIError) as raised:
        write_demo(tmp_path)
    assert "not an empty directory" in raised.value.message and raised.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_bytes() == b"mine\r\n"


def test_refuses_a_file(tmp_path: Path) -> None:
    from flaketui.errors import FlakeTUIError

    (tmp_path / "f").write_bytes(b"data")
    with pytest.raises(FlakeTUIError):
        write_demo(tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == b"data"


@pytest.mark.parametrize("existed", [True, False], ids=["empty-dir", "new-dir"])
def test_without_git_it_says_so_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existed: bool
) -> None:
    from flaketui.errors import FlakeTUIError

    (tmp_path / "no-binaries").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries"))
    target = tmp_path / "demo"
    if existed:
        target.mkdir()
    with pytest.raises(FlakeTUIError) as raised:
        write_demo(target)
    assert "git is not installed" in raised.value.message
    assert target.exists() is existed
    if existed:
        assert list(target.iterdir()) == []


def test_an_existing_empty_directory_is_used(tmp_path: Path) -> None:
    root = write_demo(tmp_path)
    assert root == tmp_path.resolve()
    assert (root / "src" / "taskq" / "queue.py").is_file()


# -- the demo's own test suite -------------------------------------------------------------


def test_plain_pytest_collects_every_test(demo_repo: Path) -> None:
    result = run_demo_pytest(demo_repo, "--collect-only")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {line for line in result.stdout.splitlines() if "::" in line}
    assert collected == ORDINARY | set(FLAKY_MARKED)
    assert len(FLAKY_MARKED) == 16


def test_every_test_finishes_and_only_the_truly_flaky_can_fail(demo_repo: Path, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = run_demo_pytest(demo_repo, "-p", "no:randomly", f"--junitxml={report}", "-W", "error")
    assert "warning" not in result.stdout.splitlines()[-1], result.stdout
    outcomes = junit_outcomes(report)
    assert set(outcomes) == ORDINARY | set(FLAKY_MARKED)
    misbehaving = {
        nodeid: outcome
        for nodeid, outcome in outcomes.items()
        if outcome != "passed" and (nodeid not in TRULY_FLAKY or outcome not in ("failure", "error"))
    }
    assert misbehaving == {}, result.stdout


@pytest.mark.parametrize(("hashseed", "expected"), [("0", "1 passed"), ("1", "1 failed")])
def test_tag_order_depends_on_the_hash_seed(demo_repo: Path, hashseed: str, expected: str) -> None:
    result = run_demo_pytest(demo_repo, "tests/test_jobs.py::test_describe_lists_tags", hashseed=hashseed)
    assert expected in result.stdout.splitlines()[-1], result.stdout


@pytest.mark.parametrize(
    ("order", "victim_passes"),
    [
        pytest.param(("test_default_retry_budget", "test_retries_can_be_disabled"), True, id="file-order"),
        pytest.param(("test_retries_can_be_disabled", "test_default_retry_budget"), False, id="polluter-first"),
    ],
)
def test_module_fixture_mutation_depends_on_order(demo_repo: Path, order: tuple[str, str], victim_passes: bool) -> None:
    result = run_demo_pytest(demo_repo, *(f"tests/test_settings.py::{name}" for name in order), "-rA")
    victim = "tests/test_settings.py::test_default_retry_budget"
    assert (f"PASSED {victim}" in result.stdout) is victim_passes, result.stdout


def test_order_dependent_test_fails_alone(demo_repo: Path) -> None:
    alone = run_demo_pytest(demo_repo, "tests/test_registry.py::test_dispatch_runs_the_registered_handler")
    assert "1 failed" in alone.stdout.splitlines()[-1], alone.stdout
    in_module = run_demo_pytest(demo_repo, "tests/test_registry.py")
    assert in_module.returncode == 0, in_module.stdout


# -- what flaketui sees in it ----------------------------------------------------------------


def test_scan_finds_every_flaky_marked_test_in_every_form(demo_repo: Path) -> None:
    from flaketui.service import Service

    result = Service(demo_repo).scan(use_cache=False)
    assert result.skipped == ()
    # CI reruns every failure: the repository-wide finding the demo's workflow was written for.
    assert [(f.kind, f.path) for f in result.findings] == [("ci-reruns", ".github/workflows/ci.yml")]
    found = {test.nodeid: test for test in result.tests}
    assert set(found) == set(FLAKY_MARKED)
    for nodeid, (_, scope) in FLAKY_MARKED.items():
        test = found[nodeid]
        assert test.rootdir == "." and test.path == nodeid.split("::")[0]
        assert str(test.marker.scope) == scope, nodeid
        def_line = (demo_repo / test.path).read_text().splitlines()[test.line - 1]
        assert def_line.lstrip().startswith("def "), (nodeid, def_line)
        kind = "flaky" if "max_runs" in test.marker.args_dict else "rerunfailures"
        assert str(test.marker.kind) == kind, nodeid
    aliased = {nodeid for nodeid, test in found.items() if test.marker.via == "flaky"}
    assert aliased == {"tests/test_schedule.py::test_eta_is_shown_in_minutes", "tests/test_settings.py::test_default_retry_budget"}
    assert found["tests/test_settings.py::test_default_retry_budget"].marker.args_dict == {"reruns": "3"}
    # A bare marker: rerunfailures because that is the rerun plugin the project declares.
    bare = found["tests/test_registry.py::test_only_builtin_handlers_by_default"].marker
    assert (bare.source, bare.args, str(bare.kind)) == ("pytest.mark.flaky", (), "rerunfailures")


def test_diagnosis_names_the_cause_each_flaky_test_was_written_for(demo_repo: Path) -> None:
    from flaketui.service import Service

    service = Service(demo_repo)
    tests = [t for t in service.scan().tests if t.nodeid in TRULY_FLAKY]
    suggested = {d.nodeid: str(d.suggestion.category) for d in service.diagnose_many(tests)}
    assert suggested == {nodeid: cause for nodeid, (cause, _) in TRULY_FLAKY.items()}
    order_dependent = "tests/test_registry.py::test_dispatch_runs_the_registered_handler"
    [diagnosis] = service.diagnose_many([t for t in service.scan().tests if t.nodeid == order_dependent])
    assert str(diagnosis.suggestion.category) == "order"
    assert diagnosis.fix_at == ("tests/test_registry.py", 15)  # test_register_adds_handler registers for good


def test_the_race_points_at_join_whose_docstring_says_to_wait_idle(demo_repo: Path) -> None:
    """The test joins its producer threads; the cause is one call away: JobQueue.join()
    returns before in-flight jobs finish, and the fix is one line of the test."""
    from flaketui.service import Service

    service = Service(demo_repo)
    race = "tests/test_queue.py::test_jobs_from_concurrent_producers_are_all_counted"
    [diagnosis] = service.diagnose_many([t for t in service.scan().tests if t.nodeid == race])
    assert str(diagnosis.suggestion.category) == "race"
    top = diagnosis.evidence[0]
    assert (top.rule, top.path, top.line) == ("race.warning-docstring", "src/taskq/queue.py", 76)
    assert "wait_idle()" in top.fix
    assert diagnosis.fix_at == ("tests/test_queue.py", 41)
    assert "join the thread" not in " ".join(e.fix for e in diagnosis.evidence)


FIXED_BUT_MARKED = {
    "tests/test_aio.py::test_fetch_all_returns_every_result",
    "tests/test_queue.py::test_results_are_visible_once_idle",
    "tests/test_schedule.py::test_eta_is_shown_in_minutes",
    "tests/test_settings.py::test_retry_budget_from_environment",
    "tests/test_webhooks.py::TestWebhookDelivery::test_server_error_raises_delivery_error",
}


def test_verification_finds_the_fixed_tests_stable_and_the_order_dependent_one_broken(demo_repo: Path) -> None:
    from flaketui.service import Service

    service = Service(demo_repo)
    order_dependent = "tests/test_registry.py::test_dispatch_runs_the_registered_handler"
    tests = [t for t in service.scan().tests if t.nodeid in FIXED_BUT_MARKED | {order_dependent}]
    verdicts = {v.nodeid: (str(v.verdict), v.passed, v.runs) for v in service.verify(tests, runs=2)}
    assert verdicts == {
        **{nodeid: ("stable", 2, 2) for nodeid in FIXED_BUT_MARKED},
        order_dependent: ("broken", 0, 2),  # alone, nothing registered its handler
    }


# -- the command ----------------------------------------------------------------------------


def test_demo_command_writes_the_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-open", str(tmp_path / "here")]) == 0
    out = capsys.readouterr().out
    assert str((tmp_path / "here").resolve()) in out
    assert git(tmp_path / "here", "status", "--porcelain") == ""


def test_demo_dir_is_relative_to_dash_c(tmp_path: Path) -> None:
    assert main(["-C", str(tmp_path), "demo", "--no-open", "sub"]) == 0
    assert (tmp_path / "sub" / "pyproject.toml").is_file()


def test_demo_without_dir_uses_a_fresh_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["demo", "--no-open"]) == 0
    [made] = list(tmp_path.iterdir())
    assert made.name.startswith("flaketui-demo-")
    assert [p.name for p in made.iterdir()] == ["taskq"]
    assert str((made / "taskq").resolve()) in capsys.readouterr().out


def test_demo_command_refuses_a_non_empty_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.py").write_text("x = 1\n")
    assert main(["demo", "--no-open", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not an empty directory" in err and "hint:" in err


def test_demo_opens_the_app_on_the_new_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flaketui.cli.context

    opened: list[Path] = []
    # The app itself needs a terminal; its own Pilot tests cover it. Here: what it is opened on.
    monkeypatch.setattr(flaketui.cli.context, "open_app", lambda service: opened.append(service.root))
    assert main(["demo", str(tmp_path / "d")]) == 0
    assert opened == [(tmp_path / "d").resolve()]


def test_demo_prints_the_scan_when_the_app_cannot_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "flaketui.tui.app", None)  # import now raises ImportError
    monkeypatch.setenv("COLUMNS", "250")  # node ids in full, not ellipsized to a narrow table
    assert main(["demo", str(tmp_path / "d")]) == 0
    captured = capsys.readouterr()
    assert "cannot start" in captured.err
    assert "test_jobs_from_concurrent_producers_are_all_counted" in captured.out
    assert "test_job_expires_after_ttl[just-past-ttl]" in captured.out


def test_python_dash_m_demo_smoke(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flaketui", "demo", "--no-open", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / ".git").is_dir()


def test_the_diagnosis_names_a_cause_for_all_but_two_and_points_the_race_at_join(demo_repo: Path) -> None:
    from flaketui.service import Service

    service = Service(demo_repo)
    tests = service.scan().tests
    diagnoses = {d.nodeid: d for d in service.diagnose_many(tests)}
    unknown = sorted(nodeid for nodeid, d in diagnoses.items() if d.suggestion.category == "unknown")
    assert len(unknown) <= 2, unknown
    # Fixed tests whose marker stayed: the commit that fixed each one says what was wrong.
    for nodeid in ("tests/test_queue.py::test_results_are_visible_once_idle", "tests/test_schedule.py::test_eta_is_shown_in_minutes",
                   "tests/test_settings.py::test_retry_budget_from_environment",
                   "tests/test_webhooks.py::TestWebhookDelivery::test_server_error_raises_delivery_error"):
        assert diagnoses[nodeid].suggestion.category == STABLE_IN_FILE_ORDER[nodeid][0], nodeid
    race = diagnoses["tests/test_queue.py::test_jobs_from_concurrent_producers_are_all_counted"]
    assert race.suggestion.category == "race"
    assert race.evidence[0].path == "src/taskq/queue.py" and "JobQueue.join()" in race.evidence[0].message
    lines = (demo_repo / "tests/test_queue.py").read_text().splitlines()
    assert race.fix_at is not None and race.fix_at[0] == "tests/test_queue.py"
    assert lines[race.fix_at[1] - 1].strip() == "running_queue.join()"
