"""The evaluation's graders on good and bad answers (the answers below are real local-model answers
from docs/evals.md where they illustrate a failure), case selection and the report's sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.cases import CASES, CATEGORIES, SMOKE
from evals.graders import (
    Answer,
    counts,
    hygiene_problems,
    length_between,
    long_on_topic,
    mentions_any,
    short,
    streamed,
    varied,
)
from evals.report import write_section
from evals.runner import UnknownCase, select


def answer(text: str, prompt: str = "Tell me something", chunks: int = 5) -> Answer:
    return Answer(prompt, text, chunks)


@pytest.mark.parametrize(
    "text", ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10.", "Sure: 1 2 3 4 5 6 7 8 9 10!"]
)
def test_counts_accepts_every_number_in_order(text: str) -> None:
    assert counts(1, 10)(answer(text)) == []


@pytest.mark.parametrize(
    "text",
    ["10", "1, 2, 3", "10, 9, 8, 7, 6, 5, 4, 3, 2, 1", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11", "one, two", ""],
)
def test_counts_rejects_missing_extra_or_reordered_numbers(text: str) -> None:
    assert counts(1, 10)(answer(text))


def test_mentions_any_matches_whole_words_case_insensitively() -> None:
    grade = mentions_any("Rome")
    assert grade(answer("The capital of Italy is rome.")) == []
    assert grade(answer("Romeo went home.")) != []
    assert mentions_any("carbon dioxide", "CO2")(answer("Plants take in CO2.")) == []


def test_short_rejects_an_essay_for_a_fact() -> None:
    assert short(300)(answer("Paris.")) == []
    assert short(300)(answer("Paris. " * 60)) != []


def test_long_on_topic_needs_length_and_topic_words() -> None:
    grade = long_on_topic(("mass", "force", "object", "earth"))
    good = (
        "Gravity is the force of attraction between two objects. The more mass an object has, the greater "
        "its gravitational pull on another object."
    )
    assert grade(answer(good)) == []
    [too_short] = grade(answer("Gravity is the force of attraction between two objects."))
    assert "characters" in too_short
    off_topic = grade(answer("Bananas are yellow fruit that grow in bunches on large plants in warm places. " * 2))
    assert len(off_topic) == 1 and "off topic" in off_topic[0]


def test_streamed_needs_more_than_one_chunk() -> None:
    assert streamed(2)(answer("text", chunks=2)) == []
    assert streamed(2)(answer("text", chunks=1)) != []


def test_varied_flags_a_looping_poem_and_passes_a_real_one() -> None:
    poem = "Stone shoulders rise above the pines,\nsnow gathers where the sky begins;\nthe valley sleeps in light."
    assert varied()(answer(poem)) == []
    assert varied()(answer("The moon is a beautiful thing. " * 10)) != []


def test_length_between_bounds_both_ends() -> None:
    assert length_between(5, 10)(answer("abcdefg")) == []
    assert length_between(5, 10)(answer("abc")) and length_between(5, 10)(answer("a" * 11))


def test_hygiene_passes_a_clean_answer() -> None:
    assert hygiene_problems(answer("The capital of Japan is Tokyo.", "What is the capital of Japan?")) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("Tokyo\nA: Tokyo", "frame marker"),
        ("Paris.\nQuestion: And Italy?", "frame marker"),
        ("Sure<end_of_turn>", "frame marker"),
        ("I am a moon.\nI am a moon.\nI am a moon.", "line repeated 3"),
        ("It is my friend. It is my friend. It is my friend.", "sentence repeated 3"),
        ("What is the capital of Japan? Tokyo.", "echoes"),
    ],
)
def test_hygiene_flags_empty_leaks_loops_and_echoes(text: str, problem: str) -> None:
    problems = hygiene_problems(answer(text, "What is the capital of Japan?"))
    assert any(problem in p for p in problems), problems


def test_hygiene_allows_restating_a_short_request_inside_the_answer() -> None:
    assert hygiene_problems(answer("Here I count to 10: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10.", "Count to 10")) == []


def test_cases_cover_every_category_with_unique_names_and_the_tutorial_prompts_verbatim() -> None:
    assert {case.category for case in CASES} == set(CATEGORIES)
    assert len({case.name for case in CASES}) == len(CASES) >= 40
    prompts = {case.turns for case in CASES}
    assert ("Count to 10",) in prompts and ("Explain machine learning in detail",) in prompts
    assert set(SMOKE) <= {case.name for case in CASES}


def test_select_by_name_or_category_and_unknown_names_are_named() -> None:
    assert [c.name for c in select(CASES, ["tutorial-count"])] == ["tutorial-count"]
    assert {c.category for c in select(CASES, ["memory"])} == {"memory"}
    with pytest.raises(UnknownCase, match="no-such-case"):
        select(CASES, ["memory", "no-such-case"])


def test_write_section_replaces_only_its_own_section(tmp_path: Path) -> None:
    page = tmp_path / "evals.md"
    page.write_text("# Title\n\nIntro.\n")
    write_section(page, "latest", "## Latest\nfirst")
    write_section(page, "baseline", "## Baseline\nold")
    write_section(page, "latest", "## Latest\nsecond")

    text = page.read_text()
    assert text.startswith("# Title\n\nIntro.\n")
    assert "second" in text and "first" not in text and "old" in text
    assert text.index("## Latest") < text.index("## Baseline")
