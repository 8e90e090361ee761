import datetime
import os
import time
from datetime import date, datetime as dt

import pytest

from shop.hours import is_open, opening_banner
from shop.tokens import issue_token
from shop.reports import weekly_report, format_timestamp
from shop.assets import AssetCache


@pytest.mark.flaky(reruns=3)
def test_store_is_open_now():
    now = dt.now()
    assert is_open(now) == (9 <= now.hour < 18)


@pytest.mark.flaky(reruns=2)
def test_price_lookup_is_fast(app_config):
    from shop.pricing import price_of

    started = time.monotonic()
    price_of("sku-1", app_config)
    assert time.monotonic() - started < 0.05


@pytest.mark.flaky(reruns=3)
def test_weekly_report_header():
    report = weekly_report()
    if date.today().weekday() == 0:
        assert report.header.startswith("New week")
    else:
        assert report.header.startswith("Week")


@pytest.mark.flaky(reruns=2)
def test_receipt_timestamp():
    stamp = datetime.datetime.fromtimestamp(1_700_000_000)
    assert format_timestamp(stamp) == "2023-11-14 22:13"


@pytest.mark.flaky(reruns=2)
def test_asset_cache_notices_edit(tmp_path):
    path = tmp_path / "logo.svg"
    path.write_text("<svg/>")
    cache = AssetCache()
    cache.load(path)
    first = os.path.getmtime(path)
    path.write_text("<svg></svg>")
    assert os.path.getmtime(path) != first
    assert cache.is_stale(path)


class TestTokens:
    @pytest.mark.flaky(reruns=3)
    def test_token_issued_just_now(self):
        token = issue_token("alice")
        age = (datetime.datetime.utcnow() - token.issued_at).total_seconds()
        assert age < 1
