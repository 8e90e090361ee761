import pytest

from shop.api import app, get_current_user
from shop.registry import plugins

CREATED_ORDERS = []
_counter = 0
PRICE_CACHE = {}


def test_create_order():
    CREATED_ORDERS.append({"id": 1})
    assert CREATED_ORDERS


@pytest.mark.flaky(reruns=3)
def test_no_orders_yet():
    assert CREATED_ORDERS == []


@pytest.mark.flaky(reruns=2)
def test_sequence_starts_at_one():
    global _counter
    _counter += 1
    assert _counter == 1


def test_fill_price_cache():
    PRICE_CACHE["sku-1"] = 10


@pytest.mark.flaky(reruns=2)
def test_price_cache_empty_on_start():
    assert "sku-1" not in PRICE_CACHE


@pytest.mark.flaky(reruns=2)
def test_admin_endpoint_with_fake_user(client):
    app.dependency_overrides[get_current_user] = lambda: {"name": "admin"}
    assert client.get("/admin").status_code == 200


@pytest.mark.flaky(reruns=2)
def test_plugin_registration():
    plugins.register("csv-export")
    assert plugins.names() == ["csv-export"]


class TestUserFlow:
    users = []

    @pytest.mark.flaky(reruns=2)
    def test_signup(self):
        self.users.append("alice")
        assert self.users == ["alice"]

    @pytest.mark.dependency(depends=["TestUserFlow::test_signup"])
    @pytest.mark.flaky(reruns=2)
    def test_login_after_signup(self):
        assert "alice" in self.users
