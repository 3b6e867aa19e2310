"""Builds the ADK LlmAgent every surface uses: the Streamlit pages, the SSE API and `adk web`."""

from __future__ import annotations

from collections.abc import Sequence

from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.genai import types

from streaming_core.tools import TOOLS

AGENT_NAME = "streaming_assistant"
INSTRUCTION = (
    "You are a helpful assistant in a demo of streaming answers. Answer clearly and concisely. "
    "When a tool can answer the question, call it and use its result."
)


def build_agent(
    model: BaseLlm,
    *,
    tools: Sequence[str] = (),
    temperature: float | None = None,
    max_output_tokens: int | None = None,
    instruction: str = INSTRUCTION,
) -> LlmAgent:
    return LlmAgent(
        name=AGENT_NAME,
        model=model,
        instruction=instruction,
        tools=[TOOLS[name] for name in tools],
        generate_content_config=types.GenerateContentConfig(
            temperature=temperature, max_output_tokens=max_output_tokens
        ),
    )
