"""Golden before/after for ``wait.listening`` (a fixed sleep while a server starts, followed by a
request to it, becomes a wait until the port accepts a connection) and where it must not fire."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flaketui.models import Category
from flaketui.remedies import Context, Target, propose
from flaketui.remedies.guard import weakening


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _listening(source: bytes, category: Category = Category.ASYNC) -> list[bytes]:
    files = {"tests/test_x.py": source}
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=files.get, project_files=tuple(files),
                  category=category)  # fmt: skip
    return [p.edits[0].after for p in propose(ctx)[0] if p.remedy == "wait.listening"]


SERVED = src("""
    import time

    import requests

    from app import serve


    def test_a(port):
        counts = []

        def handler(event):
            counts.append(1)
            time.sleep(0.5)

        serve(handler, port=port, threaded=True)

        # Wait for the server to start
        time.sleep(1)

        response = requests.get(f"http://localhost:{port}/")
        assert response.status_code == 200
""")

SERVED_POLLED = src("""
    import time

    import requests

    from app import serve
    import socket


    def _accepts_connections(host, port):
        \"\"\"Whether a server listens on (host, port) yet.\"\"\"
        with socket.socket() as probe:
            return probe.connect_ex((host, port)) == 0


    def test_a(port):
        counts = []

        def handler(event):
            counts.append(1)
            time.sleep(0.5)

        serve(handler, port=port, threaded=True)

        # Wait for the server to start
        deadline = time.monotonic() + 10
        while not _accepts_connections('localhost', port) and time.monotonic() < deadline:
            time.sleep(0.05)

        response = requests.get(f"http://localhost:{port}/")
        assert response.status_code == 200
""")


def test_the_sleep_before_the_first_request_waits_for_the_port() -> None:
    found = _listening(SERVED)
    assert found == [SERVED_POLLED]
    assert weakening("tests/test_x.py", SERVED, found[0]) is None
    assert _listening(found[0]) == []  # nothing left to change


def test_a_socket_connection_after_a_sleep_imported_from_time() -> None:
    source = src("""
        import socket
        import threading
        from time import sleep


        def test_a(server_port):
            threading.Thread(target=run_server, args=(server_port,), daemon=True).start()
            sleep(0.5)
            with socket.create_connection(("127.0.0.1", server_port)) as conn:
                assert conn.recv(5) == b"hello"
    """)
    found = _listening(source)
    assert len(found) == 1
    assert b"while not _accepts_connections('127.0.0.1', server_port) and " in found[0]
    assert b"    sleep(0.05)\n" in found[0] and b"sleep(0.5)" not in found[0]
    assert b'with socket.create_connection(("127.0.0.1", server_port)) as conn:' in found[0]


NOT_A_SERVER_START = [
    # the sleep is not followed by a request to this machine
    src("""
        import time

        def test_a(port):
            serve(port=port)
            time.sleep(1)
            assert counter.value == 1
    """),
    # a request to another host: no local server to wait for
    src("""
        import time
        import requests

        def test_a(port):
            serve(port=port)
            time.sleep(1)
            requests.get(f"http://example.org:{port}/")
    """),
    # nothing before the sleep was given the port: the sleep may wait for something else
    src("""
        import time
        import requests

        def test_a(port):
            time.sleep(1)
            requests.get(f"http://localhost:{port}/")
    """),
    # a coroutine's blocking sleep is another remedy's
    src("""
        import time

        async def test_a(port, client):
            await start(port=port)
            time.sleep(1)
            await client.get(f"http://localhost:{port}/")
    """),
]


@pytest.mark.parametrize("source", NOT_A_SERVER_START)
def test_no_proposal_without_a_server_started_and_then_asked(source: bytes) -> None:
    assert _listening(source) == []


def test_not_for_a_cause_it_does_not_cure() -> None:
    assert _listening(SERVED, Category.DATA) == []
    assert _listening(SERVED, Category.TIME) == []


def test_the_helper_name_taken_declines() -> None:
    taken = SERVED.replace(b"import requests\n", b"import requests\nfrom probes import _accepts_connections\n")
    files = {"tests/test_x.py": taken}
    ctx = Context(target=Target("tests/test_x.py", "test_a"), read=files.get, project_files=tuple(files),
                  category=Category.ASYNC)  # fmt: skip
    found, declined = propose(ctx)
    assert not [p for p in found if p.remedy == "wait.listening"]
    assert any(d.remedy == "wait.listening" and "_accepts_connections" in d.reason for d in declined)



def _second(first: bytes, name: str = "test_b") -> bytes:
    """The module with a second test in the shape of SERVED's, after the first."""
    test = SERVED[SERVED.index(b"def test_a"):].replace(b"def test_a", f"def {name}".encode())
    return first + b"\n\n" + test


def _listening_in(source: bytes, name: str) -> tuple[list[bytes], list[str]]:
    files = {"tests/test_x.py": source}
    ctx = Context(target=Target("tests/test_x.py", name), read=files.get, project_files=tuple(files),
                  category=Category.ASYNC)  # fmt: skip
    found, declined = propose(ctx)
    return ([p.edits[0].after for p in found if p.remedy == "wait.listening"],
            [d.reason for d in declined if d.remedy == "wait.listening"])  # fmt: skip


def test_a_second_test_reuses_the_helper_the_first_fix_wrote() -> None:
    found, declined = _listening_in(_second(SERVED_POLLED), "test_b")
    assert declined == [] and len(found) == 1
    assert found[0].count(b"def _accepts_connections(") == 1
    polled = SERVED_POLLED[SERVED_POLLED.index(b"def test_a"):].replace(b"def test_a", b"def test_b")
    assert found[0] == SERVED_POLLED + b"\n\n" + polled
    assert weakening("tests/test_x.py", _second(SERVED_POLLED), found[0]) is None


def test_a_foreign_function_of_the_helpers_name_declines() -> None:
    foreign = SERVED_POLLED.replace(b"return probe.connect_ex((host, port)) == 0", b"return probe.connect_ex((host, port + 1)) == 0")
    assert foreign != SERVED_POLLED
    found, declined = _listening_in(_second(foreign), "test_b")
    assert found == [] and any("_accepts_connections" in reason for reason in declined)


SERVER_APP = '''
import http.server
import threading


def serve(port, ready_after):
    """Start a server on ``port`` once ``ready_after`` (an Event) is set, in a thread."""

    def run():
        ready_after.wait()
        server = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
        server.serve_forever()

    threading.Thread(target=run, daemon=True).start()
'''

SLOW_START_TEST = '''
import socket
import threading
import time
import urllib.request

from app import serve


def test_a(port):
    starts = threading.Event()
    serve(port, starts)
    threading.Timer(0, starts.set).start()  # the server starts when the machine gets to it
    time.sleep(0)
    urllib.request.urlopen(f"http://localhost:{port}/", timeout=10).close()
'''


def test_the_polled_test_waits_for_a_server_that_starts_late(tmp_path: Path) -> None:
    """The proposal runs: with no time at all to start, the original request is refused every
    time the server thread has not bound yet; the polled test connects once it has."""
    source = SLOW_START_TEST.lstrip().encode()
    found = _listening(source)
    assert len(found) == 1
    (tmp_path / "app.py").write_text(SERVER_APP)
    (tmp_path / "conftest.py").write_text(
        "import socket\nimport pytest\n\n@pytest.fixture\ndef port():\n"
        "    with socket.socket() as s:\n        s.bind(('127.0.0.1', 0))\n        return s.getsockname()[1]\n"
    )
    (tmp_path / "test_x.py").write_bytes(found[0])
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
                         check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
