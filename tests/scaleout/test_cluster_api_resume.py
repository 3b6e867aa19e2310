"""The API's resume, grace period and cancel contract (tests/integration/test_api_resume.py), again on
two worker processes sharing one port over Redis and PostgreSQL: any worker may serve any request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TypeAlias

import pytest

from streaming_core.api.limits import ApiLimits
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.testing.cluster import Cluster, Stores
from tests.integration.test_api_resume import (  # noqa: F401 - collected here, with this module's `serve`
    SETTINGS,
    test_a_fast_model_waits_for_a_slow_reader_instead_of_dropping_events,
    test_client_returning_within_the_grace_period_keeps_the_run,
    test_delete_run_cancels_the_model_without_waiting_for_the_grace_period,
    test_delete_run_ends_an_attached_stream_with_an_error_and_done,
    test_disconnect_without_return_cancels_the_model_after_the_grace_period,
    test_resume_after_expiry_gets_unknown_run,
    test_resume_after_the_done_marker_gets_204,
    test_resume_after_the_run_finished_sends_the_rest,
    test_resume_by_another_user_looks_like_an_unknown_run,
    test_resume_of_an_unknown_run_gets_an_error_event_then_done,
    test_resume_older_than_the_buffer_gets_a_resume_gap_error,
    test_resume_with_last_event_id_loses_and_repeats_nothing,
)

# Left out, as they look inside the one server process: test_a_run_nobody_reads_pauses_at_the_buffer_bound_
# then_is_cancelled (its conversation, through the in-process assistant), test_shutdown_cancels_every_run
# (the model's log after the server stopped) and test_many_abandoned_streams_leave_no_tasks_runs_or_slots
# (the process's asyncio tasks and limiter).

Serve: TypeAlias = Callable[..., Cluster]


@pytest.fixture
def serve(stores: Stores) -> Iterator[Serve]:
    with ExitStack() as stack:

        def start(reply: ScriptedReply, *, coalesce: bool = True, **limits: float) -> Cluster:
            api_limits = ApiLimits(max_streams_per_client=50, rate_per_minute=1000, ping_s=0, **limits)  # type: ignore[arg-type]
            cluster = Cluster((reply,), settings=SETTINGS, limits=api_limits, stores=stores, coalesce=coalesce)
            return stack.enter_context(cluster)

        yield start
