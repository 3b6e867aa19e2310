"""What `make run` shows with no API key: the streaming pages answering from the packaged local
Gemma 3 270M (greedy decoding, short answers). The errors page is left out: its faults are
injected through the scripted model whatever the backend."""

from __future__ import annotations

import pytest

from evals.graders import Answer, Grader, all_of, counts, hygiene_problems, length_between, streamed
from tests.app.apptest import Page

pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed: pip install -r requirements.txt")

pytestmark = pytest.mark.local_model

QUESTION = "What is the capital of France?"
FORM_PAGES = [
    "pages/1_basic_streaming.py",
    "pages/3_aggregation.py",
    "pages/4_progress.py",
    "pages/5_multi_output.py",
    "pages/6_timeout.py",
]


def local_page(path: str) -> Page:
    page = Page(path)
    page.at.sidebar.radio(key="backend").set_value("auto").run()  # no key: auto picks local Gemma
    page.at.sidebar.number_input(key="max_output_tokens").set_value(32).run()
    return page


@pytest.mark.parametrize("path", FORM_PAGES)
def test_page_streams_an_answer_from_local_gemma(path: str) -> None:
    page = local_page(path)

    page.submit(QUESTION)

    assert not page.at.exception and not page.at.error
    assert page.config().backend == "local"
    assert page.markdown_containing("Paris")


def test_tools_page_on_local_gemma_answers_without_tools() -> None:
    page = local_page("pages/7_tools.py")
    page.at.toggle[0].set_value(False).run()  # off: the selected backend instead of the scripted caller

    page.submit(QUESTION)

    assert not page.at.exception and not page.at.error
    assert page.markdown_containing("Paris")
    assert any("answered without calling a tool" in caption.value for caption in page.at.caption)


def test_chat_remembers_the_first_turn_on_local_gemma() -> None:
    page = local_page("pages/2_chat.py")

    page.at.chat_input[0].set_value(QUESTION).run()
    page.at.chat_input[0].set_value("Repeat the name of that city.").run()

    assert not page.at.exception and not page.at.error
    messages = [message.markdown[0].value for message in page.at.chat_message if message.markdown]
    assert messages[:2][0] == QUESTION and "Paris" in messages[1] and len(messages) == 4


@pytest.mark.parametrize(
    ("prompt", "check"),
    [
        ("Count to 10", counts(1, 10)),
        ("Explain machine learning in detail", all_of(length_between(101, 100_000), streamed(2))),
    ],
    ids=["count", "explain"],
)
def test_chat_page_passes_the_tutorials_tests_offline(prompt: str, check: Grader) -> None:
    """Issue 16: no key, auto backend, the sidebar's default temperature (local Gemma's own: 0)."""
    page = local_page("pages/2_chat.py")
    page.at.sidebar.number_input(key="max_output_tokens").set_value(512).run()

    page.at.chat_input[0].set_value(prompt).run()

    assert not page.at.exception and not page.at.error
    assert page.config().backend == "local" and page.config().temperature == 0.0
    [user, assistant] = [message.markdown[0].value for message in page.at.chat_message]
    [chunks] = [int(metric.value.replace(",", "")) for metric in page.at.metric if metric.label == "Chunks"]
    answer = Answer(user, assistant, chunks)
    assert check(answer) == [] and hygiene_problems(answer) == [], answer
