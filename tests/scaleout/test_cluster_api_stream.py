"""The API's stream contract (tests/integration/test_api_stream.py), again on two worker processes
sharing one port over Redis and PostgreSQL: the same tests, a different `serve`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeAlias

import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.testing.cluster import Cluster, Stores
from tests.integration.test_api_stream import (  # noqa: F401 - collected here, with this module's `serve`
    ROOMY,
    SETTINGS,
    test_cors_allows_localhost_origins_by_default,
    test_cors_origins_come_from_api_cors_origins,
    test_healthz_and_openapi_docs,
    test_index_page_is_served_with_a_content_security_policy,
    test_stream_chunks_arrive_progressively,
    test_stream_every_event_has_a_consecutive_id,
    test_stream_every_request_form_gives_the_same_answer,
    test_stream_fifty_concurrent_streams_all_complete,
    test_stream_joined_chunks_equal_the_answer_exactly_once,
    test_stream_model_failure_is_an_error_event_with_partial_text_kept,
    test_stream_overlapping_turns_in_one_session_are_queued_and_both_kept,
    test_stream_second_turn_with_session_id_remembers_the_first,
    test_stream_session_id_in_header_and_done_event,
    test_stream_tool_call_and_result_are_named_events,
)

# Left out: test_stream_silent_model_times_out_with_an_error_event_and_partial_text, whose 0.3 s turn
# timeout a worker process cannot be given (API_TURN_TIMEOUT_SECONDS accepts 1 s and more), and the
# hypothesis round trip and misconfigured-backend tests, which start servers of their own.

Serve: TypeAlias = Callable[..., Cluster]


@pytest.fixture
def serve(stores: Stores) -> Iterator[Serve]:
    with ExitStack() as stack:

        def start(
            *replies: ScriptedReply, limits: ApiLimits = ROOMY, tools: tuple[str, ...] = (), coalesce: bool = True
        ) -> Cluster:
            cluster = Cluster(replies, settings=SETTINGS, limits=limits, tools=tools, stores=stores, coalesce=coalesce)
            return stack.enter_context(cluster)

        yield start
