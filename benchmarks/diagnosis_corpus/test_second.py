"""Shapes from a second set of real projects: sleeps that step across a timer, chaos paced by
random pauses, helpers that probe ports and start our own interpreter, docstrings that say what
is tested, pinned order, fixtures that read case files."""

import asyncio
import json
import random
import sys
import time

import pytest

from warehouse.spawn import free_port, start_agent


@pytest.mark.flaky(reruns=3)
def test_reservation_lapses_after_its_hold(reservations):
    hold = reservations.place("pallet-7", hold_seconds=0.5)
    time.sleep(0.3)
    assert reservations.is_held(hold)
    time.sleep(0.35)
    assert not reservations.is_held(hold)


@pytest.mark.flaky(reruns=5)
async def test_picker_recovers_from_a_crash(pickers):
    started = time.monotonic()
    while len(pickers.alive()) < 2:
        await asyncio.sleep(0.02)
        assert time.monotonic() < started + 30
    batch = pickers.submit(range(40))
    await asyncio.sleep(random.random() / 25)
    pickers.crash_one()
    assert sorted(await batch.results()) == list(range(40))


@pytest.mark.flaky(reruns=2)
def test_agent_writes_its_pid(tmp_path):
    port = free_port()
    pid_file = tmp_path / "agent.pid"
    with start_agent([sys.executable, "-m", "warehouse.agent", "--port", str(port), "--pid", str(pid_file)]) as child:
        assert child.wait(timeout=60) == 0
    assert int(pid_file.read_text()) == child.pid


@pytest.mark.flaky(reruns=2)
def test_dock_reports_its_clock(dock):
    """The dock answers with its logical clock."""
    assert dock.clock() > 0


@pytest.fixture
def aisle_plan():
    with open("cases/aisles.json") as aisles, open("cases/bins.json") as bins:
        plan = {"aisles": json.load(aisles), "bins": json.load(bins)}
    return plan


@pytest.mark.order(2)
@pytest.mark.flaky(reruns=3)
def test_bin_layout_from_case_file(aisle_plan, layout):
    layout.load(aisle_plan)
    assert layout.bins() == 24


@pytest.mark.flaky(reruns=3)
async def test_sampler_sees_the_slow_pick(cluster):
    picks = cluster.map(cluster.slow_pick, range(6), delay=0.1)
    await cluster.wait(picks)
    hot = cluster.profile_of("slow_pick")
    assert hot["count"]


@pytest.mark.flaky(reruns=5)
def test_restock_notification_is_sent(celery_session_worker):
    from warehouse.jobs import notify, restock

    flow = restock.s("sku-9", 12) | notify.s()
    assert flow().get(timeout=20) == "restocked sku-9"


@pytest.mark.flaky(reruns=3)
def test_scanner_interrupts_the_wait(scanner):
    import signal
    import threading

    signal.setitimer(signal.ITIMER_REAL, 0.05)

    def beep_later():
        time.sleep(0.2)
        scanner.beep()

    helper = threading.Thread(target=beep_later)
    helper.start()
    assert scanner.wait_for_beep(timeout=1)
    helper.join()


@pytest.mark.flaky(reruns=10)
def test_every_packer_takes_a_parcel(packers):
    from warehouse.timing import Stopwatch

    with Stopwatch() as watch:
        packers.run_all([time.sleep] * 3, 0.8)
    assert len(watch.threads_seen) == 3
