"""Starting the warehouse's own agent in a child process, for the corpus's subprocess cases."""

import socket
import subprocess


def free_port():
    """A port nobody listens on right now (another process may take it later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_agent(argv, **options):
    """Start argv in a child. Reading its pipes from two threads at once is not thread-safe."""
    return subprocess.Popen(argv, **options)
