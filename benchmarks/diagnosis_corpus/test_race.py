import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shop.inventory import Inventory
from shop.cache import ExpiringCache
from shop.export import export_orders


def run_concurrently(fn, times):
    threads = [threading.Thread(target=fn) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.flaky(reruns=3)
def test_stock_decrements_under_concurrency():
    inventory = Inventory({"sku-1": 100})
    run_concurrently(lambda: inventory.take("sku-1"), 50)
    assert inventory.count("sku-1") == 50


@pytest.mark.flaky(reruns=2)
def test_parallel_writes_keep_every_line(tmp_path):
    log = tmp_path / "audit.log"
    with ThreadPoolExecutor(max_workers=8) as pool:
        for i in range(20):
            pool.submit(log.open("a").write, f"{i}\n")
    assert len(log.read_text().splitlines()) == 20


@pytest.mark.flaky
def test_jobs_are_drained(jobs):
    for n in range(10):
        jobs.put(n)
    assert jobs.empty()


@pytest.mark.flaky(reruns=3)
def test_expiring_cache_drops_entries():
    cache = ExpiringCache()
    cache.set("a", 1)
    timer = threading.Timer(0.05, cache.expire, args=["a"])
    timer.start()
    timer.join()
    assert "a" not in cache


@pytest.mark.flaky(reruns=5)
def test_export_in_a_subprocess(tmp_path):
    target = tmp_path / "orders.csv"
    proc = multiprocessing.Process(target=export_orders, args=(target,))
    proc.start()
    proc.join(1)
    assert target.exists()


class TestSessionStore:
    @pytest.mark.flaky(reruns=2)
    def test_concurrent_logins_each_get_a_session(self):
        sessions = {}

        def login(user):
            sessions[user] = object()

        workers = [threading.Thread(target=login, args=(f"u{i}",)) for i in range(5)]
        for w in workers:
            w.start()
        assert len(sessions) == 5
