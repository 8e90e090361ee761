"""Fix proposals for one test: the remedies' codemods, fed from the repository (workflow).

``ProposalsWorkflow.propose`` reads the code, the diagnosis, the team's decisions and the
polluters bisection confirmed; it starts no test run and changes nothing. Each proposal carries a unified diff relative to the repository root.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flaketui.errors import FlakeTUIError
from flaketui.models import Category, FlakyTest

if TYPE_CHECKING:
    from flaketui.models import Diagnosis
    from flaketui.remedies import Context, Declined, Proposal, Target
    from flaketui.remedies._model import Reader
    from flaketui.workflows.diagnose import DiagnosisWorkflow
    from flaketui.workflows.record import Record
    from flaketui.workflows.scan import ScanWorkflow
    from flaketui.workflows.workspace import Workspace

#: Findings of the scan that name a test whose flakiness is hidden without a flaky marker.
_HIDING = frozenset({"xfail-flaky", "retry-decorator"})

#: Libraries a remedy may use only when the project already depends on them.
_OPTIONAL = re.compile(r"(?<![\w-])(freezegun|time[-_]machine|numpy|faker|responses|respx)(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class ProposalSet:
    test: FlakyTest
    proposals: tuple[Proposal, ...]
    declined: tuple[Declined, ...]
    diagnosis: Diagnosis | None = None

    def diff(self, proposal: Proposal) -> str:
        from flaketui.workflows.commit_text import unified_diff

        return "".join(unified_diff(e.path, e.before, e.after) for e in proposal.edits)

    def as_json(self) -> dict[str, object]:
        return {
            "nodeid": self.test.nodeid,
            "proposals": [
                {
                    "category": str(p.category),
                    "remedy": p.remedy,
                    "title": p.title,
                    "files": list(p.files),
                    "diff": self.diff(p),
                    "why": p.why,
                    **({"keep_reason": p.keep_reason} if p.keep_reason else {}),
                }
                for p in self.proposals
            ],
            "declined": [{"remedy": d.remedy, "reason": d.reason} for d in self.declined],
        }


class ProposalsWorkflow:
    """Remedies for one test, from the scan, the diagnosis, the team's decisions and the
    polluters bisection confirmed."""

    def __init__(
        self, workspace: Workspace, scanning: ScanWorkflow, diagnosing: DiagnosisWorkflow, record: Record,
        candidates: Callable[[], Sequence[FlakyTest]] = tuple,
    ) -> None:  # fmt: skip
        self.workspace = workspace
        self.scanning = scanning
        self.diagnosing = diagnosing
        self.record = record
        #: The unmarked tests CI history or a hunt shows flaky: they can be fixed too.
        self.candidates = candidates

    def find_test(self, nodeid: str, *, hidden: bool = False) -> FlakyTest:
        """The one flaky-marked test ``nodeid`` names (a test, or one parametrized case); with
        ``hidden``, also a test the scan finds hidden by a non-strict xfail for a flaky reason
        or a home-made retry (no marker to remove, but a root cause to propose a fix for)."""
        from flaketui.workflows import removal

        every = self.scanning.scan().tests
        chosen = removal.select(nodeid, every)
        exact = [t for t in chosen if nodeid in (t.nodeid, t.key.repo_nodeid)]
        if exact:
            return exact[0]
        functions = {(t.path, t.class_name, t.name) for t in chosen}
        if len(functions) == 1:
            return chosen[0]  # the parametrized cases of one function share its code
        if not chosen:
            known = self.candidates() if self.workspace.has_history() else ()  # no history: no hunt, no CI reports
            unmarked = [t for t in known if nodeid in (t.nodeid, t.key.repo_nodeid)]
            if unmarked:
                return unmarked[0]
            suspect = self._hidden(nodeid) if hidden else None
            if suspect is not None:
                return suspect
            raise FlakeTUIError(
                f"No flaky-marked test matches {nodeid}, and no hunt or CI history shows it flaky.",
                "`flaketui scan` lists both (`--json`: \"candidates\").",
            )
        raise FlakeTUIError(
            f"{nodeid} covers {len(functions)} test functions; a fix is proposed for one at a time.",
            "Give one test's node id (`flaketui scan` lists them).",
        )

    def _hidden(self, nodeid: str) -> FlakyTest | None:
        """The test a finding of the scan names as hidden (``xfail-flaky``, ``retry-decorator``)."""
        from flaketui.candidates import candidate_test
        from flaketui.models.history import Candidate
        from flaketui.models.key import repo_nodeid

        for finding in self.scanning.scan().findings:
            if finding.kind not in _HIDING:
                continue
            found = finding.message.split(": ", 1)[0]
            module = found.split("::", 1)[0]
            if "::" not in found or not (finding.path == module or finding.path.endswith("/" + module)):
                continue  # a mark applied from another module: the test's file is not known here
            rootdir = finding.path[: -len(module)].rstrip("/") or "."
            if nodeid in (found, repo_nodeid(rootdir, found)):
                return candidate_test(Candidate(rootdir, found), self.workspace.read_bytes(finding.path))
        return None

    def propose(self, nodeid: str | FlakyTest, *, hidden: bool = False) -> ProposalSet:
        """Remedies for one test (``hidden``: a test named by node id may be one the scan finds
        hidden by an xfail or a retry, see ``find_test``)."""
        from flaketui import remedies
        from flaketui.diagnose import trees

        test = nodeid if isinstance(nodeid, FlakyTest) else self.find_test(nodeid, hidden=hidden)
        with trees.shared():  # the diagnosis and the remedies read the same modules
            diagnosis = self._diagnosis(test)
            found, declined = remedies.propose(self.context_for(test, diagnosis))
        return ProposalSet(test, tuple(found), tuple(declined), diagnosis)

    def confirmed_polluters(self, test: FlakyTest) -> list[str]:
        """Node ids (relative to the test's rootdir) of the tests a bisection confirmed as its polluters."""
        if not self.workspace.has_history():
            return []  # no bisection ever ran here
        from flaketui.store_hunts import polluters

        base = test.nodeid.split("[", 1)[0]
        return sorted({
            p.polluter for p in polluters(self.workspace.store)
            if p.rootdir == test.rootdir and p.victim.split("[", 1)[0] == base
        })  # fmt: skip

    def _diagnosis(self, test: FlakyTest) -> Diagnosis | None:
        try:
            return self.diagnosing.diagnose_many([test])[0]
        except (FlakeTUIError, NotImplementedError):
            return None

    def context_for(self, test: FlakyTest, diagnosis: Diagnosis | None) -> Context:
        from flaketui.remedies import Context, Target

        files = self.workspace.list_files()
        read = self.workspace.read_bytes
        decided = self.record.decisions().get(test.key)
        category = Category.UNKNOWN
        if decided is not None and decided.category is not None:
            category = decided.category
        elif diagnosis is not None:
            category = diagnosis.suggestion.category
        evidence = tuple(diagnosis.evidence) if diagnosis is not None else ()
        polluters = tuple(_as_target(test.rootdir, p) for p in self.confirmed_polluters(test))
        if polluters and category is Category.UNKNOWN:
            category = Category.ORDER  # a bisection saw it fail after them and pass alone
        return Context(
            target=Target(test.path, test.name, test.class_name, test.line),
            read=read,
            evidence=evidence,
            category=category,
            dependencies=declared_dependencies(files, read),
            import_roots=_import_roots(test, files, read),
            project_files=tuple(f for f in files if f.endswith(".py")),
            polluters=polluters,
            untracked=self._untracked(),
        )

    def _untracked(self) -> frozenset[str]:
        """What git does not track (a run's leftovers: ``export.out`` a test wrote is no data file)."""
        if not self.workspace.is_git:
            return frozenset()
        from flaketui import vcs

        return frozenset(path for path, state in vcs.status(self.workspace.root).items() if state == "??")


def _as_target(rootdir: str, nodeid: str) -> Target:
    from flaketui.models.key import repo_nodeid
    from flaketui.remedies import Target

    parts = nodeid.split("[", 1)[0].split("::")
    return Target(repo_nodeid(rootdir, parts[0]), parts[-1], parts[1] if len(parts) == 3 else None)


def declared_dependencies(files: Sequence[str], read: Reader) -> frozenset[str]:
    """The optional libraries (freezegun, time-machine...) a dependency file of the project names."""
    from flaketui.discover.declared import is_dependency_file

    found: set[str] = set()
    for path in files:
        if not is_dependency_file(path):
            continue
        text = (read(path) or b"").decode("utf-8", errors="replace")
        found |= {m.lower().replace("_", "-") for m in _OPTIONAL.findall(text)}
    return frozenset(found)


def _import_roots(test: FlakyTest, files: Sequence[str], read: Reader) -> tuple[str, ...]:
    from flaketui.discover.config import find_configs

    roots = [".", "src"]
    config = find_configs(files, read).get(test.rootdir)
    if test.rootdir not in ("", "."):
        roots += [test.rootdir, f"{test.rootdir}/src"]
    if config is not None:
        base = "" if test.rootdir in ("", ".") else test.rootdir + "/"
        roots += [f"{base}{p}".rstrip("/") or "." for p in config.args("pythonpath", ())]
    return tuple(dict.fromkeys(roots))
