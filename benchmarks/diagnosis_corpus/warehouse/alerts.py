"""Low-stock alerts, sent to the team's chat."""

from __future__ import annotations

import slack_sdk


class LowStockAlerts:
    def __init__(self, token: str, channel: str = "#warehouse") -> None:
        self.client = slack_sdk.WebClient(token=token)
        self.channel = channel

    def notify(self, sku: str, level: int) -> str:
        reply = self.client.chat_postMessage(channel=self.channel, text=f"{sku} is down to {level}")
        return reply["ts"]
