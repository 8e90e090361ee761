import time

import pytest
from selenium.webdriver.common.by import By

from shop.gui import CartWindow


@pytest.mark.flaky(reruns=3)
def test_add_to_cart_updates_badge(qtbot):
    window = CartWindow()
    qtbot.addWidget(window)
    window.add_button.click()
    qtbot.wait(50)
    assert window.badge.text() == "1"


@pytest.mark.flaky(reruns=3)
def test_checkout_page_shows_total(browser):
    browser.get("http://localhost:8000/checkout")
    time.sleep(2)
    total = browser.find_element(By.ID, "total")
    assert total.text == "12.00 EUR"


@pytest.mark.flaky(reruns=2)
def test_search_suggestions(page):
    page.goto("http://localhost:8000/")
    page.fill("#search", "sho")
    page.wait_for_timeout(300)
    assert page.locator(".suggestion").count() == 3


@pytest.mark.flaky(reruns=2)
def test_dialog_closes(qtbot):
    window = CartWindow()
    qtbot.addWidget(window)
    window.open_dialog()
    window.dialog.reject()
    qtbot.waitUntil(lambda: not window.dialog.isVisible(), timeout=200)
