"""Calls followed from a test into the project's own code, and the line the fix must change."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from flaketui.models import Category
from flaketui.diagnose import Diagnoser
from tests._diagnose_helpers import diagnose_files, make_test

POOL = """
    import threading


    class Pool:
        def __init__(self):
            self.done = 0

        def start(self):
            threading.Thread(target=self._work, daemon=True).start()
            return self

        def drain(self, timeout=1.0):
            \"\"\"Wait until nothing is queued. A task a worker took may still be running when this
            returns: use ``wait_done`` to wait for it.\"\"\"

        def wait_done(self, timeout=5.0):
            \"\"\"Wait until every task has finished.\"\"\"

        def _work(self):
            pass
    """


POOL_PROJECT = {
    "src/jobs/__init__.py": "from jobs.pool import Pool\n",
    "src/jobs/pool.py": POOL,
    "tests/test_pool.py": """
        from jobs import Pool

        def test_it():
            pool = Pool().start()
            pool.drain()
            assert pool.done == 3
        """,
}


def test_a_warning_in_the_docstring_of_called_code_points_at_the_call(tmp_path: Path) -> None:
    files = POOL_PROJECT
    diagnosis = diagnose_files(tmp_path, files, "tests/test_pool.py", "test_it")
    assert diagnosis.suggestion.category is Category.RACE
    top = diagnosis.evidence[0]
    assert (top.rule, top.path, top.line) == ("race.warning-docstring", "src/jobs/pool.py", 13)
    assert "may still be running" in top.message and "wait_done()" in top.fix
    assert diagnosis.fix_at == ("tests/test_pool.py", 5)


COUNTER = """
    import threading


    class Counter:
        def __init__(self):
            self.value = 0
            self._lock = threading.Lock()

        def increment(self):
            {body}
    """


def _counter_test(tmp_path: Path, body: str):
    files = {
        "app/__init__.py": "",
        "app/counter.py": COUNTER.replace("{body}", body),
        "test_counter.py": """
            import threading

            from app.counter import Counter

            def test_it():
                counter = Counter()
                threads = [threading.Thread(target=counter.increment) for _ in range(8)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert counter.value == 8
            """,
    }
    return diagnose_files(tmp_path, files, "test_counter.py", "test_it")


def test_an_unlocked_update_in_called_code_under_threads_is_the_line_to_change(tmp_path: Path) -> None:
    diagnosis = _counter_test(tmp_path, "self.value += 1")
    assert diagnosis.suggestion.category is Category.RACE
    assert diagnosis.fix_at == ("app/counter.py", 10)
    assert diagnosis.evidence[0].rule == "race.unlocked-update"


def test_an_update_under_the_lock_is_the_cure_not_the_cause(tmp_path: Path) -> None:
    diagnosis = _counter_test(tmp_path, "with self._lock:\n                self.value += 1")
    assert "race.unlocked-update" not in {e.rule for e in diagnosis.evidence}
    assert diagnosis.suggestion.category is Category.UNKNOWN


def test_a_network_call_behind_a_client_of_the_project_is_found_with_no_url_in_sight(tmp_path: Path) -> None:
    files = {
        "stars/__init__.py": "",
        "stars/client.py": """
            import requests

            API = "https://api.github.com"


            class Stars:
                def __init__(self):
                    self.session = requests.Session()

                def count(self, repo):
                    return self._get(f"{API}/repos/{repo}")["stargazers_count"]

                def _get(self, url):
                    return self.session.get(url, timeout=10).json()
            """,
        "tests/test_stars.py": """
            from stars.client import Stars

            def test_it():
                assert Stars().count("python/cpython") > 1000
            """,
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/test_stars.py", "test_it")
    assert diagnosis.suggestion.category is Category.EXTERNAL
    assert {(e.rule, e.path) for e in diagnosis.evidence} >= {("external.http", "stars/client.py")}
    assert diagnosis.fix_at == ("tests/test_stars.py", 4)


def test_a_client_pointed_at_a_local_server_is_not_the_network(tmp_path: Path) -> None:
    files = {
        "hooks.py": """
            import urllib.request


            class Client:
                def __init__(self, url):
                    self.url = url

                def send(self):
                    return urllib.request.urlopen(self.url, timeout=5).status
            """,
        "test_hooks.py": """
            from hooks import Client

            def test_it(receiver):
                client = Client(receiver.url)
                assert client.send() == 204
            """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_hooks.py", "test_it")
    assert diagnosis.suggestion.category is Category.UNKNOWN


def test_installed_packages_are_not_read(tmp_path: Path) -> None:
    files = {
        ".venv/lib/python3.11/site-packages/slowlib/__init__.py": "import requests\ndef fetch():\n    return requests.get('https://x.org')\n",
        "test_lib.py": """
            import slowlib

            def test_it():
                assert slowlib.fetch()
            """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_lib.py", "test_it")
    assert not [e for e in diagnosis.evidence if e.path.startswith(".venv")]


def test_an_order_dependent_test_names_the_polluting_line(tmp_path: Path) -> None:
    files = {
        "test_cart.py": """
            ITEMS = []


            def test_add():
                ITEMS.append("apple")
                assert ITEMS


            def test_empty_at_start():
                assert ITEMS == []
            """,
    }
    diagnosis = diagnose_files(tmp_path, files, "test_cart.py", "test_empty_at_start")
    assert diagnosis.suggestion.category is Category.ORDER
    assert diagnosis.fix_at == ("test_cart.py", 5)


def test_the_cache_is_keyed_by_the_code_under_test_it_read(tmp_path: Path) -> None:
    files = POOL_PROJECT
    cache = tmp_path / "cache.json"
    first = diagnose_files(tmp_path, files, "tests/test_pool.py", "test_it", cache=cache)
    assert first.suggestion.category is Category.RACE
    pool = tmp_path / "src" / "jobs" / "pool.py"
    pool.write_text(pool.read_text().replace("may still be running", "has finished"))
    again = Diagnoser(tmp_path, cache_path=cache).diagnose(make_test("tests/test_pool.py", "test_it"))
    assert again.suggestion.category is Category.UNKNOWN


def test_a_diagnoser_is_freed_as_soon_as_it_is_dropped(tmp_path: Path) -> None:
    # The app builds a Diagnoser per file's batch; one kept alive by a reference cycle (its
    # Project pointing back at it) holds every parsed module until a full collection, which
    # a diagnosis of a thousand tests can pass forty times over.
    diagnose_files(tmp_path, POOL_PROJECT, "tests/test_pool.py", "test_it")
    diagnoser = Diagnoser(tmp_path)
    collecting = gc.isenabled()
    gc.disable()
    try:
        found = diagnoser.diagnose(make_test("tests/test_pool.py", "test_it"))
        assert diagnoser._projects, "the test must follow a call into the project"
        freed = weakref.ref(diagnoser)
        del diagnoser
        assert freed() is None
    finally:
        if collecting:
            gc.enable()
    assert found.suggestion.category is Category.RACE
