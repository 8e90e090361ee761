"""Shared fixtures of the corpus project (a made-up web service with a worker and a UI)."""

import os
import threading
import queue

import pytest

from shop import config as shop_config
from shop.worker import Worker


@pytest.fixture(scope="module")
def app_config():
    return {"currency": "EUR", "feature_flags": {"new_checkout": False}, "retries": 3}


@pytest.fixture
def jobs():
    q = queue.Queue()
    worker = Worker(q)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield q
    worker.stop()


@pytest.fixture
def project_dir(tmp_path):
    os.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(monkeypatch):
    monkeypatch.setattr(shop_config, "DEBUG", True)
    return shop_config


@pytest.fixture(autouse=True)
def _quiet_logs(caplog):
    caplog.set_level("WARNING")


@pytest.fixture
def sampling_profiler():
    from pyinstrument import Profiler

    return Profiler(interval=0.001)
