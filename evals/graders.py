"""Graders: pure functions from an answer to the reasons it fails (none when it passes).

Category graders judge what was asked (numbers, a fact, an explanation, a short piece of writing);
`hygiene_problems` judges what every answer must avoid whatever was asked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    """One turn's answer as the stream delivered it."""

    prompt: str
    text: str
    chunks: int


Grader = Callable[[Answer], list[str]]

# A transcript marker at the start of a line: the prompt frame leaking into the answer.
_FRAME_MARKER = re.compile(
    r"(?im)^\s*(?:Q|A|Question|Answer|User|Assistant|Model)\s*:|<start_of_turn>|<end_of_turn>|<eos>|<bos>"
)
_WORD = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"[.!?\n]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _mentions(text: str, word: str) -> bool:
    """Whole-word (or whole-phrase) match, case-insensitive; "ocean" also matches "oceans"."""
    return re.search(rf"(?i)\b{re.escape(word)}(?:e?s)?\b", text) is not None


def hygiene_problems(answer: Answer) -> list[str]:
    """What no answer may do: be empty, leak the frame, loop, or echo the question."""
    text = answer.text.strip()
    if not text:
        return ["empty answer"]
    problems = []
    if marker := _FRAME_MARKER.search(text):
        problems.append(f"leaked frame marker {marker.group(0).strip()!r}")
    lines = Counter(line.strip().lower() for line in text.splitlines() if line.strip())
    # A loop inside one line shows as the same sentence (of three words or more) three times.
    sentences = Counter(s for s in (" ".join(_words(p)) for p in _SENTENCE_END.split(text)) if s.count(" ") >= 2)
    if lines and (top := lines.most_common(1)[0])[1] >= 3:
        problems.append(f"line repeated {top[1]} times: {top[0][:60]!r}")
    elif sentences and (top := sentences.most_common(1)[0])[1] >= 3:
        problems.append(f"sentence repeated {top[1]} times: {top[0][:60]!r}")
    prompt = " ".join(_words(answer.prompt))
    said = " ".join(_words(text))
    # Short prompts ("Count to 10") may fairly be restated inside an answer; an answer that opens
    # with the question, or quotes a long one, is echoing it.
    if prompt and (said.startswith(prompt) or (len(prompt.split()) >= 6 and prompt in said)):
        problems.append("echoes the question")
    return problems


def counts(start: int, end: int) -> Grader:
    """Every whole number from start to end, in order, and no other number."""

    def grade(answer: Answer) -> list[str]:
        numbers = [int(n) for n in re.findall(r"\d+", answer.text)]
        expected = list(range(start, end + 1))
        if numbers == expected:
            return []
        return [f"expected the numbers {start} to {end}, got {numbers[:30]}"]

    return grade


def mentions_any(*words: str) -> Grader:
    """At least one of `words` (the right answer, in any of its usual spellings)."""

    def grade(answer: Answer) -> list[str]:
        return [] if any(_mentions(answer.text, w) for w in words) else [f"does not mention any of {list(words)}"]

    return grade


def short(max_chars: int = 300) -> Grader:
    """A short fact is short: a sentence or two, not an essay that buries it."""

    def grade(answer: Answer) -> list[str]:
        n = len(answer.text.strip())
        return [] if n <= max_chars else [f"{n} characters for a short answer (limit {max_chars})"]

    return grade


def long_on_topic(topic_words: Sequence[str], *, min_chars: int = 100, min_topic_words: int = 2) -> Grader:
    """An explanation: over `min_chars` characters, using at least `min_topic_words` of the topic's words."""

    def grade(answer: Answer) -> list[str]:
        problems = []
        if (n := len(answer.text.strip())) <= min_chars:
            problems.append(f"{n} characters, expected over {min_chars}")
        used = [w for w in topic_words if _mentions(answer.text, w)]
        if len(used) < min_topic_words:
            problems.append(f"off topic: uses {used} of {list(topic_words)}, expected {min_topic_words}")
        return problems

    return grade


def streamed(min_chunks: int = 2) -> Grader:
    """Arrived in pieces, not all at once."""

    def grade(answer: Answer) -> list[str]:
        return [] if answer.chunks >= min_chunks else [f"{answer.chunks} chunk(s), expected {min_chunks} or more"]

    return grade


def varied(min_distinct: float = 0.8) -> Grader:
    """Creative text without loops: most of its word trigrams occur once."""

    def grade(answer: Answer) -> list[str]:
        words = _words(answer.text)
        trigrams = list(zip(words, words[1:], words[2:], strict=False))
        if len(trigrams) < 5:
            return []
        ratio = len(set(trigrams)) / len(trigrams)
        return [] if ratio >= min_distinct else [f"repetitive: {ratio:.0%} distinct word trigrams"]

    return grade


def length_between(min_chars: int, max_chars: int) -> Grader:
    def grade(answer: Answer) -> list[str]:
        n = len(answer.text.strip())
        return [] if min_chars <= n <= max_chars else [f"{n} characters, expected {min_chars} to {max_chars}"]

    return grade


def all_of(*graders: Grader) -> Grader:
    def grade(answer: Answer) -> list[str]:
        return [problem for grader in graders for problem in grader(answer)]

    return grade
