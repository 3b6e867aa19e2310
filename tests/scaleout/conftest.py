"""Real Redis and PostgreSQL servers, started once for the scale-out tests and stopped after them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming_core.testing.cluster import Stores
from streaming_core.testing.datastores import PostgresServer, RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def stores(redis_server: RedisServer, postgres_server: PostgresServer) -> Stores:
    """The stores every cluster in a test uses: one Redis, one PostgreSQL database."""
    return Stores(redis_server.url, postgres_server.url)
