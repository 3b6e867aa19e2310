"""What the sidebar decided for this run: backend, mode, sampling and the scripted model's knobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from streamlit.delta_generator import DeltaGenerator

from streaming_core.backends.scripted import DEFAULT_TEXT, ScriptedReply
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings

Mode: TypeAlias = Literal["sse", "none"]

FAULTS = {
    "none": "No fault",
    "before_first_chunk": "Error before the first chunk",
    "mid_stream": "Error mid-stream",
    "hang": "Hang mid-stream (until Stop or a timeout)",
    "quota": "Quota exhausted (HTTP 429)",
}

_EXTRA_PARAGRAPH = (
    "Paragraph {n}. A longer answer makes the patterns easier to watch: the progress counter "
    "climbs, the inter-chunk gaps fill the chart, and the coalescing in the page keeps the "
    "browser at about twenty updates a second however small the chunks are. Nothing here is "
    "random, so two runs with the same knobs give the same chunks in the same order."
)


def scripted_text(paragraphs: int) -> str:
    """The scripted answer: the core's default text plus `paragraphs - 1` numbered extras."""
    extras = [_EXTRA_PARAGRAPH.format(n=n) for n in range(2, paragraphs + 1)]
    return "\n\n".join([DEFAULT_TEXT, *extras])


def demo_reply(
    *, paragraphs: int = 1, chunk_size: int = 12, first_chunk_delay: float = 0.3, chunk_delay: float = 0.03
) -> ScriptedReply:
    """The scripted model's reply, paced like a small real model by default (about 1.5 s)."""
    return ScriptedReply(
        text=scripted_text(paragraphs),
        chunk_size=chunk_size,
        first_chunk_delay=first_chunk_delay,
        chunk_delay=chunk_delay,
    )


def with_fault(reply: ScriptedReply, fault: str) -> ScriptedReply:
    """`reply` with one of FAULTS injected; mid-stream faults hit halfway through the text."""
    clean = dataclasses.replace(reply, fail_after=None, hang_after=None, failure_code="upstream")
    halfway = max(1, len(reply.text) // reply.chunk_size // 2)
    changes: dict[str, dict[str, object]] = {
        "none": {},
        "before_first_chunk": {"fail_after": 0},
        "mid_stream": {"fail_after": halfway},
        "hang": {"hang_after": halfway},
        "quota": {"fail_after": 0, "failure_code": "quota"},
    }
    return dataclasses.replace(clean, **changes[fault])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PageContext:
    settings: Settings
    backend: str  # the concrete backend, or what was asked for when it cannot start
    backend_note: str  # why auto picked it, or what is missing
    backend_ready: bool
    mode: Mode
    temperature: float
    max_output_tokens: int
    reply: ScriptedReply  # the scripted model's pacing and fault, from the sidebar
    sidebar_slot: DeltaGenerator | None = None  # under the menu, for a page's own sidebar widgets

    @property
    def scripted(self) -> bool:
        return self.backend == "scripted"

    def config(
        self,
        *,
        persistent: bool = False,
        backend: str | None = None,
        tools: Sequence[str] = (),
        script: Sequence[ScriptedReply] | None = None,
        coalesce: bool = True,
    ) -> AssistantConfig:
        """The core's config for this page. One-shot pages keep their sessions in memory so
        they never show up in the chat's list of conversations; the chat passes persistent. Pages
        that show each chunk as the model sent it pass coalesce=False (see AssistantConfig)."""
        backend = backend or self.backend
        if backend == "scripted":
            script = tuple(script) if script is not None else (self.reply,)
        return AssistantConfig(
            backend=backend,
            temperature=self.temperature,
            max_output_tokens=self.max_output_tokens,
            tools=tuple(tools),
            script=tuple(script or ()) if backend == "scripted" else (),
            persistent=persistent,
            coalesce=coalesce,
        )

    def scripted_reply(self, **changes: object) -> ScriptedReply:
        """The sidebar's scripted reply (pacing, text, fault) with some fields changed."""
        return dataclasses.replace(self.reply, **changes)  # type: ignore[arg-type]
