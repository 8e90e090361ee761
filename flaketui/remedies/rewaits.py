"""A step the test repeats without the wait it made the first time.

The test waits until a condition holds before an action (``qtbot.waitUntil(lambda:
shell.is_ready())``, then ``qtbot.keyClick(control, Qt.Key_Up)``), and later, right after a
step it takes in a ``with`` block (``with qtbot.waitSignal(...): shell.execute(...)``), does the
very same action again without waiting: there it acts on whatever state the program reached by
then. The fix makes the test's own wait, with the test's own condition, before the repeat.

Only where the wait takes a condition (a ``lambda``) of a state the program reaches and stays
in (a call without arguments or an attribute, negated or joined: never a count), the action is the first statement after
the wait that is not an assertion, the repeat is the same statement word for word, and the
statement before the repeat is a ``with`` block (a step the program finishes on its own time).
"""

from __future__ import annotations

import re

import libcst as cst

from flaketui.models import Category
from flaketui.remedies._base import Loaded, on_test, proposal
from flaketui.remedies._cst import change_function, code, dotted, expression_of
from flaketui.remedies._model import Context, Declined, Proposal

#: ``qtbot.waitUntil``, ``wait_until``, ``poll_until``: a wait that takes a condition.
_WAIT = re.compile(r"(?:^|\.)(?:waitUntil|wait_until|poll_until|wait_for_condition)$")


def _condition_wait(line: cst.BaseStatement) -> bool:
    value = expression_of(line)
    if not isinstance(value, cst.Call) or not value.args:
        return False
    condition = value.args[0].value
    return bool(_WAIT.search(dotted(value.func) or "")) and isinstance(condition, cst.Lambda) and _readiness(condition.body)


def _readiness(node: cst.BaseExpression) -> bool:
    """A state the program reaches and stays in (``shell.is_ready()``, ``not view.busy``), not a
    count or a value (``len(calls) == 1``): waiting again for a count the test has moved past
    would time out where the test passed."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        return _readiness(node.expression)
    if isinstance(node, cst.BooleanOperation):
        return _readiness(node.left) and _readiness(node.right)
    return isinstance(node, cst.Attribute | cst.Name) or (isinstance(node, cst.Call) and not node.args)


def _is_assert(line: cst.BaseStatement) -> bool:
    return isinstance(line, cst.SimpleStatementLine) and all(isinstance(s, cst.Assert) for s in line.body)


def _bare(line: cst.BaseStatement) -> str:
    assert isinstance(line, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    return code(line.with_changes(leading_lines=[]))


def _repeats(body: list[cst.BaseStatement]) -> list[tuple[int, cst.BaseStatement, int]]:
    """(index of a repeat, the wait to make before it, line index of the first action)."""
    found: list[tuple[int, cst.BaseStatement, int]] = []
    for index, line in enumerate(body):
        if not _condition_wait(line):
            continue
        after = next((j for j in range(index + 1, len(body)) if not _is_assert(body[j])), None)
        if after is None or not isinstance(expression_of(body[after]), cst.Call):
            continue
        action = _bare(body[after])
        for later in range(after + 1, len(body)):
            if later in (k for k, _, _ in found):
                continue
            if _bare(body[later]) == action and isinstance(body[later - 1], cst.With) and not _condition_wait(body[later - 1]):
                found.append((later, line, after))
    return found


@on_test("wait.again")
def propose_wait_again(ctx: Context, loaded: Loaded) -> list[Proposal | Declined]:
    if ctx.category not in (Category.ASYNC, Category.RACE, Category.UNKNOWN):
        return []
    body = loaded.function.body
    if not isinstance(body, cst.IndentedBlock):
        return []
    lines = list(body.body)
    repeats = _repeats(lines)
    if not repeats:
        return []
    for later, wait, _ in sorted(repeats, key=lambda r: -r[0]):
        repeat = lines[later]
        assert isinstance(repeat, cst.SimpleStatementLine)
        # the comment above the repeat says what the action does: the wait goes between them
        copy = wait.with_changes(leading_lines=repeat.leading_lines) if isinstance(wait, cst.SimpleStatementLine) else wait
        lines[later : later + 1] = [copy, repeat.with_changes(leading_lines=[])]
    function = loaded.function.with_changes(body=body.with_changes(body=lines))
    module = change_function(loaded.module, loaded.function, lambda _f: function)
    _, first_wait, first_action = repeats[0]
    why = (
        f"The test waits ({code(first_wait).strip()}) before {_bare(body.body[first_action]).strip()} the first "
        "time, but repeats that step right after a block it leaves on the program's own time without waiting: there "
        "it acts on whatever state the program reached by then. The fix makes the test's own wait, with its own "
        "condition, before the repeat."
    )
    return [proposal(Category.ASYNC, loaded.remedy, "Wait as the test did the first time before repeating a step", why,
                     {loaded.path: (loaded.source, module)})]  # fmt: skip
