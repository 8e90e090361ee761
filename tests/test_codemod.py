"""Golden before/after tables for the marker-removal codemod, a table of refusals, and restore."""

from __future__ import annotations

import ast

import pytest

from flaketui.codemod import Removal, remove_markers, restore_marker
from flaketui.models import Marker, MarkerKind, MarkerScope
from tests._codemod_helpers import marker_at, src

F, C, M, P = MarkerScope.FUNCTION, MarkerScope.CLASS, MarkerScope.MODULE, MarkerScope.PARAM

GOLDEN = [
    pytest.param(
        src("""
            import pytest


            @pytest.mark.flaky
            def test_a():
                pytest.fail()
        """),
        [("pytest.mark.flaky", F)],
        src("""
            import pytest


            def test_a():
                pytest.fail()
        """),
        id="bare-decorator-import-still-used",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.flaky(reruns=3)
            def test_a():
                assert True
        """),
        [("pytest.mark.flaky(reruns=3)", F)],
        src("""


            def test_a():
                assert True
        """),
        id="import-pytest-left-unused-goes",
    ),
    pytest.param(
        src("""
            import pytest

            # the comment above belongs to the test
            @pytest.mark.flaky(  # own line: goes
                reruns=3,  # inside: goes
                reruns_delay=1,
            )
            @pytest.mark.slow
            def test_a():
                pass
        """),
        [("pytest.mark.flaky(  # own line: goes\n    reruns=3,  # inside: goes\n    reruns_delay=1,\n)", F)],
        src("""
            import pytest

            # the comment above belongs to the test
            @pytest.mark.slow
            def test_a():
                pass
        """),
        id="multi-line-decorator-with-comments",
    ),
    pytest.param(
        src("""
            import pytest

            @pytest.mark.slow
            # about the flaky marker, kept
            @pytest.mark.flaky(reruns=2)  # goes
            def test_a():
                pass
        """),
        [("pytest.mark.flaky(reruns=2)", F)],
        src("""
            import pytest

            @pytest.mark.slow
            # about the flaky marker, kept
            def test_a():
                pass
        """),
        id="last-decorator-comment-between-kept",
    ),
    pytest.param(
        src("""
            from flaky import flaky


            @flaky
            def test_a():
                pass
        """),
        [("flaky", F)],
        src("""


            def test_a():
                pass
        """),
        id="flaky-package-bare-import-goes",
    ),
    pytest.param(
        src("""
            import os
            from flaky import flaky


            @flaky(max_runs=3, min_passes=2)
            def test_a():
                pass


            @flaky
            def test_b():
                pass
        """),
        [("flaky(max_runs=3, min_passes=2)", F)],
        src("""
            import os
            from flaky import flaky


            def test_a():
                pass


            @flaky
            def test_b():
                pass
        """),
        id="flaky-import-still-used-stays-unused-os-untouched",
    ),
    pytest.param(
        src("""
            import flaky


            class TestA:
                @flaky.flaky(max_runs=2)
                def test_a(self):
                    pass
        """),
        [("flaky.flaky(max_runs=2)", F)],
        src("""


            class TestA:
                def test_a(self):
                    pass
        """),
        id="flaky-dot-flaky-in-class",
    ),
    pytest.param(
        src("""
            import pytest

            flaky = pytest.mark.flaky(reruns=3)


            @flaky
            def test_a():
                pytest.skip()
        """),
        [("flaky", F, 0, "flaky")],
        src("""
            import pytest


            def test_a():
                pytest.skip()
        """),
        id="alias-in-same-file-goes-when-unused",
    ),
    pytest.param(
        src("""
            import pytest

            flaky = pytest.mark.flaky(reruns=3)


            @flaky
            def test_a():
                pass


            @flaky
            def test_b():
                pass
        """),
        [("flaky", F, 0, "flaky")],
        src("""
            import pytest

            flaky = pytest.mark.flaky(reruns=3)


            def test_a():
                pass


            @flaky
            def test_b():
                pass
        """),
        id="alias-still-used-stays",
    ),
    pytest.param(
        src("""
            import pytest
            from helpers import flaky


            @flaky
            def test_a():
                pytest.skip()
        """),
        [("flaky", F, 0, "flaky")],
        src("""
            import pytest


            def test_a():
                pytest.skip()
        """),
        id="alias-from-another-file-only-import-goes",
    ),
    pytest.param(
        src("""
            import pytest

            m = pytest.mark


            @m.flaky(reruns=1)
            def test_a():
                pass
        """),
        [("m.flaky(reruns=1)", F)],
        src("""


            def test_a():
                pass
        """),
        id="mark-namespace-alias-chain-goes",
    ),
    pytest.param(
        src("""
            from pytest import fixture, mark


            @fixture
            def f():
                return 1


            @mark.flaky(reruns=2)
            def test_a(f):
                pass
        """),
        [("mark.flaky(reruns=2)", F)],
        src("""
            from pytest import fixture


            @fixture
            def f():
                return 1


            def test_a(f):
                pass
        """),
        id="from-pytest-import-mark-last-name-goes",
    ),
    pytest.param(
        src("""
            import sys

            import pytest


            @pytest.mark.flaky(condition=sys.platform == "win32")
            def test_a():
                pytest.skip()
        """),
        [('pytest.mark.flaky(condition=sys.platform == "win32")', F)],
        src("""

            import pytest


            def test_a():
                pytest.skip()
        """),
        id="names-read-only-by-the-marker-go",
    ),
    pytest.param(
        src("""
            import pytest

            # module marks
            pytestmark = [pytest.mark.flaky(reruns=2), pytest.mark.slow]
        """),
        [("pytest.mark.flaky(reruns=2)", M)],
        src("""
            import pytest

            # module marks
            pytestmark = [pytest.mark.slow]
        """),
        id="pytestmark-first-element",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = [pytest.mark.slow, pytest.mark.flaky(reruns=2)]
        """),
        [("pytest.mark.flaky(reruns=2)", M)],
        src("""
            import pytest

            pytestmark = [pytest.mark.slow]
        """),
        id="pytestmark-last-element",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = [
                pytest.mark.slow,  # why slow
                # about flaky
                pytest.mark.flaky(reruns=2),
            ]
        """),
        [("pytest.mark.flaky(reruns=2)", M)],
        src("""
            import pytest

            pytestmark = [
                pytest.mark.slow,  # why slow
                # about flaky
            ]
        """),
        id="pytestmark-multi-line-comments-kept",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = [
                pytest.mark.flaky(reruns=2),
                # about slow
                pytest.mark.slow,
            ]
        """),
        [("pytest.mark.flaky(reruns=2)", M)],
        src("""
            import pytest

            pytestmark = [
                # about slow
                pytest.mark.slow,
            ]
        """),
        id="pytestmark-multi-line-first-element",
    ),
    pytest.param(
        src("""
            import os

            import pytest

            # the marks of this module
            pytestmark = pytest.mark.flaky(reruns=2)


            def test_a():
                assert os.sep
        """),
        [("pytest.mark.flaky(reruns=2)", M)],
        src("""
            import os

            # the marks of this module


            def test_a():
                assert os.sep
        """),
        id="pytestmark-single-value-statement-goes",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = [pytest.mark.flaky]


            def test_a():
                pytest.skip()
        """),
        [("pytest.mark.flaky", M)],
        src("""
            import pytest


            def test_a():
                pytest.skip()
        """),
        id="pytestmark-list-empties-statement-goes",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = (pytest.mark.slow, pytest.mark.flaky)
        """),
        [("pytest.mark.flaky", M)],
        src("""
            import pytest

            pytestmark = (pytest.mark.slow,)
        """),
        id="pytestmark-tuple-stays-a-tuple",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = [pytest.mark.slow]
            pytestmark += [pytest.mark.flaky(reruns=1)]
        """),
        [("pytest.mark.flaky(reruns=1)", M)],
        src("""
            import pytest

            pytestmark = [pytest.mark.slow]
        """),
        id="pytestmark-augmented",
    ),
    pytest.param(
        src("""
            import pytest


            class TestA:
                pytestmark = pytest.mark.flaky(reruns=2)


            def test_b():
                pytest.skip()
        """),
        [("pytest.mark.flaky(reruns=2)", C)],
        src("""
            import pytest


            class TestA:
                pass


            def test_b():
                pytest.skip()
        """),
        id="class-body-pytestmark-only-statement-becomes-pass",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.flaky(reruns=2)
            class TestA:
                def test_a(self):
                    pytest.skip()
        """),
        [("pytest.mark.flaky(reruns=2)", C)],
        src("""
            import pytest


            class TestA:
                def test_a(self):
                    pytest.skip()
        """),
        id="class-decorator",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.parametrize("x", [1, pytest.param(2, marks=pytest.mark.flaky(reruns=2)), 3])
            def test_a(x):
                pass
        """),
        [("pytest.mark.flaky(reruns=2)", P)],
        src("""
            import pytest


            @pytest.mark.parametrize("x", [1, pytest.param(2), 3])
            def test_a(x):
                pass
        """),
        id="param-marks-kwarg-goes",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.parametrize("x", [pytest.param(2, marks=[pytest.mark.flaky, pytest.mark.slow], id="two")])
            def test_a(x):
                pass
        """),
        [("pytest.mark.flaky", P)],
        src("""
            import pytest


            @pytest.mark.parametrize("x", [pytest.param(2, marks=[pytest.mark.slow], id="two")])
            def test_a(x):
                pass
        """),
        id="param-marks-list-element",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.parametrize("x", [pytest.param(2, marks=(pytest.mark.slow, pytest.mark.flaky))])
            def test_a(x):
                pass
        """),
        [("pytest.mark.flaky", P)],
        src("""
            import pytest


            @pytest.mark.parametrize("x", [pytest.param(2, marks=(pytest.mark.slow,))])
            def test_a(x):
                pass
        """),
        id="param-marks-list-last-element",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.parametrize(
                "x",
                [
                    pytest.param(1),
                    pytest.param(
                        2,
                        marks=(pytest.mark.flaky(reruns=3),),
                        id="two",
                    ),
                ],
            )
            def test_a(x):
                pass
        """),
        [("pytest.mark.flaky(reruns=3)", P)],
        src("""
            import pytest


            @pytest.mark.parametrize(
                "x",
                [
                    pytest.param(1),
                    pytest.param(
                        2,
                        id="two",
                    ),
                ],
            )
            def test_a(x):
                pass
        """),
        id="param-marks-tuple-empties-kwarg-goes",
    ),
    pytest.param(
        b"# -*- coding: latin-1 -*-\r\nimport pytest\r\n\r\n\r\n@pytest.mark.flaky\r\ndef test_a():  \r\n    assert '\xe9' == pytest.x\r\n",
        [("pytest.mark.flaky", F)],
        b"# -*- coding: latin-1 -*-\r\nimport pytest\r\n\r\n\r\ndef test_a():  \r\n    assert '\xe9' == pytest.x\r\n",
        id="crlf-latin1-trailing-whitespace-kept",
    ),
    pytest.param(
        src("""
            import pytest
            from flaky import flaky

            __all__ = ["flaky"]


            @flaky
            async def test_a():
                pytest.skip()
        """),
        [("flaky", F)],
        src("""
            import pytest
            from flaky import flaky

            __all__ = ["flaky"]


            async def test_a():
                pytest.skip()
        """),
        id="exported-name-stays-async-test",
    ),
    pytest.param(
        src("""
            import pytest
            from flaky import flaky


            @flaky(max_runs=3)
            @pytest.mark.flaky(reruns=2)
            def test_a():
                pytest.skip()
        """),
        [("flaky(max_runs=3)", F), ("pytest.mark.flaky(reruns=2)", F)],
        src("""
            import pytest


            def test_a():
                pytest.skip()
        """),
        id="two-markers-at-once",
    ),
    pytest.param(
        b"import pytest\n\n\n@pytest.mark.flaky\ndef test_a():\n    pytest.skip()",
        [("pytest.mark.flaky", F)],
        b"import pytest\n\n\ndef test_a():\n    pytest.skip()",
        id="no-final-newline",
    ),
    pytest.param(
        b"import pytest, flaky\n\n\n@flaky.flaky\ndef test_a():\n    pytest.skip()\n",
        [("flaky.flaky", F)],
        b"import pytest\n\n\ndef test_a():\n    pytest.skip()\n",
        id="one-name-of-a-multi-name-import",
    ),
    pytest.param(
        src("""
            from pytest import (
                fixture,
                mark,  # for the flaky marker
            )


            @mark.flaky
            @fixture
            def f():
                return 1
        """),
        [("mark.flaky", F)],
        src("""
            from pytest import (
                fixture,
            )


            @fixture
            def f():
                return 1
        """),
        id="parenthesized-import-last-name",
    ),
    pytest.param(
        src("""
            import os

            # reruns come from the flaky package
            from flaky import flaky


            @flaky
            def test_a():
                assert os.sep
        """),
        [("flaky", F)],
        src("""
            import os

            # reruns come from the flaky package


            def test_a():
                assert os.sep
        """),
        id="comment-above-removed-import-kept",
    ),
    pytest.param(
        b"import pytest\n\nx = 1; pytestmark = pytest.mark.flaky\n\n\ndef test_a():\n    assert x\n",
        [("pytest.mark.flaky", M)],
        b"x = 1\n\n\ndef test_a():\n    assert x\n",
        id="semicolon-statement",
    ),
    pytest.param(
        b"\xef\xbb\xbfimport pytest\n\n\n@pytest.mark.flaky\n@pytest.mark.slow\ndef test_a():\n    pass\n",
        [("pytest.mark.flaky", F)],
        b"\xef\xbb\xbfimport pytest\n\n\n@pytest.mark.slow\ndef test_a():\n    pass\n",
        id="utf8-bom-kept",
    ),
    pytest.param(
        src("""
            import pytest


            class TestOuter:
                class TestInner:
                    @pytest.mark.flaky(reruns=1)
                    def test_a(self):
                        pytest.skip()

                    def test_b(self):
                        pass
        """),
        [("pytest.mark.flaky(reruns=1)", F)],
        src("""
            import pytest


            class TestOuter:
                class TestInner:
                    def test_a(self):
                        pytest.skip()

                    def test_b(self):
                        pass
        """),
        id="nested-class-method",
    ),
    pytest.param(
        src("""
            import pytest


            def flaky(fn):
                \"\"\"Only marks.\"\"\"
                return pytest.mark.flaky(reruns=3)(fn)


            @flaky
            def test_a():
                pass
        """),
        [("flaky", F, 0, "flaky")],
        src("""
            import pytest


            def flaky(fn):
                \"\"\"Only marks.\"\"\"
                return pytest.mark.flaky(reruns=3)(fn)


            def test_a():
                pass
        """),
        id="helper-that-only-marks",
    ),
]

GOLDEN += [
    pytest.param(
        src("""
            import pytest
            from flaky import flaky


            def test_a():
                assert True


            test_a = pytest.mark.flaky(reruns=2)(test_a)


            def test_b():
                assert True


            test_b = flaky(max_runs=3)(test_b)
        """),
        [("pytest.mark.flaky(reruns=2)", F), ("flaky(max_runs=3)", F)],
        b"def test_a():\n    assert True\n\n\ndef test_b():\n    assert True\n",
        id="marks-applied-by-calling-them",
    ),
]


def _markers(before: bytes, specs: list[tuple]) -> list:
    out = []
    for spec in specs:
        expression, scope, *rest = spec
        nth = rest[0] if rest else 0
        via = rest[1] if len(rest) > 1 else None
        out.append(marker_at(before, expression, scope, nth=nth, via=via))
    return out


@pytest.mark.parametrize(("before", "specs", "expected"), GOLDEN)
def test_removal_golden(before: bytes, specs: list[tuple], expected: bytes) -> None:
    markers = _markers(before, specs)
    removal = remove_markers(before, markers, path="tests/test_x.py")
    assert removal.failure is None
    assert removal.after == expected
    assert removal.removed == tuple(markers)
    assert removal.changed


@pytest.mark.parametrize(("before", "specs", "expected"), GOLDEN)
def test_removal_applied_twice_changes_nothing(before: bytes, specs: list[tuple], expected: bytes) -> None:
    markers = _markers(before, specs)
    first = remove_markers(before, markers, path="tests/test_x.py")
    assert first.after is not None
    second = remove_markers(first.after, markers, path="tests/test_x.py")
    assert not second.changed
    assert second.after in (None, first.after)


REFUSED = [
    pytest.param(b"import pytest\r@pytest.mark.flaky\rdef test_a():\r    pass\r", ("pytest.mark.flaky", F), "CR-only", id="cr-only-line-endings"),
    pytest.param(
        src("""
            import pytest


            def flaky(fn):
                return _timeout(pytest.mark.flaky(reruns=3)(fn))


            @flaky
            def test_a():
                pass
        """),
        ("flaky", F, 0, "flaky"),
        "does more than mark",
        id="helper-doing-more-than-mark",
    ),
    pytest.param(
        src("""
            flaky = make_retrying(times=3)


            @flaky
            def test_a():
                pass
        """),
        ("flaky", F, 0, "flaky"),
        "not a plain marker",
        id="name-bound-to-something-else",
    ),
    pytest.param(b"import pytest\n\n@pytest.mark.flaky\ndef test_a(:\n", ("pytest.mark.flaky", F), "does not parse", id="syntax-error"),
    pytest.param(b"@pytest.mark.flaky\ndef test_a():\n    pass\n\xff\n", ("pytest.mark.flaky", F), "decoded", id="not-utf8"),
]


@pytest.mark.parametrize(("before", "spec", "reason"), REFUSED)
def test_refusals_are_values_and_leave_the_file_alone(before: bytes, spec: tuple, reason: str) -> None:
    expression, scope, *rest = spec
    if b"\xff" in before or b"\r" in before and b"\r\n" not in before:
        from flaketui.models import Marker

        marker = Marker(MarkerKind.UNKNOWN, scope, "tests/test_x.py", 1, expression)
    else:
        marker = marker_at(before, expression, scope, nth=rest[0] if rest else 0, via=rest[1] if len(rest) > 1 else None)
    removal = remove_markers(before, [marker], path="tests/test_x.py")
    assert removal.after is None
    assert not removal.changed
    assert removal.failure is not None and reason in removal.failure
    assert removal.before == before


NO_OP = [
    pytest.param(
        src("""
            import pytest


            @pytest.mark.slow
            def test_a():
                pass
        """),
        ("pytest.mark.flaky", 4),
        id="no-marker-at-the-line",
    ),
    pytest.param(
        src("""
            import pytest


            @pytest.mark.flaky(reruns=1)
            def test_a():
                pass
        """),
        ("pytest.mark.flaky(reruns=2)", 4),
        id="another-flaky-marker-at-the-line",
    ),
    pytest.param(
        src("""
            import pytest

            pytestmark = [pytest.mark.slow]
        """),
        ("pytest.mark.flaky", 3),
        id="pytestmark-without-the-marker",
    ),
    pytest.param(
        src("""
            import pytest

            COMMON = [pytest.mark.slow]
            pytestmark = [pytest.mark.flaky] + COMMON
        """),
        ("pytest.mark.flaky", 4),
        id="computed-pytestmark-is-not-edited",
    ),
    pytest.param(
        src("""
            import pytest


            # @pytest.mark.flaky
            def test_a():
                pass
        """),
        ("pytest.mark.flaky", 4),
        id="commented-out-marker",
    ),
]


@pytest.mark.parametrize(("before", "where"), NO_OP)
def test_no_op_table_changes_nothing(before: bytes, where: tuple[str, int]) -> None:
    from flaketui.models import Marker

    source, line = where
    removal = remove_markers(before, [Marker(MarkerKind.UNKNOWN, F, "t.py", line, source)], path="t.py")
    assert not removal.changed
    assert removal.after is None
    assert removal.failure is not None and "Rescan" in removal.failure


def test_a_marker_that_moved_is_reported_with_what_to_do() -> None:
    before = src("""
        import pytest


        @pytest.mark.flaky
        def test_a():
            pass
    """)
    moved = marker_at(before, "pytest.mark.flaky")
    stale = type(moved)(moved.kind, moved.scope, moved.path, moved.line + 1, moved.source)
    removal = remove_markers(before, [stale], path="tests/test_x.py")
    assert removal.after is None
    assert removal.failure is not None and "Rescan" in removal.failure


def test_no_markers_changes_nothing() -> None:
    before = src("import pytest\n")
    removal = remove_markers(before, [], path="t.py")
    assert removal == Removal(path="t.py", before=before, after=before, failure=None)


RESTORE = [
    pytest.param("bare-decorator-import-still-used", "test_a", None, id="decorator"),
    pytest.param("import-pytest-left-unused-goes", "test_a", None, id="import-comes-back"),
    pytest.param("last-decorator-comment-between-kept", "test_a", None, id="decorator-order-by-test-line"),
    pytest.param("flaky-package-bare-import-goes", "test_a", None, id="from-flaky-import-flaky"),
    pytest.param("flaky-dot-flaky-in-class", "test_a", "TestA", id="import-flaky-method"),
    pytest.param("pytestmark-last-element", "test_a", None, id="module-pytestmark-list"),
    pytest.param("pytestmark-single-value-statement-goes", "test_a", None, id="module-pytestmark-new"),
    pytest.param("class-decorator", "test_a", "TestA", id="class-decorator"),
    pytest.param("param-marks-kwarg-goes", "test_a", None, id="param-marks"),
    pytest.param("param-marks-list-last-element", "test_a", None, id="param-marks-list"),
    pytest.param("crlf-latin1-trailing-whitespace-kept", "test_a", None, id="crlf"),
]

_GOLDEN_BY_ID = {p.id: p.values for p in GOLDEN}


def _def_line(source: bytes, name: str) -> int | None:
    return next(
        (
            node.lineno
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
        ),
        None,
    )


@pytest.mark.parametrize(("golden", "test_name", "class_name"), RESTORE)
def test_restore_after_remove_gives_the_same_tree(golden: str, test_name: str, class_name: str | None) -> None:
    before, specs, _ = _GOLDEN_BY_ID[golden]
    (marker,) = _markers(before, specs)
    removed = remove_markers(before, [marker], path="tests/test_x.py")
    assert removed.after is not None
    restored = restore_marker(
        removed.after, marker, test_name, class_name, test_line=_def_line(before, test_name), path="tests/test_x.py"
    )
    assert restored.failure is None, restored.failure
    assert restored.after is not None
    assert ast.dump(ast.parse(restored.after)) == ast.dump(ast.parse(before))
    again = restore_marker(restored.after, marker, test_name, class_name, path="tests/test_x.py")
    assert again.after == restored.after


def test_restore_puts_a_decorator_back_byte_for_byte() -> None:
    before = src("""
        import pytest


        @pytest.mark.slow
        @pytest.mark.flaky(reruns=3)
        @pytest.mark.parametrize("x", [1])
        def test_a(x):
            pytest.skip()
    """)
    marker = marker_at(before, "pytest.mark.flaky(reruns=3)")
    removed = remove_markers(before, [marker], path="tests/test_x.py")
    assert removed.after is not None
    restored = restore_marker(removed.after, marker, "test_a", None, test_line=_def_line(before, "test_a"))
    assert restored.after == before


def test_restore_spells_out_an_alias_that_is_gone() -> None:
    before = src("""
        import pytest

        flaky = pytest.mark.flaky(reruns=3)


        @flaky
        def test_a():
            pass
    """)
    marker = marker_at(before, "flaky", via="flaky", kind=MarkerKind.RERUNFAILURES)
    marker = type(marker)(marker.kind, marker.scope, marker.path, marker.line, marker.source, args=(("reruns", "3"),), via="flaky")
    removed = remove_markers(before, [marker], path="tests/test_x.py")
    assert removed.after is not None and b"flaky" not in removed.after
    restored = restore_marker(removed.after, marker, "test_a", None)
    assert restored.after is not None
    assert b"import pytest\n" in restored.after
    assert b"@pytest.mark.flaky(reruns=3)\ndef test_a():" in restored.after


def test_restore_of_a_missing_test_is_a_failure_value() -> None:
    before = src("import pytest\n\n\ndef test_b():\n    pass\n")
    marker = marker_at(src("@pytest.mark.flaky\ndef test_a(): pass\n"), "pytest.mark.flaky")
    restored = restore_marker(before, marker, "test_a", None)
    assert restored.after is None
    assert restored.failure is not None and "test_a" in restored.failure


HELPERS = {
    "t/integration/conftest.py": src("""
        import pytest

        _flaky = pytest.mark.flaky(reruns=5)
        _timeout = pytest.mark.timeout(timeout=300)


        def flaky(fn):
            return _timeout(_flaky(fn))
    """),
    "t/helpers.py": src("""
        import pytest

        retry = pytest.mark.flaky(reruns=3)


        def slow_retry(fn):
            return pytest.mark.timeout(60)(pytest.mark.flaky(reruns=2)(fn))
    """),
}


def _read(path: str) -> bytes | None:
    return HELPERS.get(path)


def test_a_helper_in_another_file_that_does_more_than_mark_is_refused() -> None:
    before = src("""
        from .conftest import flaky


        @flaky
        def test_a():
            pass
    """)
    marker = marker_at(before, "flaky", via="flaky", path="t/integration/test_a.py")
    removal = remove_markers(before, [marker], path="t/integration/test_a.py", read=_read)
    assert removal.after is None
    assert removal.failure is not None
    assert "t/integration/conftest.py" in removal.failure and "does more than mark" in removal.failure


def test_a_module_helper_reached_by_attribute_is_refused_too() -> None:
    before = src("""
        import t.helpers as helpers


        @helpers.slow_retry
        def test_a():
            pass
    """)
    marker = marker_at(before, "helpers.slow_retry", via="helpers.slow_retry", path="t/test_a.py")
    removal = remove_markers(before, [marker], path="t/test_a.py", read=_read)
    assert removal.failure is not None and "t/helpers.py" in removal.failure


def test_an_alias_in_another_file_is_removed_here_and_left_there() -> None:
    before = src("""
        from t.helpers import retry


        @retry
        def test_a():
            pass
    """)
    marker = marker_at(before, "retry", via="retry", path="t/test_a.py")
    removal = remove_markers(before, [marker], path="t/test_a.py", read=_read)
    assert removal.failure is None
    assert removal.after == b"def test_a():\n    pass\n"


def test_a_second_removal_of_a_module_marker_leaves_a_param_marker_that_moved_onto_its_line() -> None:
    # Found by test_codemod_properties: the pytestmark list went, the param's line became line 4.
    before = (
        b"import pytest\n\npytestmark = [\n    pytest.mark.flaky(reruns=1),\n]\n\n\n"
        b"@pytest.mark.parametrize('x', [1, pytest.param(2, marks=pytest.mark.flaky(reruns=1)), 3])\n"
        b"def test_0(x):\n    pass\n"
    )
    module = Marker(MarkerKind.UNKNOWN, MarkerScope.MODULE, "t.py", 4, "pytest.mark.flaky(reruns=1)")
    first = remove_markers(before, [module], path="t.py")
    assert first.after is not None and b"pytestmark" not in first.after
    assert b"marks=pytest.mark.flaky(reruns=1)" in first.after
    assert not remove_markers(first.after, [module], path="t.py").changed
