"""await.dropped: a coroutine test that calls a coroutine function without await gets the await,
and only where the call is known to make an awaitable on an object the test itself holds."""

from __future__ import annotations

import textwrap

import pytest
from flaketui.models import Category
from flaketui.remedies import Context, Target, propose


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


BUFFER = src('''
    class Buffer:
        def __init__(self, sink):
            self.sink = sink
            self.pending = []

        def push(self, item):
            self.pending.append(item)

        async def drain(self):
            self.sink.items.extend(self.pending)

        async def replay(self):
            for item in self.pending:
                yield item


    class Mirror:
        def push(self, item):
            pass

        def drain(self):
            """Copy what was pushed. Returns an awaitable when an event loop runs, else None."""

        def close(self):
            """Close the mirror."""


    class Echo:
        def drain(self):
            pass
''')


def _run(test: bytes) -> list[str | bytes]:
    files = {"src/relay/buffer.py": BUFFER, "src/relay/__init__.py": b"", "tests/test_x.py": test}
    owner = "TestMirror" if b"class TestMirror" in test else None
    ctx = Context(target=Target("tests/test_x.py", "test_a", owner), read=files.get, project_files=tuple(files),
                  category=Category.ASYNC)  # fmt: skip
    proposals, _ = propose(ctx)
    return [p.remedy for p in proposals] + [p.edits[0].after for p in proposals[:1]]


GOLDEN = [
    pytest.param(src("""
        from relay.buffer import Buffer


        async def test_a(sink):
            buffer = Buffer(sink)
            buffer.push("a")
            buffer.drain()
            assert sink.items == ["a"]
    """), src("""
        from relay.buffer import Buffer


        async def test_a(sink):
            buffer = Buffer(sink)
            buffer.push("a")
            await buffer.drain()
            assert sink.items == ["a"]
    """), id="an-async-method-called-on-an-instance-the-test-makes"),
    pytest.param(src("""
        import pytest
        from relay.buffer import Mirror


        class TestMirror:
            @pytest.fixture
            def mirror(self):
                yield Mirror()

            async def test_a(self, mirror, store):
                mirror.push("a")
                mirror.drain()
                mirror.close()
                assert await store.count() == 1
    """), src("""
        import pytest
        from relay.buffer import Mirror


        class TestMirror:
            @pytest.fixture
            def mirror(self):
                yield Mirror()

            async def test_a(self, mirror, store):
                mirror.push("a")
                await mirror.drain()
                mirror.close()
                assert await store.count() == 1
    """), id="a-method-documented-to-return-an-awaitable-on-a-fixtures-instance"),
    pytest.param(src("""
        import asyncio


        async def test_a(ticker):
            ticker.start()
            asyncio.sleep(0.5)
            assert ticker.ticks > 0
    """), src("""
        import asyncio


        async def test_a(ticker):
            ticker.start()
            await asyncio.sleep(0.5)
            assert ticker.ticks > 0
    """), id="a-sleep-never-awaited-waits-for-nothing"),
]


@pytest.mark.parametrize(("before", "expected"), GOLDEN)
def test_golden(before: bytes, expected: bytes) -> None:
    found = _run(before)
    assert found[0] == "await.dropped", found[:-1]
    assert found[-1] == expected
    assert "await.dropped" not in _run(expected)  # idempotent


NOOPS = [
    pytest.param(src("""
        from relay.buffer import Buffer


        def test_a(sink):
            buffer = Buffer(sink)
            buffer.drain()
    """), id="a-sync-test-has-no-loop-to-await-on"),
    pytest.param(src("""
        from relay.buffer import Buffer, Echo


        async def test_b(sink):
            handler = Buffer(sink)
            await handler.drain()


        async def test_a(sink):
            handler = Echo()
            handler.drain()
            assert sink.items == []
    """), id="another-tests-object-of-the-same-name-is-not-this-ones"),
    pytest.param(src("""
        from relay.buffer import Buffer


        async def test_a(sink):
            buffer = Buffer(sink)
            buffer.replay()
    """), id="an-async-generator-is-iterated-not-awaited"),
    pytest.param(src("""
        from relay.buffer import Buffer


        async def test_a(sink):
            buffer = Buffer(sink)
            pending = buffer.drain()
            await pending
    """), id="a-coroutine-the-test-keeps"),
    pytest.param(src("""
        from relay.buffer import Mirror


        async def test_a(store):
            mirror = Mirror()
            mirror.close()
            assert await store.count() == 0
    """), id="a-plain-method-of-the-same-class"),
]


@pytest.mark.parametrize("before", NOOPS)
def test_no_await(before: bytes) -> None:
    assert "await.dropped" not in _run(before)
