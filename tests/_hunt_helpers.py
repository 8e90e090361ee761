"""A small project whose tests are flaky in every way a hunt tells apart, deterministically:
a polluter and its victim (module state), a counter that fails every second call, a test that
fails under xdist only, and a broken one."""

from __future__ import annotations

from tests._verify_helpers import LIGHT

HUNT_PROJECT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
    "tests/__init__.py": "",
    "tests/shared.py": "STATE = []\n",
    "tests/test_a_polluter.py": """
        from tests import shared


        def test_stable_one():
            pass


        def test_polluter():
            shared.STATE.append("leak")


        def test_stable_two():
            pass
    """,
    "tests/test_b_victim.py": """
        import os
        import pathlib

        from tests import shared

        COUNTER = pathlib.Path(__file__).with_name("counter.txt")


        def test_victim():
            assert not shared.STATE, "state leaked"


        def test_every_second_call_fails():
            count = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
            COUNTER.write_text(str(count))
            assert count % 2 == 1


        def test_not_under_xdist():
            assert "PYTEST_XDIST_WORKER" not in os.environ


        def test_broken():
            assert False, "always"
    """,
}

VICTIM = "tests/test_b_victim.py::test_victim"
POLLUTER = "tests/test_a_polluter.py::test_polluter"
#: With this seed the first shuffled run puts the victim before the polluter and the second after;
#: both xdist runs put it before the polluter, so no worker runs it after the polluter.
SEED = 13


def stable_project() -> dict[str, str]:
    return {
        "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
        "tests/test_ok.py": "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n",
    }


#: Hangs on its second call (with a child process of its own), after writing the pids to kill.
HANGS_ON_SECOND_CALL = '''
import os
import pathlib
import subprocess
import sys
import threading

HERE = pathlib.Path(__file__).parent


def test_hangs_the_second_time():
    calls = HERE / "calls.txt"
    count = int(calls.read_text()) + 1 if calls.exists() else 1
    calls.write_text(str(count))
    if count == 2:
        child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
        (HERE / "pids.txt").write_text("%d %d\\n" % (os.getpid(), child.pid))
        threading.Event().wait()
'''


#: A brittle test: it fails alone and passes only after the test that sets up what it needs.
#: ``--maxfail=1`` in the project's addopts must not end a pass at the broken test.
BRITTLE_PROJECT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT} --maxfail=1\n",
    "tests/__init__.py": "",
    "tests/shared.py": "CONFIG = {}\n",
    "tests/test_a_setup.py": """
        from tests import shared


        def test_broken():
            assert False, "always"


        def test_setter():
            shared.CONFIG["ready"] = True


        def test_after():
            pass
    """,
    "tests/test_b_brittle.py": """
        from tests import shared


        def test_brittle():
            assert shared.CONFIG.get("ready"), "nothing set it up"
    """,
}
BRITTLE = "tests/test_b_brittle.py::test_brittle"
SETTER = "tests/test_a_setup.py::test_setter"
#: With this seed the shuffled run puts the brittle test first, and so does the xdist run (so
#: the worker that gets it runs it first).
BRITTLE_SEED = 12


#: Hangs every time, with a child process of its own; appends the child's pid to pids.txt.
HANGS_EVERY_TIME = '''
import pathlib
import subprocess
import sys
import threading

HERE = pathlib.Path(__file__).parent


def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    with open(HERE / "pids.txt", "a") as pids:
        pids.write("%d\\n" % child.pid)
    threading.Event().wait()
'''

#: Ends pytest itself, whatever order it runs in: the tests that ran before it still count.
ENDS_PYTEST = '''
import os


def test_before():
    pass


def test_ends_pytest():
    os._exit(3)
'''


#: Three victims, two polluters (one of them pollutes two victims) and a bystander: pytest's
#: order runs the polluters first, so every victim fails serially and passes when shuffled
#: before them. One bisection finds all three culprits in shared runs.
MANY_VICTIMS_PROJECT = {
    "pytest.ini": f"[pytest]\naddopts = {LIGHT}\n",
    "tests/__init__.py": "",
    "tests/shared.py": "STATE = []\nCONFIG = {}\n",
    "tests/test_a_polluters.py": """
        from tests import shared


        def test_appends():
            shared.STATE.append("leak")


        def test_bystander():
            pass


        def test_configures():
            shared.CONFIG["mode"] = "fast"
    """,
    "tests/test_b_victims.py": """
        from tests import shared


        def test_state_victim():
            assert not shared.STATE, "state leaked"


        def test_state_victim_too():
            assert shared.STATE == [], "state leaked"


        def test_config_victim():
            assert "mode" not in shared.CONFIG
    """,
}
MANY_CULPRITS = {
    "tests/test_b_victims.py::test_state_victim": "tests/test_a_polluters.py::test_appends",
    "tests/test_b_victims.py::test_state_victim_too": "tests/test_a_polluters.py::test_appends",
    "tests/test_b_victims.py::test_config_victim": "tests/test_a_polluters.py::test_configures",
}
