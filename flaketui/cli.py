"""The command line: ``flaketui`` opens the app; subcommands script the same service.

Every command imports what it needs inside its body, so ``flaketui --help`` and a cached
``flaketui scan`` never pay for libcst or textual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from flaketui import __version__
from flaketui.errors import FlakeTUIError
from flaketui.models import Category, VerifyMode

if TYPE_CHECKING:
    from flaketui.gitjobs import EarlyScan


class _Context:
    def __init__(self, directory: str, python: str | None, early: EarlyScan | None = None) -> None:
        self.directory = directory
        self.python = python
        self._early = early

    def service(self, directory: str | None = None):  # -> Service; imported lazily to keep start-up light
        from flaketui.service import Service

        early, self._early = self._early, None  # the launcher's early git answers serve one scan
        return Service(directory if directory is not None else self.directory, python=self.python, early=early)


pass_context = click.make_pass_decorator(_Context)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    default=".",
    metavar="PATH",
    type=click.Path(file_okay=False),
    help="Run as if flaketui was started in PATH (as git -C does).",
)
@click.option("--python", metavar="EXE", help="Interpreter that runs the target's tests (default: the project's).")
@click.version_option(__version__, prog_name="flaketui")
@click.pass_context
def cli(ctx: click.Context, directory: str, python: str | None) -> None:
    """Find, explain, verify and remove flaky pytest markers.

    Without a command, opens the app on the repository around the current directory.
    """
    ctx.obj = _Context(directory, python, early=ctx.obj)  # main(early=...) hands it over as the root object
    if ctx.invoked_subcommand is None:
        _open_app(ctx.obj.service())


def _open_app(service) -> None:
    from flaketui.tui.app import FlakeTUIApp

    FlakeTUIApp(service).run()


@cli.command()
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("--json", "as_json", is_flag=True, help="The same data as JSON.")
@pass_context
def audit(ctx: _Context, output: str | None, as_json: bool) -> int:
    """The audit report: flaky tests by root cause, verifications, markers removed, fix plan.

    Commit it as flaky_test_audit.md: flaketui audit -o flaky_test_audit.md
    """
    text = ctx.service().audit(as_json=as_json)
    if output is None:
        click.echo(text, nl=False)
        return 0
    from pathlib import Path

    target = Path(output)
    data = text.encode("utf-8")
    if target.exists() and target.read_bytes() == data:
        click.echo(f"{output} is up to date.", err=True)
        return 0
    target.write_bytes(data)
    click.echo(f"Wrote {output}.", err=True)
    return 0


@cli.command()
@click.option(
    "--max", "budget", default=0, show_default=True, type=click.IntRange(min=0), metavar="N",
    help="Pass with up to N markers not kept on purpose (a budget to ratchet down).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--github", is_flag=True, help="Also print GitHub Actions annotations for what fails.")
@pass_context
def check(ctx: _Context, budget: int, as_json: bool, github: bool) -> int:
    """The CI gate: exit 1 while flaky markers remain, apart from those kept on purpose.

    Lists each as path:line: nodeid (marker). A keep past its expiry date fails the gate.
    """
    result = ctx.service().check(budget=budget)
    if github:
        level = "notice" if result.ok else "error"
        for item in result.items:
            if item.status in ("failing", "finding", "expired"):
                click.echo(f"::{level} file={_gh(item.path, prop=True)},line={item.line}::{_gh(item.text)}")
    if as_json:
        import json
        from dataclasses import asdict

        payload = {"ok": result.ok, "budget": budget, "items": [asdict(i) | {"text": i.text} for i in result.items]}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0 if result.ok else 1
    for line in result.failing:
        click.echo(line)
    if result.expired:
        click.echo("\nKeeps past their expiry date (remove the marker, or extend the keep with a reason):")
        for line in result.expired:
            click.echo(line)
    if result.kept:
        click.echo("\nKept on purpose (.flaketui.toml):")
        for line in result.kept:
            click.echo(line)
    stale = [i.text for i in result.items if i.status == "stale"]
    if stale:
        click.echo("\nKeeps with nothing left to keep (remove them from .flaketui.toml):")
        for line in stale:
            click.echo(line)
    tests = sum(1 for i in result.items if i.status == "failing")
    markers = len({(i.path, i.line) for i in result.items if i.status == "failing"})
    reruns = sum(1 for i in result.items if i.status == "finding")
    unkept = _plural(markers, "flaky marker") + (f" on {_plural(tests, 'test')}" if tests != markers else "")
    unkept += f" and {_plural(reruns, 'repository-wide rerun')}" if reruns else ""
    summary = f"flaketui check: {unkept} not kept" + (f" (budget {budget})" if budget else "")
    if result.expired:
        summary += f", {_plural(len(result.expired), 'expired keep')}"
    if result.kept:
        summary += f", {len(result.kept)} kept on purpose"
    if result.items:
        click.echo()
    click.echo(f"{summary}: {'ok' if result.ok else 'FAILED'}")
    return 0 if result.ok else 1


def _gh(text: str, *, prop: bool = False) -> str:
    """Escaped for a GitHub workflow command; a property value also escapes ``:`` and ``,``."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@cli.command()
@click.argument("nodeid")
@click.option("--reason", metavar="TEXT", help="Why the marker stays (required unless --remove).")
@click.option("--until", "expires", metavar="YYYY-MM-DD", help="After this date `flaketui check` fails again.")
@click.option("--remove", is_flag=True, help="Stop keeping the marker.")
@pass_context
def keep(ctx: _Context, nodeid: str, reason: str | None, expires: str | None, remove: bool) -> int:
    """Keep NODEID's flaky marker on purpose, in .flaketui.toml (commit it)."""
    from flaketui.models import Keep

    if remove == (reason is not None):
        raise click.UsageError("Give --reason TEXT to keep the marker, or --remove to stop keeping it.")
    service = ctx.service()
    matches = [t for t in service.scan().tests if nodeid in (t.nodeid, _full_id(t.rootdir, t.nodeid))]
    if not matches:
        raise FlakeTUIError(f"No flaky-marked test has the node id {nodeid}.", "`flaketui scan` lists them.")
    for test in matches:
        triage = service.keep_marker(test, None if remove else Keep(reason or "", expires))
    if remove:
        click.echo(f"{nodeid}: no longer kept; `flaketui check` counts its marker again.")
    else:
        until = f" until {triage.keep.expires}" if triage.keep and triage.keep.expires else ""
        click.echo(f"{nodeid}: marker kept{until}: {reason}. Commit .flaketui.toml to share it.")
    return 0


@cli.command()
@click.argument("nodeid")
@pass_context
def history(ctx: _Context, nodeid: str) -> int:
    """A test's decisions (.flaketui.toml), verifications and flaketui commits."""
    service = ctx.service()
    decided = [t for t in service.decisions().values() if nodeid in (t.nodeid, _full_id(t.rootdir, t.nodeid))]
    verifications = service.history(nodeid)
    commits = [c for c in service.commits() if c.nodeid == nodeid]
    if not (decided or verifications or commits):
        click.echo(f"Nothing recorded for {nodeid}.")
        return 0
    click.echo(nodeid)
    for triage in decided:
        if triage.category is not None:
            click.echo(f"  category: {triage.category} (decided by {triage.decided_by or 'user'})")
        if triage.note:
            click.echo(f"  note: {triage.note}")
        if triage.keep is not None:
            until = f" until {triage.keep.expires}" if triage.keep.expires else ""
            click.echo(f"  kept on purpose{until}: {triage.keep.reason}")
    if verifications:
        click.echo("  verifications:")
        for v in verifications:
            head = (v.head or "no HEAD")[:10]
            renamed = f"  (as {v.nodeid})" if v.nodeid != nodeid else ""
            click.echo(f"    {v.started_at}  {v.passed}/{v.runs}  {v.mode}  {v.verdict}  {head}{renamed}")
    for c in commits:
        click.echo(f"  commit {c.sha[:12]} ({c.kind}): {c.message.splitlines()[0] if c.message else ''}")
    return 0


def _full_id(rootdir: str, nodeid: str) -> str:
    return nodeid if rootdir in ("", ".") else f"{rootdir}/{nodeid}"


@cli.command()
@click.argument("nodeid")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@pass_context
def explain(ctx: _Context, nodeid: str, as_json: bool) -> int:
    """Why NODEID is flaky: its source with the suspicious lines, each with the category,
    the reason and the usual fix, then the suggested root cause.

    NODEID is what pytest prints (tests/test_x.py::TestC::test_y[param]); a path relative
    to the current directory works too.
    """
    service = ctx.service()
    test = _explain_target(service, nodeid)
    diagnosis = service.diagnose(test)
    if as_json:
        import json

        click.echo(json.dumps({"test": test.key.repo_nodeid, **diagnosis.to_json()}, indent=2))
        return 0
    _print_explanation(service, test, diagnosis)
    return 0


def _explain_target(service, nodeid: str):  # (Service, str) -> FlakyTest
    """The flaky-marked test ``nodeid`` names, else any test function it names (unmarked)."""
    import os
    import re

    from flaketui.models import FlakyTest

    wanted = nodeid.strip()
    path, _, rest = wanted.partition("::")
    if path and os.path.exists(path):
        # Typed from a subdirectory, or as an absolute path: make it repository-relative.
        path = os.path.relpath(os.path.realpath(path), service.root).replace(os.sep, "/")
        wanted = f"{path}::{rest}" if rest else path
    bare = re.sub(r"\[.*\]$", "", wanted)
    tests = service.scan().tests
    for candidate in (wanted, bare):
        for test in tests:
            full = _full_id(test.rootdir, test.nodeid)
            if candidate in (test.nodeid, full) or re.sub(r"\[.*\]$", "", full) == candidate:
                return test
            if f"{test.path}::{test.nodeid.partition('::')[2]}" == candidate:
                return test
    parts = bare.split("::")
    if len(parts) >= 2 and parts[0].endswith(".py") and (service.root / parts[0]).is_file():
        line = _def_line(service.read_text(parts[0]), parts[-1])
        if line is not None:
            class_name = "::".join(parts[1:-1]) or None
            return FlakyTest(nodeid=bare, rootdir=".", path=parts[0], line=line, name=parts[-1], markers=(),
                             class_name=class_name)
    raise FlakeTUIError(
        f"No test matches {nodeid}.",
        "Pass a node id as pytest prints it (tests/test_x.py::test_y); `flaketui scan` lists the flaky ones.",
    )


def _print_explanation(service, test, diagnosis) -> None:  # (Service, FlakyTest, Diagnosis)
    from rich.console import Console
    from rich.markup import escape
    from rich.syntax import Syntax

    console = Console(highlight=False)
    console.print(f"[bold]{escape(_full_id(test.rootdir, test.nodeid))}[/bold]")
    by_path: dict[str, list] = {test.path: []}
    for item in diagnosis.evidence:
        by_path.setdefault(item.path, []).append(item)
    for path in sorted(by_path, key=lambda p: (p != test.path, p)):
        try:
            text = service.read_text(path)
        except OSError:
            continue
        last = text.count("\n") + 1
        flagged = {n for e in by_path[path] for n in range(e.line, e.end_line + 1)}
        spans = [(max(1, e.line - 2), min(last, e.end_line + 2)) for e in by_path[path]]
        if path == test.path:
            spans.append((test.line, test.end_line or _block_end(text, test.line)))
        console.print(f"\n[dim]{escape(path)}[/dim]")
        for number, (start, end) in enumerate(_merge_spans(spans)):
            if number:
                console.print("[dim]     ⋮[/dim]")
            console.print(Syntax(text, "python", line_numbers=True, line_range=(start, end), highlight_lines=flagged,
                                 theme="ansi_dark"))
    if diagnosis.evidence:
        console.print("\n[bold]Evidence[/bold]")
    for item in diagnosis.evidence:
        console.print(
            f"  [bold]{escape(item.path)}:{item.line}[/bold]  [cyan]{item.category}[/cyan]  {escape(item.rule)}"
            f"  [dim]({escape(item.where)})[/dim]",
            soft_wrap=True,
        )
        console.print(f"      {escape(item.message)}", soft_wrap=True)
        console.print(f"      [green]fix:[/green] {escape(item.fix)}", soft_wrap=True)
    suggestion = diagnosis.suggestion
    if suggestion.category == "unknown":
        console.print("\n[bold]Suggestion:[/bold] unknown: the code shows no likely cause; verify it to learn more.",
                      soft_wrap=True)
    else:
        console.print(f"\n[bold]Suggestion:[/bold] {suggestion.category} ({suggestion.category.label}), "
                      f"confidence {suggestion.confidence:.0%}", soft_wrap=True)
    ranked = [f"{s.category} {s.confidence:.0%}" for s in diagnosis.ranking if s.confidence > 0]
    if len(ranked) > 1:
        console.print(f"[dim]ranking: {', '.join(ranked)}[/dim]", soft_wrap=True)


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _def_line(text: str, name: str) -> int | None:
    import re

    found = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}\b", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _block_end(text: str, first: int) -> int:
    """The last line of the indented block that starts at ``first`` (its decorators included)."""
    lines = text.splitlines()
    if not 0 < first <= len(lines):
        return first
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    end, seen_def = first, False
    for number in range(first, len(lines) + 1):
        line = lines[number - 1]
        stripped = line.strip()
        if number > first and stripped and len(line) - len(line.lstrip()) <= indent and seen_def:
            break
        seen_def = seen_def or stripped.startswith(("def ", "async def ", "class "))
        if stripped:
            end = number
    return end


_CATEGORIES = tuple(str(category) for category in Category)
_MODES = tuple(str(mode) for mode in VerifyMode)
_RUN_MARKS = {"passed": ".", "failed": "F", "error": "E", "timeout": "T", "crashed": "C"}


@cli.command()
@click.argument("nodeid")
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1), help="Runs per test.")
@click.option("--mode", default="forked", show_default=True, type=click.Choice(_MODES), help="How runs are isolated.")
@click.option(
    "--category", type=click.Choice(_CATEGORIES), help="Root cause named in the message (default: the team's)."
)
@click.option(
    "--include", multiple=True, metavar="PATH", help="Another changed file to commit with the fix (repeatable)."
)
@click.option("--yes", "-y", is_flag=True, help="Commit without asking.")
@click.option("--dry-run", is_flag=True, help="Print the diff only; change nothing.")
@click.option("--unverified", is_flag=True, help="Skip verification (the message says so).")
@pass_context
def fix(
    ctx: _Context,
    nodeid: str,
    runs: int,
    mode: str,
    category: str | None,
    include: tuple[str, ...],
    yes: bool,
    dry_run: bool,
    unverified: bool,
) -> int:
    """Verify NODEID, then remove its flaky marker and commit the fix with it.

    NODEID is a test, a class (path::Class) or a module (path) for class- and module-level
    markers. Exit 0 only when committed (with --dry-run: when it would commit).
    """
    from flaketui.models import Category, Verdict, VerifyMode

    service = ctx.service()
    chosen = Category(category) if category else None
    # Plan first: a refusal (shared marker, merge in progress...) costs no runs.
    plan = service.plan_fix(nodeid, include=include, unverified=unverified, category=chosen)
    if plan.refusal:
        click.echo(f"flaketui: {plan.refusal}", err=True)
        return 1
    if not unverified:
        click.echo(f"Verifying {len(plan.tests)} test(s), {runs} runs each, {mode}:", err=True)
        dots = _RunDots()
        try:
            verifications = service.verify(plan.tests, runs=runs, mode=VerifyMode(mode), on_run=dots)
        finally:
            dots.close()  # so "Aborted." after ctrl+c starts on a line of its own
        unstable = [v for v in verifications if v.verdict is not Verdict.STABLE or v.runs < v.runs_requested]
        for v in verifications:
            note = f" ({v.note})" if v.note else ""
            click.echo(f"  {v.nodeid}: {v.verdict}, {v.summary}{note}", err=True)
        if unstable or not verifications:
            click.echo("Not stable: the marker stays and nothing was changed.", err=True)
            first = unstable[0].nodeid if unstable else nodeid
            click.echo(f"  `flaketui explain {first}` shows the likely cause.", err=True)
            return 1
        plan = service.refresh_plan(plan)  # the message now names the verification
        if plan.refusal:
            click.echo(f"flaketui: {plan.refusal}", err=True)
            return 1
    _echo_diff(plan.diff)
    if dry_run:
        return 0
    click.echo("\n" + plan.message)
    if not yes:
        if not sys.stdin.isatty():
            raise FlakeTUIError("Not committing without confirmation.", "Pass --yes to commit from a script.")
        if not click.confirm("Commit this?", default=True):
            click.echo("Nothing was committed.")
            return 1
    record = service.commit_fix(plan, include=include, unverified=unverified, on_output=_echo_git)
    click.echo(f"Committed {record.sha[:12]}: {record.message.splitlines()[0]}")
    return 0


@cli.command()
@click.argument("sha", required=False)
@pass_context
def undo(ctx: _Context, sha: str | None) -> int:
    """Put back the marker a flaketui fix removed, as a new commit (default: the last fix)."""
    record = ctx.service().undo(sha, on_output=_echo_git)
    click.echo(f"Committed {record.sha[:12]}: {record.message.splitlines()[0]}")
    return 0


class _RunDots:
    """One line per test, one character per run, as runs finish."""

    def __init__(self) -> None:
        self.current: str | None = None

    def __call__(self, result) -> None:  # result: RunResult
        if result.nodeid != self.current:
            self.close()
            click.echo(f"  {result.nodeid} ", nl=False, err=True)
            self.current = result.nodeid
        click.echo(_RUN_MARKS.get(str(result.outcome), "?"), nl=False, err=True)

    def close(self) -> None:
        if self.current is not None:
            click.echo(err=True)
            self.current = None


def _echo_diff(diff: str) -> None:
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff.splitlines():
        header = line.startswith(("+++", "---"))
        click.secho(line, fg=None if header else colours.get(line[:1]), bold=header)


def _echo_git(line: str) -> None:
    click.echo(f"  git: {line}", err=True)


@cli.command()
@click.argument("target", metavar="[DIR]", required=False, type=click.Path(file_okay=False))
@click.option("--no-open", is_flag=True, help="Only write the repository; do not open the app.")
@pass_context
def demo(ctx: _Context, target: str | None, no_open: bool) -> int:
    """Write taskq, a small repository full of flaky tests, to DIR and open the app on it.

    DIR must be new or empty; without it, a fresh directory under the system temp dir is used.
    """
    import tempfile
    from pathlib import Path

    from flaketui.demo import write_demo

    if target is None:
        # A directory named after the project, so the app's header reads taskq@main.
        location = Path(tempfile.mkdtemp(prefix="flaketui-demo-")) / "taskq"
    else:
        location = Path(ctx.directory) / target
    root = write_demo(location)
    click.echo(f"Wrote the demo repository to {root}")
    if no_open:
        click.echo(f"Open it with: flaketui -C {root}")
        return 0
    try:
        import flaketui.tui.app  # noqa: F401
    except ImportError as exc:  # a broken textual install: still show what the app would list
        click.echo(f"The app cannot start ({exc}); here is the scan instead.", err=True)
        return main(["-C", str(root), "scan"])
    _open_app(_Context(str(root), ctx.python).service())
    click.echo(f"The demo stays in {root}; open it again with: flaketui -C {root}")
    return 0


@cli.command()
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print tests, findings and skipped files as JSON.")
@click.option("--no-cache", is_flag=True, help="Parse everything again instead of trusting the scan cache.")
@click.option("--collect", is_flag=True, help="Also ask pytest's collection (markers added by hooks, @flaky attributes).")
@pass_context
def scan(ctx: _Context, path: str | None, as_json: bool, no_cache: bool, collect: bool) -> int:
    """List every test that carries a flaky marker (under PATH, if given).

    Node ids are pytest's, relative to each test's rootdir; repository-wide reruns (config,
    CI) and suspects (non-strict xfail, home-made retries) are listed as findings.
    """
    import os

    service = ctx.service(path)
    result = service.scan(use_cache=not no_cache, collect=collect)
    if path is not None:
        result = _under(result, os.path.relpath(os.path.realpath(path), service.root).replace(os.sep, "/"))
    if as_json:
        from flaketui.discover import cache as scan_cache

        # Diagnoses load libcst; an unchanged tree (same fingerprint) reprints the last answer.
        # Not with --collect: what pytest collects also depends on the installed environment.
        # Without a fingerprint there is no state directory to keep the answer in.
        cacheable = path is None and not collect and bool(result.fingerprint)
        from flaketui.diagnose.engine import engine_fingerprint

        # New diagnosis rules give new answers on the same tree.
        output_name = f"scan-json-{engine_fingerprint()}"
        text = scan_cache.load_output(service.state_dir(), output_name, result) if cacheable and not no_cache else None
        if text is None:
            import json

            payload = result.to_json()
            diagnoses = service.diagnose_many(result.tests)
            payload["tests"] = [_test_json(test, diagnosis) for test, diagnosis in zip(result.tests, diagnoses, strict=True)]
            text = json.dumps(payload, indent=2)
            if cacheable:
                scan_cache.store_output(service.state_dir(), output_name, result, text)
        prefix = os.path.relpath(os.path.realpath(path), service.root).replace(os.sep, "/") if path else "."
        click.echo(_with_candidates(text, service, result, prefix))
        return 0
    _print_scan(result)
    return 0


def _with_candidates(text: str, service, result, prefix: str) -> str:  # (scan JSON, Service, ScanResult, dir)
    """Candidates come from the record (CI imports, hunts), not the tree: never from the cache."""
    import json

    from flaketui.candidates import candidate_json

    payload = json.loads(text)
    found = service.candidates(marked=result.tests)
    if prefix not in ("", "."):
        found = [c for c in found if _full_id(c.rootdir, c.nodeid).startswith(prefix + "/")]
    payload["candidates"] = [candidate_json(c) for c in found]
    return json.dumps(payload, indent=2)


def _test_json(test, diagnosis) -> dict:  # (FlakyTest, Diagnosis) -> one test object of `scan --json`; add fields here
    return {
        **test.to_json(),
        "suggestion": diagnosis.suggestion.to_json(),
        "evidence": [e.to_json() for e in diagnosis.evidence],
    }


def _under(result, prefix: str):  # (ScanResult, repo-relative dir) -> ScanResult
    from dataclasses import replace

    if prefix in ("", "."):
        return result

    def inside(path: str) -> bool:
        return path == prefix or path.startswith(prefix + "/")

    def test_file(test) -> str:  # the collected file, repo-relative (an inherited test's def may live elsewhere)
        file_part = test.nodeid.split("::")[0]
        return file_part if test.rootdir == "." else f"{test.rootdir}/{file_part}"

    tests = tuple(t for t in result.tests if inside(test_file(t)))
    return replace(
        result,
        tests=tests,
        findings=tuple(f for f in result.findings if inside(f.path)),
        skipped=tuple(s for s in result.skipped if inside(s.path)),
    )


def _print_scan(result) -> None:  # (ScanResult)
    """An aligned plain-text table: node ids in full (what people copy), markers shortened.

    Formatted by hand: rich's table layout costs more than the whole scan on a large repository.
    """
    rows = [
        (
            test.nodeid if test.rootdir == "." else f"{test.rootdir}: {test.nodeid}",
            str(test.marker.kind),
            str(test.marker.scope),
            _shorten(" ".join(test.marker.source.split()), 40),
            f"{test.marker.path}:{test.marker.line}",
        )
        for test in result.tests
    ]
    if rows:
        header = ("test", "kind", "scope", "marker", "at")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in [header, *rows]
        ]
        click.echo(click.style(lines[0], bold=True))
        click.echo("\n".join(lines[1:]))
    cached = " (cached)" if result.from_cache else ""
    count, files = len(result.tests), result.files_scanned
    click.echo(f"{count} flaky-marked test{'s' if count != 1 else ''} in {files} Python file{'s' if files != 1 else ''}{cached}")
    if result.findings:
        click.echo(click.style("\nFindings", bold=True))
        for finding in result.findings:
            click.echo(f"  {finding.path}:{finding.line}  [{finding.kind}] {finding.message}")
    if result.skipped:
        click.echo(click.style("\nSkipped", bold=True))
        for skipped in result.skipped:
            click.echo(f"  {skipped.path}: {skipped.reason}")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command()
@click.argument("nodeids", nargs=-1, required=True, metavar="NODEID...")
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1), help="Runs per test.")
@click.option("--mode", default="forked", show_default=True, type=click.Choice(_MODES), help="How runs are isolated.")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Seconds per run; slower runs count as timeout."
)
@click.option("--fail-fast", is_flag=True, help="Stop a test's runs at its first failure.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per test (JSON Lines).")
@pass_context
def verify(
    ctx: _Context, nodeids: tuple[str, ...], runs: int, mode: str, timeout: float | None, fail_fast: bool, as_json: bool
) -> int:
    """Run each NODEID --runs times with rerun plugins off and give a verdict.

    Node ids are relative to the repository root. Exit 0 when every test is stable (all
    runs passed), 1 otherwise. Ctrl-C stops at once and records what ran.
    """
    from flaketui.verify.cli_view import run_verify

    return run_verify(ctx.service(), nodeids, runs=runs, mode=mode, timeout=timeout, fail_fast=fail_fast, as_json=as_json)


def _add_history_commands() -> None:
    from flaketui.cli_history import import_reports

    cli.add_command(import_reports)


_add_history_commands()


def main(argv: Sequence[str] | None = None, *, early: EarlyScan | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check failed, 2 usage or environment error).

    ``early``: git's answers the launcher (``flaketui.launch``) started for this command's scan.
    """
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="flaketui", standalone_mode=False, obj=early
        )
    except FlakeTUIError as exc:
        click.echo(f"flaketui: {exc}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code == 1 else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
