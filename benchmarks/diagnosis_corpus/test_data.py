import os
import random
import uuid

import numpy as np
import pytest

from shop.catalog import Catalog, tag_cloud
from shop.pricing import apply_discount
from shop.export import write_daily_files


def sample_customers(n):
    names = ["ann", "bob", "cy", "dee", "eve"]
    return [random.choice(names) for _ in range(n)]


@pytest.mark.flaky(reruns=3)
def test_customers_are_deduplicated():
    customers = sample_customers(4)
    assert len(set(customers)) == len(customers)


@pytest.mark.flaky(reruns=2)
def test_tag_cloud_order():
    tags = {"sale", "new", "eco"}
    assert list(tags) == ["eco", "new", "sale"]


@pytest.mark.flaky(reruns=2)
def test_discount_total():
    total = apply_discount(0.1, 0.2)
    assert total + 0.1 == 0.4


@pytest.mark.flaky(reruns=2)
def test_daily_files_first_is_monday(tmp_path):
    write_daily_files(tmp_path)
    files = os.listdir(tmp_path)
    assert files[0] == "monday.csv"


@pytest.mark.flaky(reruns=2)
def test_order_ids_sort_by_creation():
    ids = [str(uuid.uuid4()) for _ in range(3)]
    assert sorted(ids) == ids


@pytest.mark.flaky(reruns=3)
def test_price_noise_is_small():
    noise = np.random.normal(0, 1, size=50)
    assert abs(noise.mean()) < 0.2


class TestCatalog:
    @pytest.mark.flaky(reruns=2)
    def test_tags_are_joined(self):
        catalog = Catalog(tags=["a", "b"])
        assert ", ".join(set(catalog.tags)) == "a, b"
