"""The Redis conversation lock's renewal: it renews while the lock is ours and stops once it is not."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streaming_core.stores import locks
from streaming_core.stores.locks import RedisConversationLock
from streaming_core.stores.redis_client import redis_client
from streaming_core.testing.datastores import RedisServer


async def test_a_lock_that_lapsed_stops_renewing_with_one_warning(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: renewals of locks that were no longer ours went on every period until the worker
    stopped, each logging 'could not renew the lock ... Cannot reacquire an unlocked lock'."""
    monkeypatch.setattr(locks, "RENEW_EVERY_S", 0.02)
    lock = RedisConversationLock(redis_server.url, ("lab", "u", "lapsed"))
    await lock.acquire()
    renewal = locks.renewer().task  # the loop's renewer: it ends once no lock is held
    assert renewal is not None

    await redis_client(redis_server.url).delete("lab:lock:lab:u:lapsed")  # as if it expired
    with caplog.at_level(logging.WARNING, logger=locks.__name__):
        await asyncio.wait_for(renewal, timeout=5)

    assert [record.message for record in caplog.records] == [
        "the lock of lab:lock:lab:u:lapsed lapsed before it was renewed"
    ]
    assert lock not in locks.renewer().held
