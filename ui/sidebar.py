"""The shared sidebar: backend (and why auto picked it), streaming mode, sampling, scripted knobs."""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from streaming_core.backends import AUTO, BACKEND_CHOICES, BACKENDS, default_temperature, resolve_backend
from streaming_core.backends.availability import local_unavailable_reason
from streaming_core.backends.scripted import ScriptedReply
from streaming_core.errors import ConfigurationError
from streaming_core.settings import Settings
from ui.context import FAULTS, PageContext, demo_reply, with_fault
from ui.navigation import render_menu
from ui.quota import show_budget

CONTEXT_KEY = "page_context"


def backend_option(name: str) -> str:
    """How the backend radio names a choice: the registry's label, capitalised."""
    label = "auto" if name == AUTO else BACKENDS[name].label
    return label[:1].upper() + label[1:]


# From docs/evals.md (make eval, temperature 0); update with the evaluation.
_LOCAL_NOTE = (
    "Offline base model, 81% of the evaluation at temperature 0: counts from 1 and stops at the number asked, "
    "goes on with a count in the next turn, writes short paragraphs and poems, remembers a name or a city you "
    "told it; gets 5 in 12 simple facts wrong (a spider's legs, the Red Planet), may miss a short follow-up "
    '("And of France?"), and cannot call tools.'
)


def render_sidebar(settings: Settings, home: StreamlitPage | str) -> PageContext:
    with st.sidebar:
        render_menu(home)
        st.divider()
        page_slot = st.container()
        st.header("Model")
        local_missing = local_unavailable_reason(settings)
        requested = st.radio(
            "Backend",
            BACKEND_CHOICES,
            index=BACKEND_CHOICES.index(settings.backend),
            format_func=lambda name: (
                backend_option(name) + (" (unavailable)" if name == "local" and local_missing else "")
            ),
            key="backend",
            help="Auto uses Gemini when an API key is set, otherwise the local Gemma model"
            + (f". Local is unavailable: {local_missing}." if local_missing else "."),
        )
        try:
            choice = resolve_backend(requested, settings)
            backend, note, ready = choice.name, choice.reason, True
            st.caption(f"Auto: {note}." if requested == "auto" else f"Model: {choice.label}.")
            if backend == "local":
                st.caption(_LOCAL_NOTE)
        except ConfigurationError as error:
            backend, note, ready = requested, str(error), False
            st.warning(note)
        if settings.gemini_configured:
            show_budget()
        mode = st.radio(
            "Streaming mode",
            ("sse", "none"),
            format_func=str.upper,
            horizontal=True,
            key="mode",
            help="SSE streams partial events as the model writes; NONE sends one final event.",
        )
        # One slider per backend, each starting at that backend's default (local Gemma: 0).
        start = default_temperature(backend, settings)
        temperature = st.slider("Temperature", 0.0, 2.0, start, 0.1, key=f"temperature_{backend}")
        max_tokens = st.number_input(
            "Max output tokens", 16, 8192, settings.max_output_tokens, 16, key="max_output_tokens"
        )
        reply = _scripted_knobs() if backend == "scripted" else demo_reply()
    context = PageContext(
        settings=settings,
        backend=backend,
        backend_note=note,
        backend_ready=ready,
        mode="none" if mode == "none" else "sse",
        temperature=float(temperature),
        max_output_tokens=int(max_tokens),
        reply=reply,
        sidebar_slot=page_slot,
    )
    st.session_state[CONTEXT_KEY] = context  # for tests and debugging: what this run used
    return context


def _scripted_knobs() -> ScriptedReply:
    default = demo_reply()
    with st.expander("Scripted model: pacing and faults", expanded=True):
        chunk_size = st.number_input("Characters per chunk", 1, 500, default.chunk_size, key="scripted_chunk_size")
        first_delay = st.number_input(
            "First chunk after (s)",
            0.0,
            10.0,
            default.first_chunk_delay,
            0.1,
            format="%.2f",
            key="scripted_first_delay",
        )
        chunk_delay = st.number_input(
            "Between chunks (s)", 0.0, 2.0, default.chunk_delay, 0.01, "%.3f", key="scripted_chunk_delay"
        )
        paragraphs = st.number_input("Answer length (paragraphs)", 1, 400, 1, key="scripted_paragraphs")
        fault = st.selectbox("Fault", tuple(FAULTS), format_func=FAULTS.__getitem__, key="scripted_fault")
    reply = demo_reply(
        paragraphs=int(paragraphs),
        chunk_size=int(chunk_size),
        first_chunk_delay=float(first_delay),
        chunk_delay=float(chunk_delay),
    )
    return with_fault(reply, fault)
