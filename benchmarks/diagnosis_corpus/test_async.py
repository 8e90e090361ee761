import asyncio
import time

import pytest

from shop.notify import Notifier, connect_ws
from shop.jobs import submit_job, job_status


@pytest.mark.flaky(reruns=3)
async def test_websocket_reconnects():
    conn = await connect_ws("ws://localhost:8765/feed")
    await conn.drop()
    await asyncio.sleep(0.2)
    assert conn.connected


@pytest.mark.flaky(reruns=3)
async def test_notification_is_delivered():
    notifier = Notifier()
    inbox = asyncio.Queue()
    asyncio.create_task(notifier.deliver("hello", inbox))
    message = inbox.get_nowait()
    assert message == "hello"


@pytest.mark.flaky(reruns=2)
def test_job_finishes():
    job = submit_job("resize", size=(64, 64))
    attempts = 0
    while job_status(job) != "done" and attempts < 20:
        time.sleep(0.05)
        attempts += 1
    assert job_status(job) == "done"


@pytest.mark.flaky(reruns=3)
async def test_event_is_set_quickly():
    notifier = Notifier()
    event = notifier.subscribe("paid")
    notifier.publish("paid")
    await asyncio.wait_for(event.wait(), timeout=0.1)


class TestBatching:
    @pytest.mark.flaky(reruns=2)
    async def test_batch_flushes(self):
        notifier = Notifier(batch_size=10)
        for i in range(3):
            notifier.push(i)
        await asyncio.sleep(0.5)
        assert notifier.flushed == 1
