"""Labels printed for parcels: the weight and the customs value."""

import pytest

from warehouse import units


@pytest.mark.flaky(reruns=2)
def test_parcel_weight_label():
    assert units.weight_label(2500) == "2.5 kg"


@pytest.mark.flaky(reruns=2)
def test_customs_value_label():
    assert units.customs_value(1999) == "19.99 EUR"
