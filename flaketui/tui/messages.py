"""What workers tell the app. Workers only post these; handlers on the app change widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from flaketui.models import (
    CommitRecord,
    Diagnosis,
    FixPlan,
    FlakyTest,
    RepoInfo,
    RunResult,
    ScanResult,
    TestKey,
    Triage,
    Verification,
)


@dataclass
class RepoLoaded(Message):
    info: RepoInfo


@dataclass
class ScanProgress(Message):
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgress)


@dataclass
class ScanDone(Message):
    result: ScanResult
    decisions: dict[TestKey, Triage]
    verifications: dict[TestKey, Verification]
    fixed_count: int


@dataclass
class Diagnosed(Message):
    """Diagnoses, a file's worth at a time: one repaint and one header update per batch."""

    diagnoses: list[tuple[TestKey, Diagnosis]]


@dataclass
class RunFinished(Message):
    """One run of a verification; never replaced, since the Runs tab lists each one."""

    key: TestKey
    result: RunResult


@dataclass
class VerificationDone(Message):
    job_id: int
    verifications: list[Verification]
    cancelled: bool


@dataclass
class PlanReady(Message):
    plan: FixPlan
    target: FlakyTest


@dataclass
class CommitOutput(Message):
    line: str


@dataclass
class Committed(Message):
    record: CommitRecord
    #: The rows the commit fixed (none for an undo).
    keys: tuple[TestKey, ...]


@dataclass
class HistoryLoaded(Message):
    key: TestKey
    history: list[Verification]


@dataclass
class Decided(Message):
    key: TestKey
    triage: Triage


@dataclass
class NeedsVerification(Message):
    """``c`` found no stable verification of this tree: verify these, then commit ``target``."""

    tests: tuple[FlakyTest, ...]
    target: FlakyTest


@dataclass
class Refused(Message):
    title: str
    message: str
    hint: str
