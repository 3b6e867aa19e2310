"""ADK events -> typed stream events: the one place that knows partial versus final.

In SSE mode ADK yields partial events carrying text deltas, then one non-partial event
carrying the whole text again. The final event is treated as confirmation, not as more
text; when nothing was streamed (StreamingMode.NONE) its text becomes a single delta, so
every consumer can build the answer from deltas alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from google.adk.events.event import Event
from google.genai import types

from streaming_core.events import StreamError, StreamEvent, TextDelta, ToolCall, ToolResult
from streaming_core.text_parts import TextParts

logger = logging.getLogger(__name__)

# ADK copies a candidate's finish reason into error_code when the candidate has no content.
_STOP_MESSAGES = {
    "SAFETY": "The model blocked this answer for safety reasons. Rephrase the request.",
    "PROHIBITED_CONTENT": "The model refused this request (prohibited content).",
    "BLOCKLIST": "The model blocked this answer (blocklisted terms).",
    "RECITATION": "The model stopped to avoid reciting copyrighted text.",
    "SPII": "The model stopped because the answer contained personal information.",
    "MAX_TOKENS": "The answer hit the output token limit before any text was produced.",
    "MALFORMED_FUNCTION_CALL": "The model produced a malformed tool call.",
}
# Gemini sometimes ends a turn with STOP and no parts. ADK flags that (with this code) only in
# NONE mode; in SSE mode the turn would just end with nothing, so it is caught in failure_event.
_NO_CONTENT_CODE = "MODEL_RETURNED_NO_CONTENT"
_EMPTY_ANSWER = StreamError("empty", "The model returned an empty answer. Try again or rephrase the request.")


class EventNormalizer:
    """Feeds ADK events of one invocation, returns the typed events they add."""

    def __init__(self) -> None:
        # The answer is `_earlier` then `_streamed`, each piece kept once: deltas the final event
        # confirmed (and tails it added), then the deltas of the model call in progress.
        self._earlier = TextParts()
        self._streamed = TextParts()
        self.matches_final: bool | None = None
        self.tool_calls: list[ToolCall] = []
        self._reported_error = False
        # ADK reports a model exception as an error event, then raises it; the exception
        # describes it better, so the event is kept aside for runs where nothing is raised.
        self._failure: StreamError | None = None

    @property
    def text(self) -> str:
        """Every delta emitted so far, joined: the answer as the consumer has seen it."""
        return self._earlier.text + self._streamed.text

    @property
    def unconfirmed_text(self) -> str:
        """Streamed text whose final event never came (the part lost if the turn is cut)."""
        return self._streamed.text

    @property
    def failure_event(self) -> StreamError | None:
        """The error to report when the run ended without raising: one ADK reported as an event,
        or an empty answer (no text, no tool call, no error) that would otherwise pass as done."""
        if self._failure is None and not (self._earlier or self._streamed or self.tool_calls or self._reported_error):
            return _EMPTY_ANSWER
        return self._failure

    def feed(self, event: Event) -> list[StreamEvent]:
        if event.author == "user":
            return []
        if event.partial:
            # Function calls in partial events are previews; ADK runs (and we report) the final ones.
            parts = event.content.parts if event.content else None
            if parts and len(parts) == 1:  # the usual partial, once per chunk: no list but the result
                text = _text(parts[0])
                if not text:
                    return []
                self._streamed.append(text)
                return [TextDelta(text)]
            texts = _texts(event)
            self._streamed.extend(texts)
            return [TextDelta(text) for text in texts]
        out = list(self._final(event))
        for item in out:
            if isinstance(item, TextDelta):  # a tail the deltas missed, after the deltas it confirmed
                self._earlier.append(item.text)
            elif isinstance(item, ToolCall):
                self.tool_calls.append(item)
            elif isinstance(item, StreamError):
                self._reported_error = True
        return out

    def _final(self, event: Event) -> Iterator[StreamEvent]:
        if not _parts(event):  # an error or bookkeeping event: streamed text stays unconfirmed
            yield from self.report_error(event)
            return
        streamed, self._streamed = self._streamed.text, TextParts()
        if streamed:  # an empty piece would make the answer look started
            self._earlier.append(streamed)
        final_text = "".join(_texts(event))
        if final_text:
            yield from self.confirm_final(streamed, final_text)
        for part in _parts(event):
            if part.function_call is not None:
                call = part.function_call
                yield ToolCall(name=call.name or "", args=dict(call.args or {}), call_id=call.id)
            elif part.function_response is not None:
                response = part.function_response
                yield ToolResult(name=response.name or "", response=_as_dict(response.response), call_id=response.id)
        if not final_text:
            yield from self.report_error(event)

    def report_error(self, event: Event) -> Iterator[StreamError]:
        """The StreamError an ADK event with `error_code` stands for. A stop reason (SAFETY, MAX_TOKENS,
        ...) is yielded at once; a model failure or an empty answer is held in `failure_event` until
        the stream ends, because ADK re-raises after the event and the exception may say more."""
        if not event.error_code:
            return
        if str(event.error_code) in types.FinishReason.__members__:
            yield _stop_error(event)
        elif event.error_code == _NO_CONTENT_CODE:
            self._failure = _EMPTY_ANSWER
        else:
            self._failure = StreamError("model", event.error_message or str(event.error_code))

    def confirm_final(self, streamed: str, final_text: str) -> Iterator[TextDelta]:
        """Treats ADK's final event as confirmation of the `streamed` deltas, not as more text: yields
        only a tail the deltas missed (all of it in NONE mode) and records in `matches_final` whether
        the final text repeated what streamed."""
        if final_text.startswith(streamed):
            # Nothing streamed (NONE mode) or the final carries a tail the deltas missed.
            if tail := final_text[len(streamed) :]:
                yield TextDelta(tail)
            matched = not streamed or not tail
        else:
            logger.warning("final event text differs from the streamed deltas; keeping the deltas")
            matched = False
        self.matches_final = matched if self.matches_final is None else self.matches_final and matched


def _parts(event: Event) -> list[types.Part]:
    return (event.content.parts or []) if event.content else []


def _texts(event: Event) -> list[str]:
    parts = event.content.parts if event.content else None
    return [text for part in parts or () if (text := _text(part))]


def _text(part: types.Part) -> str | None:
    """The answer text a part carries: none for a thought."""
    return None if part.thought else part.text


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {"result": value}


def _stop_error(event: Event) -> StreamError:
    code = str(event.error_code)
    message = _STOP_MESSAGES.get(code) or event.error_message or f"The model stopped: {code}."
    return StreamError(code="blocked" if code in _STOP_MESSAGES else "model", message=message)
