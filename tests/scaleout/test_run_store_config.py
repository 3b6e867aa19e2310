"""RUN_STORE_URL: a bad URL is a configuration error naming the variable; an unreachable Redis at
start is reported with its URL, password removed."""

from __future__ import annotations

import pytest

from streaming_core.errors import ConfigurationError
from streaming_core.stores.runs import RunSettings, RunStoreUnavailable, create_run_store
from streaming_core.testing.datastores import free_port

SETTINGS = RunSettings(grace_s=30, buffer_events=64, max_runs=10, turn_timeout_s=60)


async def keep_nothing(*args: str) -> None:
    raise AssertionError("no run to take over")


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "rediss"])
def test_a_bad_url_is_a_configuration_error_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigurationError, match="RUN_STORE_URL") as raised:
        create_run_store(url, SETTINGS)

    assert "memory://, redis://" in str(raised.value)


async def test_an_unreachable_redis_at_start_names_the_url_without_the_password() -> None:
    store = create_run_store(f"redis://:hunter2@127.0.0.1:{free_port()}/0", SETTINGS)

    with pytest.raises(RunStoreUnavailable) as raised:
        await store.open(keep_nothing)

    message = str(raised.value)
    assert "RUN_STORE_URL" in message and "127.0.0.1" in message and "Start Redis" in message
    assert "hunter2" not in message
