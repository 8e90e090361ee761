"""Golden before/after for the name remedies: a name per instance for a project class that
derives its name from its arguments (``name.per-instance``), a name of the test's own for a
resource name several tests write (``name.unique``), and the shapes where they must not fire."""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _found(files: dict[str, bytes], remedy: str, category: Category = Category.UNKNOWN) -> list[bytes]:
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=files.get, project_files=tuple(files),
                  category=category)  # fmt: skip
    proposals, _ = propose(ctx)
    return [p.edits[0].after for p in proposals if p.remedy == remedy]


def _tracker(derived: str) -> bytes:
    return src(f"""
        class Tracker:
            def __init__(self, keys, scheduler, name=None):
                self.name = name or {derived}
                self.keys = keys
    """)


TRACKER = {"src/grid/__init__.py": b"", "src/grid/track.py": _tracker('f"tracker-{sorted(keys)}"')}

PER_INSTANCE = [
    pytest.param(src("""
        from grid.track import Tracker


        async def test_a(s):
            bars = [Tracker(keys=["z"], scheduler=s) for _ in range(10)]
            assert len(bars) == 10
    """), src("""
        from grid.track import Tracker


        async def test_a(s):
            bars = [Tracker(keys=["z"], scheduler=s, name=f"tracker-{i}") for i in range(10)]
            assert len(bars) == 10
    """), id="a-list-comprehension"),
    pytest.param(src("""
        from grid.track import Tracker


        def test_a(s, i):
            bars = []
            for _ in range(3):
                bars.append(Tracker(["z"], s))
            assert len(bars) == i
    """), src("""
        from grid.track import Tracker


        def test_a(s, i):
            bars = []
            for n in range(3):
                bars.append(Tracker(["z"], s, name=f"tracker-{n}"))
            assert len(bars) == i
    """), id="a-for-loop-with-a-fresh-index"),
]


@pytest.mark.parametrize(("before", "expected"), PER_INSTANCE)
def test_a_name_per_instance(before: bytes, expected: bytes) -> None:
    files = {**TRACKER, "tests/test_x.py": before}
    found = _found(files, "name.per-instance")
    assert found == [expected]
    assert weakening("tests/test_x.py", before, found[0]) is None
    assert _found({**files, "tests/test_x.py": found[0]}, "name.per-instance") == []


PER_INSTANCE_NOOPS = [
    pytest.param(TRACKER, "[Tracker(keys=[k], scheduler=s) for k in range(3)]", id="the-arguments-differ-per-instance"),
    pytest.param(TRACKER, '[Tracker(keys=["z"], scheduler=s, name="x") for _ in range(3)]', id="a-name-is-given"),
    pytest.param(TRACKER, '[Tracker(["z"], s, **options) for _ in range(3)]', id="options-may-name-it"),
    pytest.param({**TRACKER, "src/grid/track.py": _tracker('f"tracker-{uuid.uuid4()}"')},
                 '[Tracker(["z"], s) for _ in range(3)]', id="the-derived-name-is-unique-already"),
    pytest.param({**TRACKER, "src/grid/track.py": src("""
        class Tracker:
            def __init__(self, keys, scheduler, label=None):
                self.label = label or "tracker"
    """)}, '[Tracker(["z"], s) for _ in range(3)]', id="no-name-parameter"),
    pytest.param(TRACKER, 'Tracker(["z"], s)', id="one-instance-no-loop"),
]


@pytest.mark.parametrize(("project", "made"), PER_INSTANCE_NOOPS)
def test_no_name_per_instance(project: dict[str, bytes], made: str) -> None:
    test = f"from grid.track import Tracker\n\n\ndef test_a(s, options):\n    bars = {made}\n    assert bars\n"
    assert _found({**project, "tests/test_x.py": test.encode()}, "name.per-instance") == []


SHARED = src('''
    import pytest

    from broker import Broker, Queue


    def test_a(broker):
        """Messages come out in the order they went in."""
        queue = Queue("orders", durable=False)
        broker.declare(queue)
        broker.publish("orders", b"1")
        assert broker.get("orders") == b"1"


    def test_b(broker):
        broker.declare(Queue("orders"))
        assert broker.size("orders") == 0
''')

UNIQUE = src('''
    import pytest

    from broker import Broker, Queue
    import uuid


    def test_a(broker):
        """Messages come out in the order they went in."""
        orders_name = f"orders-{uuid.uuid4().hex[:8]}"
        queue = Queue(orders_name, durable=False)
        broker.declare(queue)
        broker.publish(orders_name, b"1")
        assert broker.get(orders_name) == b"1"


    def test_b(broker):
        broker.declare(Queue("orders"))
        assert broker.size("orders") == 0
''')


@pytest.mark.parametrize("category", [Category.FIXTURE, Category.ORDER])
def test_a_resource_name_two_tests_write_becomes_the_tests_own(category: Category) -> None:
    found = _found({"tests/test_x.py": SHARED}, "name.unique", category)
    assert found == [UNIQUE]
    assert weakening("tests/test_x.py", SHARED, UNIQUE) is None
    assert _found({"tests/test_x.py": UNIQUE}, "name.unique", category) == []


def test_a_shared_literal_alone_is_no_proof_of_shared_state() -> None:
    for category in (Category.UNKNOWN, Category.ASYNC, Category.DATA):
        assert _found({"tests/test_x.py": SHARED}, "name.unique", category) == []


@pytest.mark.parametrize("change", [
    pytest.param(lambda s: s.replace(b'Queue("orders"))', b'Queue("billing"))'), id="no-other-test-uses-it"),
    pytest.param(lambda s: s + b'\n\n@pytest.fixture\ndef declared(broker):\n    broker.declare(Queue("orders"))\n',
                 id="a-fixture-declares-it-too"),
    pytest.param(lambda s: s.replace(b'broker.publish("orders"', b'broker.publish(f"orders"'), id="in-an-f-string"),
])  # fmt: skip
def test_no_unique_name(change: object) -> None:
    assert callable(change)
    assert _found({"tests/test_x.py": change(SHARED)}, "name.unique", Category.FIXTURE) == []


def test_each_is_proven_where_its_clash_shows() -> None:
    """A per-instance clash happens within one run (forked runs show it); a shared name shows in
    random order when a test leaves it behind, under xdist when tests use it at once."""
    files = {**TRACKER, "tests/test_x.py": PER_INSTANCE[0].values[0]}
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=files.get, project_files=tuple(files))
    assert [p.category for p in propose(ctx)[0] if p.remedy == "name.per-instance"] == [Category.RACE]
    for category in (Category.ORDER, Category.FIXTURE):
        ctx = Context(target=Target("tests/test_x.py", "test_a"), read={"tests/test_x.py": SHARED}.get,
                      project_files=("tests/test_x.py",), category=category)  # fmt: skip
        assert [p.category for p in propose(ctx)[0] if p.remedy == "name.unique"] == [category]
