"""Shapes seen in the flaky tests of real projects: deadlines written with a project's own
clock, fixtures that put state back, chaos that needs its randomness, comments that say why,
timing tolerances, markers limited to one platform."""

import asyncio
import os
import random
import sys
import time

import pytest

from shop import settings
from shop.cluster import Cluster, wait_for
from shop.metrics import time as clock

MACOS = sys.platform == "darwin"


@pytest.fixture(autouse=True)
def reset_feature_flags():
    saved = dict(settings.FLAGS)
    settings.FLAGS.clear()
    yield
    settings.FLAGS.clear()
    settings.FLAGS.update(saved)


@pytest.fixture
def production_mode():
    previous = settings.MODE
    settings.MODE = "production"
    os.environ["SHOP_MODE"] = "production"
    yield
    settings.MODE = previous
    del os.environ["SHOP_MODE"]


@pytest.mark.flaky(reruns=3)
async def test_workers_join_the_cluster(cluster):
    start = clock()
    while len(cluster.workers) < 4:
        await asyncio.sleep(0.01)
        assert clock() < start + 20
    assert cluster.status == "running"


@pytest.mark.flaky(reruns=2)
def test_checkout_banner_in_production(production_mode):
    assert settings.banner() == "Welcome"


@pytest.mark.flaky(reruns=3)
def test_chaos_workers_killed_at_random_moments(cluster):
    for _ in range(5):
        time.sleep(random.uniform(0, 0.5))
        random.choice(cluster.workers).kill()
    assert wait_for(lambda: len(cluster.workers) == 4, timeout=60)


@pytest.mark.flaky(reruns=2)
def test_upload_round_trips_random_bytes(storage):
    blob = os.urandom(64 * 1024)
    key = storage.put(blob)
    assert storage.get(key) == blob


# The heartbeat from the new worker sometimes arrives after we look: the scheduler has not
# registered it yet. A race between registration and the first status request.
@pytest.mark.flaky(reruns=3)
def test_new_worker_is_listed(cluster):
    cluster.add_worker("w-9")
    assert "w-9" in cluster.status_report()


# flaky on CI, hopefully the one we don't have
@pytest.mark.flaky(reruns=3)
def test_report_has_every_section(cluster):
    report = cluster.full_report()
    assert set(report) == {"workers", "tasks", "memory"}


@pytest.mark.flaky(reruns=3)
def test_periodic_callback_rate(cluster):
    calls = []
    cluster.every(0.01, lambda: calls.append(1))
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    cluster.stop_callbacks()
    assert 20 <= len(calls) <= 40


@pytest.mark.flaky(reruns=3, condition=MACOS)
def test_spill_to_disk_is_fast(cluster, tmp_path):
    started = time.perf_counter()
    cluster.spill(tmp_path)
    assert time.perf_counter() - started < 0.5


@pytest.mark.flaky(reruns=2)
def test_rebalance_moves_keys(cluster):
    """Sometimes fails on slow CI machines: under load the rebalance needs longer than the
    2 s we give it."""
    cluster.rebalance()
    assert cluster.wait_balanced(timeout=2)


@pytest.mark.flaky(reruns=2)
def test_cluster_restarts_cleanly(cluster):
    cluster.restart()
    while cluster.status != "running":
        time.sleep(0.05)
    assert len(cluster.workers) == 4
