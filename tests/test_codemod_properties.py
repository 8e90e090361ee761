"""Property tests: for generated test modules, removing any set of their flaky markers yields a
file that compiles, whose tree is the input's minus those markers and the imports they alone
used, with every other comment and byte kept; a second removal changes nothing; and putting a
decorator back gives the input's tree again."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flaketui.codemod import remove_markers, restore_marker
from flaketui.codemod.check import removal_problems
from flaketui.models import Marker, MarkerKind, MarkerScope

#: (decorator lines, imports it needs, is a flaky marker, via)
DECORATORS = [
    (["@pytest.mark.flaky"], {"import pytest"}, True, None),
    (["@pytest.mark.flaky(reruns=3, reruns_delay=1)"], {"import pytest"}, True, None),
    (["@pytest.mark.flaky(", "    reruns=2,  # why two", ")"], {"import pytest"}, True, None),
    (["@flaky"], {"from flaky import flaky"}, True, None),
    (["@flaky(max_runs=3, min_passes=2)"], {"from flaky import flaky"}, True, None),
    (["@mark.flaky(reruns=1)"], {"from pytest import mark"}, True, None),
    (["@retry"], {"import pytest", "retry = pytest.mark.flaky(reruns=2)"}, True, "retry"),
    (["@pytest.mark.flaky(condition=sys.platform == 'win32')"], {"import pytest", "import sys"}, True, None),
    (["@pytest.mark.slow"], {"import pytest"}, False, None),
    (["@pytest.mark.usefixtures('tmp_path')  # needs a dir"], {"import pytest"}, False, None),
]
PARAMETRIZE = "@pytest.mark.parametrize('x', [1, pytest.param(2, marks=pytest.mark.flaky(reruns=1)), 3])"
BODIES = [("pass", set()), ("assert os.sep", {"import os"}), ("pytest.skip()", {"import pytest"})]
IMPORT_ORDER = [
    "import os",
    "import sys",
    "import pytest",
    "from flaky import flaky",
    "from pytest import mark",
    "retry = pytest.mark.flaky(reruns=2)",
]


@dataclass
class Generated:
    source: bytes
    markers: list[Marker]
    #: For each marker: the test it sits on (name, class, def line), when it is a decorator.
    owners: dict[int, tuple[str, str | None, int]] = field(default_factory=dict)


@st.composite
def marked_modules(draw: st.DrawFn) -> Generated:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    needed: set[str] = set()
    body_lines: list[tuple[str, object]] = []  # (text, marker spec or None)

    def comment() -> list[tuple[str, object]]:
        return [("# " + draw(st.sampled_from(["about the test", "TODO", "noqa"])), None)] if draw(st.booleans()) else []

    module_marks = draw(st.lists(st.sampled_from(["pytest.mark.flaky", "pytest.mark.flaky(reruns=1)", "pytest.mark.slow"]), max_size=3, unique=True))
    if module_marks:
        needed.add("import pytest")
        body_lines += [("", None), *comment()]
        if draw(st.booleans()):
            inner = ", ".join(module_marks)
            specs = [("module-inline", mark) for mark in module_marks]
            body_lines.append((f"pytestmark = [{inner}]", specs))
        else:
            body_lines.append(("pytestmark = [", None))
            for mark in module_marks:
                trailing = "  # " + mark.rsplit(".", 1)[-1][:5] if draw(st.booleans()) else ""
                body_lines.append((f"    {mark},{trailing}", ("module", mark)))
            body_lines.append(("]", None))

    count = draw(st.integers(1, 4))
    for index in range(count):
        in_class = draw(st.booleans())
        indent = "    " if in_class else ""
        body_lines += [("", None), ("", None)]
        if in_class:
            body_lines += comment()
            body_lines.append((f"class TestC{index}:", None))
        body_lines += [(indent + text, None) for text, _ in comment()]
        chosen = draw(st.lists(st.sampled_from(range(len(DECORATORS))), max_size=3, unique=True))
        name = f"test_{index}"
        for choice in chosen:
            lines, imports, is_flaky, via = DECORATORS[choice]
            needed |= imports
            spec = ("decorator", "\n".join(lines)[1:], via, name, f"TestC{index}" if in_class else None) if is_flaky else None
            body_lines.append((indent + lines[0], spec))
            body_lines += [(indent + line, None) for line in lines[1:]]
            if draw(st.booleans()):
                body_lines += [(indent + text, None) for text, _ in comment()]
        if draw(st.booleans()):
            needed.add("import pytest")
            body_lines.append((indent + PARAMETRIZE, ("param", "pytest.mark.flaky(reruns=1)")))
        body, imports = draw(st.sampled_from(BODIES))
        needed |= imports
        arguments = "self, x" if in_class else "x"
        trailing_space = " " * draw(st.integers(0, 2))
        body_lines.append((f"{indent}def {name}({arguments}):{trailing_space}", ("def", name)))
        body_lines.append((f"{indent}    {body}", None))

    header = ["# -*- coding: utf-8 -*-"] if draw(st.booleans()) else []
    imports = [line for line in IMPORT_ORDER if line in needed]
    if "retry = pytest.mark.flaky(reruns=2)" in imports:
        imports.remove("retry = pytest.mark.flaky(reruns=2)")
        imports += ["", "retry = pytest.mark.flaky(reruns=2)"]
    lines = [*header, *imports, *(text for text, _ in body_lines)]
    offset = len(header) + len(imports)
    markers: list[Marker] = []
    owners: dict[int, tuple[str, str | None, int]] = {}
    pending: list[int] = []
    for number, (_, spec) in enumerate(body_lines, start=offset + 1):
        if spec is None:
            continue
        if isinstance(spec, list):
            for _, mark in spec:
                if "flaky" in mark:
                    markers.append(Marker(MarkerKind.UNKNOWN, MarkerScope.MODULE, "t.py", number, mark))
        elif spec[0] == "module" and "flaky" in spec[1]:
            markers.append(Marker(MarkerKind.UNKNOWN, MarkerScope.MODULE, "t.py", number, spec[1]))
        elif spec[0] == "decorator":
            _, source, via, name, class_name = spec
            markers.append(Marker(MarkerKind.UNKNOWN, MarkerScope.FUNCTION, "t.py", number, source, via=via))
            pending.append(len(markers) - 1)
            owners[len(markers) - 1] = (name, class_name, 0)
        elif spec[0] == "param":
            markers.append(Marker(MarkerKind.UNKNOWN, MarkerScope.PARAM, "t.py", number, spec[1]))
        elif spec[0] == "def":
            for position in pending:
                test_name, class_name, _ = owners[position]
                owners[position] = (test_name, class_name, number)
            pending = []
    text = newline.join(lines) + newline
    return Generated(text.encode(), markers, owners)


SETTINGS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(marked_modules(), st.data())
def test_removing_any_markers_changes_only_them(generated: Generated, data: st.DataObject) -> None:
    if not generated.markers:
        return
    chosen = data.draw(st.lists(st.sampled_from(generated.markers), min_size=1, unique=True))
    removal = remove_markers(generated.source, chosen, path="t.py")
    assert removal.failure is None, removal.failure
    assert removal.after is not None
    assert removal_problems(generated.source, removal.after, chosen) == []
    again = remove_markers(removal.after, chosen, path="t.py")
    assert not again.changed


def _without_import_order(source: bytes) -> str:
    tree = ast.parse(source)
    imports = sorted(ast.dump(s) for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom)))
    tree.body = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    return ast.dump(tree) + "".join(imports)


@SETTINGS
@given(marked_modules(), st.data())
def test_restoring_a_removed_decorator_gives_the_same_tree(generated: Generated, data: st.DataObject) -> None:
    decorators = [i for i, m in enumerate(generated.markers) if m.scope is MarkerScope.FUNCTION and m.via is None]
    if not decorators:
        return
    index = data.draw(st.sampled_from(decorators))
    marker = generated.markers[index]
    test_name, class_name, test_line = generated.owners[index]
    removal = remove_markers(generated.source, [marker], path="t.py")
    assert removal.after is not None, removal.failure
    restored = restore_marker(removal.after, marker, test_name, class_name, test_line=test_line, path="t.py")
    assert restored.after is not None, restored.failure
    assert _without_import_order(restored.after) == _without_import_order(generated.source)
