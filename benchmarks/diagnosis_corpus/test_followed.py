"""Flaky tests whose cause sits one or two calls away, in the project's own code."""

import threading

import pytest

from warehouse import Dispatcher, StockLedger
from warehouse.alerts import LowStockAlerts
from warehouse.carriers import QuoteClient, TrackingBoard
from warehouse.labels import ShelfLabel
from warehouse.timing import Stopwatch


@pytest.fixture
def dispatcher():
    return Dispatcher(packers=3).start()


@pytest.mark.flaky(reruns=3)
def test_every_order_is_packed(dispatcher):
    for number in range(20):
        dispatcher.send(f"order-{number}")
    dispatcher.flush()
    assert len(dispatcher.packed) == 20


@pytest.mark.flaky(reruns=2)
def test_parallel_deliveries_are_all_booked():
    ledger = StockLedger()
    trucks = [threading.Thread(target=ledger.receive, args=("sku-7", 5)) for _ in range(10)]
    for truck in trucks:
        truck.start()
    for truck in trucks:
        truck.join()
    assert ledger.levels["sku-7"] == 50


@pytest.mark.flaky(reruns=2)
def test_parallel_shipments_are_all_booked():
    ledger = StockLedger()
    ledger.levels["sku-7"] = 100
    trucks = [threading.Thread(target=ledger.ship, args=("sku-7", 5)) for _ in range(10)]
    for truck in trucks:
        truck.start()
    for truck in trucks:
        truck.join()
    assert ledger.levels["sku-7"] == 50


@pytest.mark.flaky(reruns=3)
def test_cheapest_quote_for_a_small_parcel():
    client = QuoteClient(account="ci")
    assert client.cheapest(1.2, "DE") < 20


@pytest.mark.flaky(reruns=2)
def test_tracking_board_reads_local_status(status_server):
    board = TrackingBoard(status_server.url)
    assert board.status("p-1") == "delivered"


@pytest.mark.flaky(reruns=2)
def test_hazard_label_text():
    label = ShelfLabel("A-12", hazards={"flammable", "fragile"})
    assert label.text() == "A-12 FLAMMABLE FRAGILE"


@pytest.mark.flaky(reruns=2)
def test_handling_label_text():
    label = ShelfLabel("A-12", handling=["this side up", "keep dry"])
    assert label.handling_text() == "this side up / keep dry"


@pytest.mark.flaky(reruns=2)
def test_low_stock_alert_is_posted():
    alerts = LowStockAlerts(token="xoxb-ci")
    assert alerts.notify("sku-7", 2)


@pytest.mark.flaky(reruns=2)
def test_stopwatch_measures_a_pick():
    with Stopwatch() as watch:
        pick_slowly()
    assert watch.duration == pytest.approx(0.05, rel=0.2)


def pick_slowly():
    import time

    time.sleep(0.05)
