"""The streaming tutorial's two test prompts offline: no API key, so `auto` picks local Gemma,
through the SSE API as `make api` serves it, at the local backend's own default temperature (0: at
0.7 the base model counts right for only some seeds, docs/evals.md)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed: pip install -r requirements.txt")

from evals.graders import Answer, counts, hygiene_problems
from streaming_core.api.limits import ApiLimits
from streaming_core.runtime import AssistantConfig
from streaming_core.settings import Settings
from streaming_core.testing.servers import ApiServer
from streaming_core.testing.sse import read_sse
from streaming_core.tools import DEMO_TOOLS

pytestmark = pytest.mark.local_model

# create_app's own default (auto backend, the API's tools, the settings' temperature and token limit),
# with sessions in memory instead of the repository's SQLite file.
OFFLINE = AssistantConfig(backend="auto", tools=DEMO_TOOLS, persistent=False)
ROOMY = ApiLimits(max_streams_per_client=10, rate_per_minute=100, ping_s=0)


@pytest.fixture(scope="module")
def api() -> Iterator[ApiServer]:
    settings = Settings()  # no key configured: auto resolves to local Gemma
    with ApiServer(OFFLINE, settings, ROOMY) as server:
        yield server


async def ask(api: ApiServer, query: str) -> tuple[Answer, str]:
    async with httpx.AsyncClient(timeout=120) as client:
        reply = await read_sse(client, "GET", f"{api.url}/chat/stream", params={"query": query})
    assert reply.status_code == 200
    chunks = len([e for e in reply.events if e.event == "message" and e.data != "[DONE]"])
    [done] = reply.named("done")
    return Answer(query, reply.text, chunks), done["status"]


async def test_count_to_10_answers_every_number_from_one_to_ten(api: ApiServer) -> None:
    answer, status = await ask(api, "Count to 10")

    assert status == "completed"
    assert counts(1, 10)(answer) == [], answer.text
    assert hygiene_problems(answer) == []


async def test_explain_machine_learning_streams_a_long_answer(api: ApiServer) -> None:
    answer, status = await ask(api, "Explain machine learning in detail")

    assert status == "completed"
    assert answer.chunks > 1 and len(answer.text) > 100, answer.text
    assert "learn" in answer.text.lower()
    assert hygiene_problems(answer) == []
