"""Flaky tests whose cause lives in the code under test, not in the test: the honest answer is unknown."""

import pytest

from shop.pricing import price_of, bulk_prices
from shop.search import search


@pytest.mark.flaky(reruns=3)
def test_bulk_prices_match_single_prices():
    prices = bulk_prices(["sku-1", "sku-2"])
    assert prices == {"sku-1": price_of("sku-1"), "sku-2": price_of("sku-2")}


@pytest.mark.flaky(reruns=2)
def test_search_ranks_exact_match_first():
    results = search("red shoes")
    assert results[0].title == "Red shoes"


@pytest.mark.flaky(reruns=2)
def test_empty_search_returns_nothing():
    assert search("") == []


class TestRecommendations:
    @pytest.mark.flaky(reruns=2)
    def test_recommendations_are_relevant(self):
        from shop.recommend import recommend

        assert all(r.category == "shoes" for r in recommend("sku-1"))


@pytest.mark.flaky(reruns=2)
def test_price_is_positive(app_config):
    assert price_of("sku-9", app_config) > 0
