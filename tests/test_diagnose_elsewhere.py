"""State a test reads that a test of another module leaves changed (``diagnose/elsewhere``): the
polluter is named with the line of its unrestored write; restored writes, and state the test
does not read, name nobody."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaketui.diagnose import Diagnoser
from flaketui.models import Category, Diagnosis

from tests._diagnose_helpers import diagnose_files, make_test, source

UNITS = """
    import os

    SYSTEM = "metric"
    RATES = {"km": 1.0}


    def distance(km):
        return f"{km} km" if SYSTEM == "metric" else f"{km * 0.621371:.1f} mi"


    def rate(unit):
        return RATES.get(unit, 0.0)


    def label():
        return "distance"


    def from_environment():
        return os.environ.get("UNITS", "metric")
"""
VICTIM = """
    import units


    def test_kilometres():
        assert units.distance(10) == "10 km"
"""


def _diagnose(tmp_path: Path, polluter: str, victim: str = VICTIM, extra: dict[str, str] | None = None) -> Diagnosis:
    files = {"src/units.py": UNITS, "tests/test_metric.py": victim, "tests/test_imperial.py": polluter, **(extra or {})}
    return diagnose_files(tmp_path, files, "tests/test_metric.py", "test_kilometres")


def _claims(diagnosis: Diagnosis) -> set[tuple[str, int, str]]:
    return {(e.fix_path, e.fix_line, e.message.split(":")[0]) for e in diagnosis.evidence if e.rule == "order.shared-state-read"}


POSITIVE = [
    pytest.param("""
        import units


        def test_miles():
            units.SYSTEM = "imperial"
            assert units.distance(10) == "6.2 mi"
    """, VICTIM, 5, "units.SYSTEM, changed by test_miles in tests/test_imperial.py (line 5)", id="module-attribute"),
    pytest.param("""
        import units


        class TestImperial:
            def test_miles(self):
                units.SYSTEM = "imperial"
    """, VICTIM, 6, "units.SYSTEM, changed by TestImperial.test_miles in tests/test_imperial.py (line 6)", id="a-method"),
    pytest.param("""
        from units import RATES


        def test_miles_rate():
            RATES["km"] = 0.62
    """, VICTIM.replace("units.distance(10) == \"10 km\"", "units.rate(\"km\") == 1.0"), 5,
        "units.RATES, changed by test_miles_rate in tests/test_imperial.py (line 5)", id="module-dict-filled"),
    pytest.param("""
        import os


        def test_imperial_from_environment():
            os.environ["UNITS"] = "imperial"
    """, VICTIM.replace("units.distance(10) == \"10 km\"", "units.from_environment() == \"metric\""), 5,
        "os.environ.UNITS, changed by test_imperial_from_environment in tests/test_imperial.py (line 5)", id="environment"),
    pytest.param("""
        import units


        def test_switch():
            units.SYSTEM = "imperial"
    """, "import units\n\n\ndef test_kilometres():\n    assert units.SYSTEM == \"metric\"\n", 5,
        "units.SYSTEM, changed by test_switch in tests/test_imperial.py (line 5)", id="read-in-the-test"),
]


@pytest.mark.parametrize(("polluter", "victim", "line", "claim"), POSITIVE)
def test_a_polluter_in_another_module_is_named_with_its_line(tmp_path: Path, polluter: str, victim: str, line: int,
                                                             claim: str) -> None:  # fmt: skip
    diagnosis = _diagnose(tmp_path, polluter, victim)
    assert _claims(diagnosis) == {("tests/test_imperial.py", line, claim)}
    assert diagnosis.suggestion.category is Category.ORDER
    assert diagnosis.fix_at == ("tests/test_imperial.py", line)


def test_a_settings_object_changed_elsewhere_and_read_by_the_code_called(tmp_path: Path) -> None:
    files = {
        "src/app/__init__.py": "",
        "src/app/config.py": "class Settings:\n    debug = False\n\n\nsettings = Settings()\n",
        "src/app/pages.py": "from app.config import settings\n\n\ndef banner():\n    return 'DEBUG' if settings.debug else ''\n",
        "tests/test_pages.py": "from app import pages\n\n\ndef test_no_banner():\n    assert pages.banner() == ''\n",
        "tests/test_debug.py": "from app.config import settings\n\n\ndef test_debug_banner():\n    settings.debug = True\n",
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/test_pages.py", "test_no_banner")
    assert _claims(diagnosis) == {
        ("tests/test_debug.py", 5, "app.config.settings.debug, changed by test_debug_banner in tests/test_debug.py (line 5)")
    }


NEGATIVE = [
    pytest.param("""
        import units


        def test_miles(monkeypatch):
            monkeypatch.setattr(units, "SYSTEM", "imperial")
    """, VICTIM, id="monkeypatch"),
    pytest.param("""
        import units


        def test_miles():
            units.SYSTEM = "imperial"
            try:
                assert units.distance(10) == "6.2 mi"
            finally:
                units.SYSTEM = "metric"
    """, VICTIM, id="try-finally"),
    pytest.param("""
        import pytest

        import units


        @pytest.fixture
        def imperial():
            yield
            units.SYSTEM = "metric"


        def test_miles(imperial):
            units.SYSTEM = "imperial"
    """, VICTIM, id="fixture-teardown"),
    pytest.param("""
        import units


        def test_miles(request):
            request.addfinalizer(lambda: setattr(units, "SYSTEM", "metric"))
            units.SYSTEM = "imperial"
    """, VICTIM, id="addfinalizer"),
    pytest.param("""
        from unittest import mock

        import units


        def test_miles():
            with mock.patch.object(units, "SYSTEM", "metric"):
                units.SYSTEM = "imperial"
    """, VICTIM, id="mock-patch"),
    pytest.param("""
        import unittest

        import units


        class ImperialTest(unittest.TestCase):
            def tearDown(self):
                units.SYSTEM = "metric"

            def test_miles(self):
                units.SYSTEM = "imperial"
    """, VICTIM, id="teardown-method"),
    pytest.param("""
        import units


        def test_miles():
            units.SYSTEM = "imperial"
    """, VICTIM.replace("units.distance(10) == \"10 km\"", "units.label() == \"distance\""), id="not-read"),
    pytest.param("""
        import units


        def test_miles():
            units.SYSTEM = "imperial"
    """, "import units\n\n\ndef test_kilometres(monkeypatch):\n    monkeypatch.setattr(units, 'SYSTEM', 'metric')\n"
         "    assert units.distance(10) == '10 km'\n", id="sets-its-own"),
    pytest.param("""
        import os


        def test_other_variable():
            os.environ["UNITS_PRECISION"] = "2"
    """, VICTIM.replace("units.distance(10) == \"10 km\"", "units.from_environment() == \"metric\""), id="other-variable"),
    pytest.param("""
        import units


        def helper_not_a_test():
            units.SYSTEM = "imperial"
    """, VICTIM, id="not-a-test"),
]


@pytest.mark.parametrize(("polluter", "victim"), NEGATIVE)
def test_restored_or_unread_state_names_no_polluter(tmp_path: Path, polluter: str, victim: str) -> None:
    diagnosis = _diagnose(tmp_path, polluter, victim)
    assert _claims(diagnosis) == set()
    assert diagnosis.suggestion.category is Category.UNKNOWN


def test_a_name_bound_at_import_is_not_changed_by_a_rebinding(tmp_path: Path) -> None:
    # report.py took SYSTEM's value when it was imported: assigning units.SYSTEM later changes nothing it reads.
    extra = {"src/report.py": "from units import SYSTEM\n\n\ndef header():\n    return SYSTEM.upper()\n"}
    victim = "import report\n\n\ndef test_kilometres():\n    assert report.header() == 'METRIC'\n"
    polluter = "import units\n\n\ndef test_miles():\n    units.SYSTEM = 'imperial'\n"
    assert _claims(_diagnose(tmp_path, source(polluter), victim, extra)) == set()


def test_only_the_modules_that_write_a_name_read_are_parsed(tmp_path: Path) -> None:
    quiet = "".join(f"\n\ndef test_plain_{n}():\n    values = {{}}\n    values['a'] = {n}\n" for n in range(3))
    files = {"tests/test_quiet.py": quiet, "tests/deep/test_more_quiet.py": quiet}
    polluter = "import units\n\n\ndef test_miles():\n    units.SYSTEM = 'imperial'\n"
    _diagnose(tmp_path, polluter, extra=files)
    diagnoser = Diagnoser(tmp_path)
    diagnoser.diagnose(make_test("tests/test_metric.py", "test_kilometres"))
    parsed = {path for path, facts in diagnoser._modules.items() if facts is not None and path.startswith("tests/")}
    assert parsed == {"tests/test_metric.py", "tests/test_imperial.py"}
    assert diagnoser.writes_index(".").files({"SYSTEM"}) == ["tests/test_imperial.py"]


def test_a_cached_diagnosis_sees_a_polluter_added_and_one_fixed(tmp_path: Path) -> None:
    cache = tmp_path / "cache.jsonl"
    files = {"src/units.py": UNITS, "tests/test_metric.py": VICTIM}
    diagnose_files(tmp_path, files, "tests/test_metric.py", "test_kilometres")
    [first] = Diagnoser(tmp_path, cache_path=cache).diagnose_many([make_test("tests/test_metric.py", "test_kilometres")])
    assert first.suggestion.category is Category.UNKNOWN
    assert cache.read_text().count("<writers>") == 1  # the entry depends on who writes SYSTEM
    polluter = tmp_path / "tests" / "test_imperial.py"
    polluter.write_text("import units\n\n\ndef test_miles():\n    units.SYSTEM = 'imperial'\n")
    [second] = Diagnoser(tmp_path, cache_path=cache).diagnose_many([make_test("tests/test_metric.py", "test_kilometres")])
    assert second.suggestion.category is Category.ORDER
    polluter.write_text("import units\n\n\ndef test_miles(monkeypatch):\n    monkeypatch.setattr(units, 'SYSTEM', 'imperial')\n")
    [third] = Diagnoser(tmp_path, cache_path=cache).diagnose_many([make_test("tests/test_metric.py", "test_kilometres")])
    assert third.suggestion.category is Category.UNKNOWN


@pytest.mark.parametrize(("line", "words"), [
    ("    units.SYSTEM = 'imperial'\n", {"units", "SYSTEM"}),
    ("    units.RATES['km'] += 1\n", {"units", "RATES"}),
    ("    REGISTRY.append(handler)\n", {"REGISTRY"}),
    ("    os.environ['UNITS'] = 'imperial'\n", {"os", "environ"}),
    ("    del settings.flags[0]\n", {"settings", "flags"}),
    ("    os.putenv('UNITS', 'x')\n", {"environ"}),
    ("    self.value = 3\n", set()),
    ("    value = units.SYSTEM\n", set()),
    ("    assert units.SYSTEM == 'metric'\n", set()),
])
def test_the_index_keeps_the_names_a_line_writes_through(tmp_path: Path, line: str, words: set[str]) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_w.py").write_text(f"def test_w():\n{line}")
    (tmp_path / "tests" / "helpers.py").write_text(f"def helper():\n{line}")  # not a test module: not indexed
    index = Diagnoser(tmp_path).writes_index(".")
    assert set(index.words) == words
    assert all(paths == {"tests/test_w.py"} for paths in index.words.values())


def test_a_test_that_sets_the_variable_it_reads_has_no_polluter(tmp_path: Path) -> None:
    victim = "import os\n\nimport units\n\n\ndef test_kilometres():\n    os.environ['UNITS'] = 'metric'\n" \
             "    assert units.from_environment() == 'metric'\n"
    polluter = "import os\n\n\ndef test_miles():\n    os.environ['UNITS'] = 'imperial'\n"
    assert _claims(_diagnose(tmp_path, polluter, victim)) == set()


def test_an_object_read_whole_is_not_claimed_for_an_attribute_written_elsewhere(tmp_path: Path) -> None:
    # A session singleton: the test reads its `busy` flag; another module fills its `_documents`.
    files = {
        "src/session.py": "class _State:\n    busy = False\n    _documents = {}\n\n\nstate = _State()\n",
        "tests/test_busy.py": "from session import state\n\n\ndef test_idle():\n    assert not state.busy\n",
        "tests/test_docs.py": "from session import state\n\n\ndef test_open(tmp_path):\n    state._documents[tmp_path] = 1\n",
    }
    diagnosis = diagnose_files(tmp_path, files, "tests/test_busy.py", "test_idle")
    assert _claims(diagnosis) == set()
    files["tests/test_docs.py"] = "from session import state\n\n\ndef test_busy_flag():\n    state.busy = True\n"
    diagnosis = diagnose_files(tmp_path, files, "tests/test_busy.py", "test_idle")
    assert _claims(diagnosis) == {
        ("tests/test_docs.py", 5, "session.state.busy, changed by test_busy_flag in tests/test_docs.py (line 5)")
    }


def test_a_configuration_setter_elsewhere_is_not_claimed(tmp_path: Path) -> None:
    # CONF.set names its section and key in arguments: which of them the test reads is not known.
    files = {
        "src/conf.py": "class Config(dict):\n    def set(self, section, key, value):\n        self[section, key] = value\n\n\n"
                       "CONF = Config()\n",
        "tests/test_keys.py": "from conf import CONF\n\n\ndef test_shortcuts():\n    assert not CONF.items()\n",
        "tests/test_gl.py": "from conf import CONF\n\n\ndef test_gl():\n    CONF.set('main', 'opengl', 'automatic')\n",
    }
    assert _claims(diagnose_files(tmp_path, files, "tests/test_keys.py", "test_shortcuts")) == set()
    files["tests/test_gl.py"] = "from conf import CONF\n\n\ndef test_gl():\n    CONF.update({('main', 'opengl'): 'x'})\n"
    assert len(_claims(diagnose_files(tmp_path, files, "tests/test_keys.py", "test_shortcuts"))) == 1


@pytest.mark.parametrize("polluter", [
    "import os\n\n\ndef test_no_variable():\n    saved = os.environ.pop('UNITS', None)\n    assert True\n"
    "    if saved is not None:\n        os.environ['UNITS'] = saved\n",
    "import units\n\n\ndef test_miles():\n    old = units.SYSTEM\n    units.SYSTEM = 'imperial'\n    assert True\n"
    "    units.SYSTEM = old\n",
])
def test_a_value_saved_and_put_back_by_hand_names_no_polluter(tmp_path: Path, polluter: str) -> None:
    victim = VICTIM.replace("units.distance(10) == \"10 km\"", "units.from_environment() == units.distance(1)[:0] + 'metric'")
    assert _claims(_diagnose(tmp_path, polluter, victim)) == set()
    if "old" in polluter:  # without the line that puts it back, the same test is named
        assert len(_claims(_diagnose(tmp_path, polluter.rsplit("\n    ", 1)[0] + "\n", victim))) == 1
