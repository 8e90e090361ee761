"""The commit half of the main screen: `c` verifies if needed, shows the exact diff, commits;
`z` undoes. A base class of ``MainScreen``, split out to keep each module readable."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on, work
from textual.app import SuspendNotSupported
from textual.screen import Screen

from flaketui.errors import FlakeTUIError
from flaketui.models import FixPlan, FlakyTest, MarkerScope, Verdict
from flaketui.tui import messages as msg
from flaketui.tui.modals import CommitDialog, MessageDialog
from flaketui.tui.rows import verdict_sentence, verified_here


def marker_owner(test: FlakyTest) -> FlakyTest | str:
    """What a commit removes the marker from: the test, or the class or module whose marker
    covers it (then every test it covers is verified and listed)."""
    parts = test.nodeid.split("::")
    if test.marker.scope is MarkerScope.CLASS and len(parts) > 2:
        return "::".join(parts[:-1])
    if test.marker.scope is MarkerScope.MODULE:
        return parts[0]
    return test


class CommitFlow(Screen[None]):
    def action_commit(self) -> None:
        row = self.selected
        if row is not None:
            self._set_activity(f"planning the fix of {row.test.nodeid}…")
            self._prepare_commit(row.test, verified_now=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="commit", name="plan")
    def _prepare_commit(self, test: FlakyTest, verified_now: bool) -> None:
        service = self.service
        plan = service.plan_fix(marker_owner(test))
        if plan.refusal:
            self.post_message(msg.Refused("Cannot commit", plan.refusal, "Nothing was changed."))
            return
        info = service.repo_info()
        latest = service.last_verifications()
        unverified = [
            t for t in plan.tests
            if not verified_here(latest.get(t.key), info)
        ]
        if not unverified:
            self.post_message(msg.PlanReady(plan, test))
        elif verified_now:
            self.post_message(msg.Refused(
                "Cannot commit", f"{unverified[0].nodeid} has no stable verification of this tree.",
                "Fix the cause, then press c again: the commit needs 10/10 passes on this very tree."))
        else:
            self.post_message(msg.NeedsVerification(tuple(unverified), test))

    @on(msg.NeedsVerification)
    def _needs_verification(self, message: msg.NeedsVerification) -> None:
        names = ", ".join(t.nodeid for t in message.tests)
        self._set_activity(f"verifying before the commit: {names}")
        self.enqueue(message.tests, then_commit=message.target)

    def _continue_commit(self, target: FlakyTest, verifications: Sequence) -> None:
        unstable = [v for v in verifications if v.verdict is not Verdict.STABLE]
        if unstable:
            first = unstable[0]
            self.app.push_screen(MessageDialog(
                "Not committed", f"{first.nodeid}: {verdict_sentence(first)}.",
                "The marker is still needed: fix the root cause (see Evidence), then press c again.",
            ))
            return
        self._prepare_commit(target, verified_now=True)

    @on(msg.PlanReady)
    def _plan_ready(self, message: msg.PlanReady) -> None:
        self._set_activity()
        plan = message.plan

        def answered(include: tuple[str, ...] | None) -> None:
            if include is None:
                self._set_activity("commit cancelled; nothing changed")
                return
            self._set_activity("committing…")
            if self.service.commit_needs_terminal() and self._commit_on_terminal(plan, include):
                return
            self._commit(plan, include)

        self.app.push_screen(CommitDialog(plan), answered)

    def _commit_on_terminal(self, plan: FixPlan, include: tuple[str, ...]) -> bool:
        """Commit with the screen handed over, so a signing passphrase prompt can be answered.

        Returns False where the terminal cannot be handed over (the commit then runs in the
        background and a prompt, if any, fails the commit with everything restored)."""
        error: FlakeTUIError | None = None
        record = None
        try:
            with self.app.suspend():
                print("flaketui: committing; git signs the commit and may ask for your passphrase.", flush=True)
                try:
                    record = self.service.commit_fix(plan, include=include, on_output=print, accept_cautions=True)
                except FlakeTUIError as exc:
                    error = exc
        except SuspendNotSupported:
            return False
        if error is not None:
            self._set_activity("commit failed; nothing changed")
            self.app.push_screen(MessageDialog("Not committed", error.message, error.hint))
        elif record is not None:
            self.post_message(msg.Committed(record, tuple(t.key for t in plan.tests)))
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="commit", name="commit")
    def _commit(self, plan: FixPlan, include: tuple[str, ...]) -> None:
        # The dialog took ! for its cautions, the only way past them.
        record = self.service.commit_fix(
            plan, include=include, on_output=lambda line: self.post_message(msg.CommitOutput(line)), accept_cautions=True
        )
        self.post_message(msg.Committed(record, tuple(t.key for t in plan.tests)))

    @on(msg.CommitOutput)
    def _commit_output(self, message: msg.CommitOutput) -> None:
        self._set_activity(f"git: {message.line}")

    @on(msg.Committed)
    def _committed(self, message: msg.Committed) -> None:
        record = message.record
        subject = record.message.split("\n", 1)[0]
        if record.kind == "undo":
            self.fixed_count = max(0, self.fixed_count - 1)
            self._set_activity(f"undone in {record.sha[:8]}")
            self.notify(f"{record.sha[:8]} {subject}", title="Marker restored")
            self.start_scan(use_cache=False)
            return
        self.fixed_count += 1
        for key in message.keys:
            if key in self.rows:
                self.rows[key].fixed = True
                self._touch(key)
        self._set_activity(f"committed {record.sha[:8]}")
        self.notify(f"{record.sha[:8]} {subject}", title="Committed")
        self._reload_repo()  # HEAD moved: every other verification now ran on an older tree

    @work(thread=True, exclusive=True, exit_on_error=False, group="repo", name="scan")
    def _reload_repo(self) -> None:
        self.post_message(msg.RepoLoaded(self.service.repo_info()))

    def action_undo(self) -> None:
        self._set_activity("undoing the last fix…")
        self._undo()

    @work(thread=True, exclusive=True, exit_on_error=False, group="commit", name="undo")
    def _undo(self) -> None:
        record = self.service.undo(on_output=lambda line: self.post_message(msg.CommitOutput(line)))
        self.post_message(msg.Committed(record, ()))

    @on(msg.Refused)
    def _refused(self, message: msg.Refused) -> None:
        self._set_activity()
        self.app.push_screen(MessageDialog(message.title, message.message, message.hint))

