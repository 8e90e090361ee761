import functools
import logging
import os
from unittest import mock

import pytest

from shop import config
from shop.db import connect_url
from shop.checkout import checkout, Cart


@functools.lru_cache
def load_settings():
    return {"db": os.environ.get("DATABASE_URL", "sqlite://")}


@pytest.mark.flaky(reruns=3)
def test_uses_postgres_url():
    os.environ["DATABASE_URL"] = "postgresql://localhost/test"
    assert connect_url().startswith("postgresql")


@pytest.mark.flaky(reruns=2)
def test_new_checkout_flag(app_config):
    app_config["feature_flags"]["new_checkout"] = True
    assert checkout(Cart(), app_config).version == 2


@pytest.mark.flaky(reruns=2)
def test_settings_come_from_env():
    assert load_settings()["db"] == "sqlite://"


@pytest.mark.flaky(reruns=2)
def test_debug_toolbar_enabled():
    config.DEBUG = True
    assert checkout(Cart(), {}).toolbar


@pytest.mark.flaky(reruns=2)
def test_export_writes_relative_paths(project_dir):
    from shop.export import export_orders

    export_orders("orders.csv")
    assert (project_dir / "orders.csv").exists()


class TestPayments:
    def setup_method(self):
        self.gateway = mock.patch("shop.payments.gateway").start()

    @pytest.mark.flaky(reruns=2)
    def test_refund(self):
        from shop.payments import refund

        refund(order_id=1)
        self.gateway.refund.assert_called_once()


@pytest.mark.flaky(reruns=2)
def test_warnings_are_logged(caplog):
    logging.basicConfig(level=logging.DEBUG)
    checkout(Cart(), {})
    assert "checkout" in caplog.text
