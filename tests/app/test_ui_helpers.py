"""The pure parts of the ui package: fault injection, markdown escaping, event records."""

from __future__ import annotations

import json

import pytest

from streaming_core.api.encoding import event_payload
from streaming_core.events import Done, TextDelta, ToolCall
from streaming_core.metrics import StreamSummary
from ui.context import FAULTS, demo_reply, scripted_text, with_fault
from ui.conversations import escape_markdown
from ui.outputs import JsonLinesLog

HALFWAY = len(demo_reply().text) // demo_reply().chunk_size // 2


@pytest.mark.parametrize(
    ("fault", "fail_after", "hang_after", "code"),
    [
        ("none", None, None, "upstream"),
        ("before_first_chunk", 0, None, "upstream"),
        ("mid_stream", HALFWAY, None, "upstream"),
        ("hang", None, HALFWAY, "upstream"),
        ("quota", 0, None, "quota"),
    ],
)
def test_with_fault_injects_each_fault_halfway_or_at_once(
    fault: str, fail_after: int | None, hang_after: int | None, code: str
) -> None:
    reply = with_fault(with_fault(demo_reply(), "hang"), fault)  # a second fault replaces the first

    assert (reply.fail_after, reply.hang_after, reply.failure_code) == (fail_after, hang_after, code)
    assert fault in FAULTS


def test_scripted_text_adds_numbered_paragraphs() -> None:
    text = scripted_text(3)

    assert text.count("\n\nParagraph ") == 2 and "Paragraph 3." in text


def test_escape_markdown_shows_user_text_literally_in_button_labels() -> None:
    assert escape_markdown("**hi** [x](javascript:y) :material/home:") == (
        r"\*\*hi\*\* \[x\]\(javascript\:y\) \:material/home\:"
    )


def test_the_json_lines_log_records_each_event_as_the_sse_api_sends_it() -> None:
    summary = StreamSummary(0.1, 0.5, 2, 10, chunk_sizes=(5, 5), gaps=(0.2,))
    done = Done("completed", "hello", summary, tool_calls=(ToolCall("convert_units", {"value": 1}),))
    log = JsonLinesLog()

    log(TextDelta("hi"))
    log(done)
    records = [json.loads(line) for line in log.text.splitlines()]

    assert [{k: v for k, v in r.items() if k != "t"} for r in records] == [
        {"kind": "chunk", **event_payload(TextDelta("hi"))},
        {"kind": "done", **event_payload(done)},
    ]
    assert records[1]["metrics"]["chunk_count"] == 2 and "gaps" not in records[1]["metrics"]
