"""A smoke subset of the evaluation (evals/cases.py SMOKE) on the real local model, through the
real Assistant, at temperature 0; `make eval` runs the whole set and writes docs/evals.md."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed: pip install -r requirements.txt")

from evals.__main__ import MAX_OUTPUT_TOKENS
from evals.cases import CASES, SMOKE, Case
from evals.runner import run_case, select
from streaming_core.runtime import AssistantConfig, build_assistant
from streaming_core.settings import load_settings

pytestmark = pytest.mark.local_model

CONFIG = AssistantConfig(backend="local", temperature=0.0, max_output_tokens=MAX_OUTPUT_TOKENS, persistent=False)


@pytest.mark.parametrize("case", select(CASES, SMOKE), ids=lambda case: case.name)
async def test_smoke_case_passes_on_local_gemma(case: Case) -> None:
    result = await run_case(build_assistant(CONFIG, load_settings()), case)

    answers = " | ".join(answer.text for answer in result.answers)
    assert result.passed, f"{'; '.join(result.problems + result.hygiene)}: {answers!r}"
