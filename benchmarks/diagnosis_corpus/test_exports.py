"""Exports to the United States: pounds and dollars on the paperwork."""

from warehouse import units


def test_us_export_weights_in_pounds():
    units.WEIGHT_UNIT = "lb"
    assert units.weight_label(4536) == "10.0 lb"


def test_us_customs_value_in_dollars(monkeypatch):
    monkeypatch.setattr(units, "CUSTOMS_CURRENCY", "USD")
    assert units.customs_value(1000) == "10.00 USD"
