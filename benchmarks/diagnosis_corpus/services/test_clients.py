"""Services reached through a client object: no URL or request in sight at the call that fails."""

import os

import pytest
from hdfs import InsecureClient
from pymemcache.client.base import Client as MemcacheClient
from searchkit import SearchConnection
from starlette.testclient import TestClient

from shop.app import create_app
from shop.pool import SessionPool


@pytest.mark.flaky(reruns=3)
def test_nightly_export_lands_in_hdfs():
    client = InsecureClient("http://namenode:9870", user="etl")
    assert "exports" in client.list("/data")


@pytest.mark.flaky(reruns=2)
def test_sessions_survive_in_memcache():
    cache = MemcacheClient(("localhost", 11211))
    cache.set("session:42", "alice")
    assert cache.get("session:42") == b"alice"


@pytest.mark.flaky(reruns=3)
def test_catalog_search_finds_the_new_product():
    search = SearchConnection(host=os.environ["SEARCH_HOST"], api_key=os.environ["SEARCH_KEY"])
    search.index("products", {"sku": "A-1", "name": "kettle"})
    assert search.query("products", "kettle")[0]["sku"] == "A-1"


@pytest.mark.flaky(reruns=2)
def test_health_endpoint_answers():
    client = TestClient(create_app())
    assert client.get("/health").status_code == 200


@pytest.mark.flaky(reruns=2)
def test_pool_hands_out_distinct_sessions():
    pool = SessionPool(size=4)
    assert len({id(pool.acquire()) for _ in range(4)}) == 4
