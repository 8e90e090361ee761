"""Starting the warehouse's own agent in a child process, for the corpus's subprocess cases."""

import socket
import subprocess


def free_port():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("", 0))  # the system picks; another process may take it later
        return listener.getsockname()[1]
    finally:
        listener.close()


def start_agent(command, cwd=None, env=None):
    """Start command in a child. Its pipes are not thread-safe: read them from one thread."""
    return subprocess.Popen(command, cwd=cwd, env=env)
