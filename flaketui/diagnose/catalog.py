"""The rules of diagnosis: their data in ``rules.json``, their code here.

Each rule is grounded in a pattern seen in real flaky tests (Luo et al. FSE 2014; Gruber et
al. ICST 2021; Parry et al. TOSEM 2021) or in the tests that public repositories mark flaky:
live services, GUI and browser waits, shared state between tests.

A rule in ``rules.json`` is an object, in the order rules are tried:

- ``id`` (``category.what``), ``category`` (a ``Category`` value), ``weight``: the evidence one
  match gives for its category (0..1): a call that cannot behave the same twice (a live HTTP
  request) weighs more than a hint (an environment read);
- ``message`` (what the test does) and ``fix`` (what to do instead), shown to the user;
- what it matches: ``calls`` (globs over resolved names; ``@errors`` stands for ``ERRORS``)
  and ``except_calls``, or a ``matcher`` named in ``MATCHERS``, or ``scope``: the engine's
  scope readers emit it;
- ``when``: a predicate that refines the match, named ``predicates.*``, ``services.*`` or
  ``catalog.*`` (the one-line ones below);
- ``mitigated_by`` (``Mitigation`` values) and ``varies_with_hash_seed``;
- ``note``: why the rule is as it is, for whoever changes it (not shown).

Data in JSON, not Python, because a table of ninety rules written as code repeats one shape
ninety times; JSON loads in well under a millisecond (TOML took about 26 ms here, a cost every
cold diagnosis would pay). An unknown key, category, matcher or predicate fails the import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import libcst as cst
import libcst.matchers as m

from flaketui.diagnose import predicates, services
from flaketui.diagnose.rules import Mitigation, Predicate, Rule, RuleContext
from flaketui.models import Category

#: ``@errors`` in a rule's globs: exceptions, warnings and types are named, never called out to a
#: service; nor are the methods of a response (``requests.get(u).json()``: the request line is
#: the evidence).
ERRORS = ("*Error", "*Exception", "*Warning", "*.exceptions.*", "*.errors.*", "*.types.*",
          *(f"*.{verb}().*" for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request",
                                          "fetch", "urlopen", "send", "create", "execute", "invoke", "stream")))

_SLEEP = m.Name("sleep")
#: The libcst matchers rules name (``"matcher"``): what a rule looks at, before its ``when``.
MATCHERS: dict[str, m.BaseMatcherNode] = {
    "assert": m.Assert(),
    "assert-comparison": m.Assert(test=m.Comparison()),
    "calendar-attribute": m.Attribute(attr=m.Name("day") | m.Name("month") | m.Name("hour") | m.Name("minute")
                                      | m.Name("weekday") | m.Name("isoweekday") | m.Name("second")),
    # A loop whose body sleeps or waits, as a statement of its own.
    "sleeping-while-loop": m.While(body=m.IndentedBlock(body=[m.ZeroOrMore(), m.SimpleStatementLine(body=[m.Expr(
        value=m.Call(func=m.Attribute(attr=_SLEEP | m.Name("wait") | m.Name("qWait")) | _SLEEP)
        | m.Await(expression=m.Call(func=m.Attribute(attr=_SLEEP) | _SLEEP))
    )]), m.ZeroOrMore()])),
    "call-statement": m.Expr(value=m.Call()),
    "nonlocal": m.Nonlocal(),
    "global": m.Global(),
    "string": m.SimpleString(),
    "url-string": m.SimpleString(value=m.MatchRegex(r"""[rbuRBUfF]*['"]{1,3}https?://.*""")),
    "for-loop": m.For(),
    "set-argument": m.Arg(value=m.Set()),
    "subscript-assignment": m.AssignTarget(target=m.Subscript()),
    "attribute-assignment": m.AssignTarget(target=m.Attribute()),
}


# -- the predicates that are one line --------------------------------------------------------------
def no_explicit_zone(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``fromtimestamp(ts)`` without its ``tz`` (``astimezone()`` without any zone)."""
    if not isinstance(node, cst.Call):
        return False
    if (ctx.qualify(node.func) or "").endswith("astimezone"):
        return not node.args
    return len(node.args) < 2


def loop_without_deadline(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """A loop bounded by a clock deadline is the cure, not the disease."""
    return isinstance(node, cst.While) and not ctx.loop_has_deadline(node)


def task_dropped(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """A statement that starts a task and keeps nothing of it."""
    if not (isinstance(node, cst.Expr) and isinstance(node.value, cst.Call)):
        return False
    return (ctx.qualify(node.value.func) or "").endswith(
        ("asyncio.create_task", "asyncio.ensure_future", "loop().create_task", "asyncio.run_coroutine_threadsafe")
    )


def asks_a_live_object(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``t.is_alive()`` of a thread, a process or a future (not of any object with a ``done``)."""
    if not isinstance(node, cst.Call):
        return False
    qualified = ctx.qualify(node.func) or ""
    return any(kind in qualified for kind in ("Thread", "Process", "Future")) or qualified.endswith(("is_alive", "isAlive"))


def has_arguments(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``t.join(5)``: a join given a timeout returns whether or not the thread finished."""
    return isinstance(node, cst.Call) and bool(node.args)


def assigns_os_environ(node: cst.CSTNode, ctx: RuleContext) -> bool:
    """``os.environ[...] = ...``: a subscript assignment whose target is the environment."""
    if not (isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Subscript)):
        return False
    return ctx.qualify(node.target.value) == "os.environ"


# -- loading ----------------------------------------------------------------------------------------
_PREDICATE_HOMES = {"predicates": predicates, "services": services, "catalog": sys.modules[__name__]}
_KEYS = frozenset({"id", "category", "weight", "message", "fix", "calls", "except_calls", "matcher", "when",
                   "mitigated_by", "scope", "varies_with_hash_seed", "note"})


def _globs(given: list[str]) -> tuple[str, ...]:
    return tuple(g for glob in given for g in (ERRORS if glob == "@errors" else (glob,)))


def _predicate(name: str) -> Predicate:
    home, _, function = name.partition(".")
    found: Predicate = getattr(_PREDICATE_HOMES[home], function)
    return found


def _rule(entry: dict[str, Any]) -> Rule:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ValueError(f"rule {entry.get('id')}: unknown keys {sorted(unknown)}")
    return Rule(
        entry["id"],
        Category(entry["category"]),
        entry["message"],
        entry["fix"],
        float(entry["weight"]),
        calls=_globs(entry.get("calls", [])),
        matcher=MATCHERS[entry["matcher"]] if "matcher" in entry else None,
        when=_predicate(entry["when"]) if "when" in entry else None,
        mitigated_by=frozenset(Mitigation(name) for name in entry.get("mitigated_by", [])),
        scope=bool(entry.get("scope", False)),
        varies_with_hash_seed=bool(entry.get("varies_with_hash_seed", False)),
        except_calls=_globs(entry.get("except_calls", [])),
    )


RULES: list[Rule] = [_rule(entry) for entry in json.loads(Path(__file__).with_name("rules.json").read_bytes())]
