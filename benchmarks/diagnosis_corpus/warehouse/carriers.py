"""Shipping quotes from the carriers' web services."""

from __future__ import annotations

import requests

QUOTES = "https://quotes.parcelhub.example-carrier.com/v2"


class QuoteClient:
    def __init__(self, account: str) -> None:
        self.account = account
        self.session = requests.Session()

    def cheapest(self, weight_kg: float, country: str) -> float:
        offers = self._offers(weight_kg, country)
        return min(offer["price"] for offer in offers)

    def _offers(self, weight_kg: float, country: str) -> list[dict]:
        reply = self.session.post(f"{QUOTES}/offers", json={"kg": weight_kg, "to": country}, timeout=10)
        return reply.json()["offers"]


class TrackingBoard:
    """Where parcels are, read from the carrier's status page."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def status(self, parcel: str) -> str:
        return requests.get(f"{self.endpoint}/parcels/{parcel}", timeout=10).json()["status"]
