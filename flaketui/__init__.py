"""flaketui: find, explain, verify and remove flaky pytest markers."""

__version__ = "0.1.0"
