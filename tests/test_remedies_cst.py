"""The remedies' shared tree helpers on large modules: an edit of one test keeps every other
statement as the very node it was parsed as (so nothing walks a module of thousands of lines
again), and gives the same code as libcst's full walks did."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from flaketui.models import Category
from flaketui.remedies import ordering, ties
from flaketui.remedies._base import proposal
from flaketui.remedies._cst import add_imports, change_function, changed_lines, find_function, parse
from flaketui.remedies._model import Context, Declined, Proposal, Target
from flaketui.remedies.guard import weakening
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


MODULE = src('''
    """Tests of the client."""
    import asyncio
    from distributed.utils import NoOpAwaitable, get_mp_context

    PORT = 8786


    def helper():
        def inner():
            return 1
        return inner()


    class TestClient:
        def test_one(self):
            assert helper() == 1

        def test_two(self):
            asyncio.run(asyncio.sleep(0.5))
            assert PORT == 8786


    async def test_three():
        await asyncio.sleep(0.1)
        assert True
''')

#: Modules libcst's import adder treats differently: a docstring first, nothing but imports,
#: no import at all, an empty module, ``from x import`` to extend, ``__future__``.
IMPORT_HEADS = [
    MODULE,
    src("import os\nimport sys\n"),
    src("def test():\n    assert 1\n"),
    "",
    src('"""Doc."""\n'),
    src("from __future__ import annotations\n\nimport os\n\nx = 1\nimport late\n"),
    src("from distributed.utils import a\n\ndef test():\n    pass\n"),
]
IMPORTS = [[("socket", None)], [("distributed.utils", "open_port")], [("__future__", "annotations"), ("os", None)]]


def _with_body(function: cst.FunctionDef, text: str) -> cst.FunctionDef:
    return function.with_changes(body=cst.parse_statement(f"def f():\n{textwrap.indent(text, '    ')}").body)


@pytest.mark.parametrize("owner, name", [(None, "test_three"), ("TestClient", "test_two"), (None, "helper")])
def test_changing_a_function_keeps_the_other_statements_as_they_were_parsed(owner, name):
    module = parse(MODULE.encode())
    assert module is not None
    function = find_function(module, name, owner)
    assert function is not None
    changed = change_function(module, function, lambda f: _with_body(f, "return 2\n"))
    assert changed.code.count("return 2") == 1
    kept = [s for s in changed.body if any(s is old for old in module.body)]
    assert len(kept) == len(module.body) - 1  # only the statement holding the function is new
    if owner:
        new_class = next(s for s in changed.body if isinstance(s, cst.ClassDef))
        old_class = next(s for s in module.body if isinstance(s, cst.ClassDef))
        assert new_class.body.body[0] is old_class.body.body[0]  # the other method too


def test_a_nested_function_is_changed_by_the_full_walk():
    module = parse(MODULE.encode())
    assert module is not None
    helper = find_function(module, "helper")
    assert helper is not None
    inner = helper.body.body[0]
    assert isinstance(inner, cst.FunctionDef)
    changed = change_function(module, inner, lambda f: _with_body(f, "return 3\n"))
    assert "return 3" in changed.code and changed.code.count("def inner") == 1


@pytest.mark.parametrize("text", IMPORT_HEADS)
@pytest.mark.parametrize("imports", IMPORTS)
def test_imports_are_added_as_libcst_adds_them_to_the_whole_module(text, imports):
    module = cst.parse_module(text)
    context = CodemodContext()
    for dotted_module, name in imports:
        AddImportsVisitor.add_needed_import(context, dotted_module, name)
    expected = AddImportsVisitor(context).transform_module(module).code
    assert add_imports(module, imports).code == expected


def test_adding_an_import_keeps_the_statements_after_the_imports():
    module = cst.parse_module(MODULE)
    added = add_imports(module, [("socket", None)])
    assert "import socket\n" in added.code
    assert added.body[-1] is module.body[-1] and added.body[-2] is module.body[-2]


def _edit(module: cst.Module, name: str, owner: str | None, body: str) -> cst.Module:
    function = find_function(module, name, owner)
    assert function is not None
    return change_function(module, function, lambda f: _with_body(f, body))


#: (test, class, new body, what the guard says): test data, kept out of the decorator, which the
#: before-stop check reads for flaky markers on our own tests.
GUARD_CASES = [
    ("test_two", "TestClient", "asyncio.run(asyncio.sleep(0.5))\n", "remove an assertion"),
    ("test_two", "TestClient", "asyncio.run(asyncio.sleep(0.5))\nassert PORT >= 8786\n", "compares"),
    ("test_three", None, "await asyncio.sleep(0.1)\nassert True\nassert bool(5)\n", None),
    ("test_three", None, "await asyncio.sleep(0.2)\nassert True\n", None),  # the fixed sleep itself
    ("test_one", "TestClient", "pytest.skip('flaky')\nassert helper() == 1\n", "skip"),
]


@pytest.mark.parametrize("name, owner, body, words", GUARD_CASES)
def test_the_guard_judges_a_shared_tree_as_it_judges_the_printed_one(name, owner, body, words):
    before = MODULE.encode()
    module = parse(before)
    assert module is not None
    after_module = _edit(module, name, owner, body)
    after = after_module.bytes
    shared, printed = weakening("t.py", before, after, after_module), weakening("t.py", before, after)
    assert shared == printed
    assert (shared is None) if words is None else (words in (shared or ""))


def test_a_number_changed_in_a_class_of_many_tests_is_caught():
    tests = "".join(f"    def test_{i}(self):\n        assert work({i}, timeout=5) == {i}\n\n" for i in range(300))
    before = f"class TestMany:\n{tests}".encode()
    module = parse(before)
    assert module is not None
    after_module = _edit(module, "test_150", "TestMany", "assert work(150, timeout=50) == 150\n")
    found = proposal(Category.ASYNC, "demo", "t", "w", {"t.py": (before, after_module)})
    assert isinstance(found, Declined) and "a bigger timeout" in found.reason


@pytest.mark.parametrize("before, after, lines", [
    ("a\nb\nc\n", "a\nx\nc\n", [2]),
    ("a\nb\nc\n", "a\nb\nb2\nc\n", [3]),
    ("a\nb\nc\n", "b\nc\n", [1]),
    ("a\nb\nc\n", "a\nb\n", [3]),
    ("x\n" * 50 + "y\n" + "x\n" * 50, "x\n" * 50 + "z\nz\n" + "x\n" * 50, [51]),
    ("a\n", "a\n", []),
])  # fmt: skip
def test_changed_lines_are_numbered_in_the_whole_file(before, after, lines):
    assert changed_lines(before.encode(), after.encode()) == lines


QUEUE = src('''
    import heapq


    def pending_tags():
        return {"a", "b"}


    class JobQueue:
        def __init__(self):
            self.heap = []

        def push(self, job):
            heapq.heappush(self.heap, (-job.priority, job.id))

        def size(self):
            return len(self.heap)
''').encode()


def _reading(files: dict[str, bytes], test: str) -> tuple[Context, list[str]]:
    reads: list[str] = []

    def read(path: str) -> bytes | None:
        reads.append(path)
        return files.get(path)

    return Context(Target("tests/test_x.py", test), read, project_files=tuple(files)), reads


@pytest.mark.parametrize("remedy", [ties.propose_tie_break, ordering.propose_sorted])
def test_a_test_that_uses_nothing_of_a_project_module_does_not_read_it(remedy):
    files = {
        "src/taskq/queue.py": QUEUE,
        "tests/test_x.py": src('''
            from taskq.queue import pending_tags


            def test_empty():
                assert [len(t) for t in ["a", "b"]] == [1, 1]
        ''').encode(),
    }
    ctx, reads = _reading(files, "test_empty")
    assert remedy(ctx) == []
    assert "src/taskq/queue.py" not in reads


def test_a_set_the_project_returns_is_still_sorted_when_the_test_iterates_it():
    files = {
        "src/taskq/queue.py": QUEUE,
        "tests/test_x.py": src('''
            from taskq.queue import pending_tags


            def test_tags():
                assert list(pending_tags()) == ["a", "b"]
        ''').encode(),
    }
    ctx, reads = _reading(files, "test_tags")
    found = ordering.propose_sorted(ctx)
    assert len(found) == 1 and isinstance(found[0], Proposal)
    assert b"sorted(pending_tags())" in found[0].edits[0].after
    assert "src/taskq/queue.py" in reads


def test_the_diagnosis_and_the_remedies_read_one_tree_per_module():
    from flaketui.diagnose import trees
    from flaketui.diagnose.module import read_module

    source = b"import threading\n\n\ndef start():\n    threading.Thread(target=print).start()\n"
    with trees.shared():  # one proposal
        facts = read_module("src/pool.py", source)
        assert facts.error is None
        assert facts._reader is not None and facts._reader.module is parse(source)


def test_a_module_libcst_cannot_read_still_says_why():
    from flaketui.diagnose.module import read_module

    facts = read_module("src/broken.py", b"def f(:\n    pass\n")
    assert parse(b"def f(:\n    pass\n") is None
    assert facts.error is not None and facts.error.startswith("src/broken.py does not parse")


def test_an_edit_that_would_not_compile_is_not_offered():
    before = src("""
        async def test_leases(sem):
            def hold():
                with sem:
                    assert sem.leases
            await run(hold)
    """).encode()
    inside = before.replace(b"        with sem:\n", b"        with sem:\n            await poll(sem)\n")
    assert inside != before
    found = proposal(Category.ASYNC, "demo", "t", "w", {"t.py": (before, inside)})
    assert isinstance(found, Declined) and "would not compile" in found.reason
    outside = before.replace(b"    await run(hold)\n", b"    await poll(sem)\n    await run(hold)\n")
    assert isinstance(proposal(Category.ASYNC, "demo", "t", "w", {"t.py": (before, outside)}), Proposal)
