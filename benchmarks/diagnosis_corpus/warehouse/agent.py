"""A tiny agent the tests talk to through a folder (corpus code)."""

import time
from pathlib import Path


class AgentTimeout(Exception):
    pass


class Agent:
    def __init__(self, folder, stuck=False):
        self.folder = Path(folder)
        self.stuck = stuck

    def ping(self, timeout):
        if self.stuck:
            raise AgentTimeout(timeout)
        return "pong"


class Recorder:
    """Measures how long the code in its block awaited (corpus code)."""

    awaited = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
