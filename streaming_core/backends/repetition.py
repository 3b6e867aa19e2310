"""Keeps the base model out of loops and from parroting: it may not repeat a run of tokens its own
answer already holds, nor copy a long run of the person's latest message or open with its first
words or with any word of it, nor count on past the last number the message names.

llama.cpp's repeat penalty also punishes tokens of the prompt and every reuse of a digit or a
comma, so it breaks counting ("Count to 10" -> "1, 2, ..., 9."); these look only at whole runs,
which a count never repeats and a short quoted name or word is too short to be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt


def _check_size(size: int) -> int:
    if size < 2:
        raise ValueError(f"size must be at least 2 tokens, got {size}")
    return size


class NoRepeatRun:
    """A llama-cpp-python logits processor: forbids the token that would complete a second copy of
    any ``size``-token run in the answer (the tokens after the first ``prompt_tokens``)."""

    def __init__(self, prompt_tokens: int, size: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.size = _check_size(size)

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        answer = input_ids[self.prompt_tokens :].tolist()
        lead = self.size - 1
        if len(answer) < self.size:
            return scores
        tail = answer[-lead:]
        for start in range(len(answer) - lead):
            if answer[start : start + lead] == tail:
                scores[answer[start + lead]] = -np.inf
        return scores


class NoCopyRun:
    """A llama-cpp-python logits processor: forbids the token that would complete, in the answer
    (the tokens after the first ``prompt_tokens``), a copy of any ``size``-token run of ``source``
    (the person's latest message): no_repeat_ngram against the question, so the answer cannot
    echo it back while names and short phrases from it stay free to use."""

    def __init__(self, prompt_tokens: int, source: Sequence[int], size: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.lead = _check_size(size) - 1
        # Each (size - 1)-token run of the source -> the tokens that follow it there.
        self.next_tokens: dict[tuple[int, ...], list[int]] = {}
        for start in range(len(source) - self.lead):
            self.next_tokens.setdefault(tuple(source[start : start + self.lead]), []).append(source[start + self.lead])

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        if len(input_ids) - self.prompt_tokens < self.lead:
            return scores
        if banned := self.next_tokens.get(tuple(input_ids[len(input_ids) - self.lead :].tolist())):
            scores[banned] = -np.inf
        return scores


class NoCopyStart:
    """A llama-cpp-python logits processor: forbids the answer (the tokens after the first
    ``prompt_tokens``) from opening with the first ``size`` tokens of ``source`` (the person's
    latest message). A short statement is shorter than any run NoCopyRun could catch ("My
    favourite food is pizza." said straight back), but an answer that opens with the message's
    words is an echo at any length; a message of fewer than ``size`` tokens is left alone."""

    def __init__(self, prompt_tokens: int, source: Sequence[int], size: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.opening = list(source[: _check_size(size)]) if len(source) >= size else []

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        lead = len(self.opening) - 1
        if self.opening and input_ids[self.prompt_tokens :].tolist() == self.opening[:lead]:
            scores[self.opening[lead]] = -np.inf
        return scores


class NoOpeningWord:
    """A llama-cpp-python logits processor: forbids the answer's first token (the one after the
    first ``prompt_tokens``) from being any of ``words``, the tokens that start a word of the
    person's latest message. Opening with the question's own noun is where the base model's echo
    starts ("What is the capital of Spain?" -> "Spain is the capital of Spain.", "And of Italy?"
    -> "Italy."); an answer that names the thing asked about later ("The capital of Italy is
    Rome.") stays free."""

    def __init__(self, prompt_tokens: int, words: Sequence[int]) -> None:
        self.prompt_tokens = prompt_tokens
        self.words = sorted(set(words))

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        if self.words and len(input_ids) == self.prompt_tokens:
            scores[self.words] = -np.inf
        return scores


class NoCountPastBound:
    """A llama-cpp-python logits processor: once the answer (the tokens after the first
    ``prompt_tokens``) is a list of numbers that went up by one to ``bound`` (the last number in
    the person's message), no digit or comma may follow (a space may, but no digit after it), so
    the list ends there.

    The model writes every number itself; this only closes a list it has already taken to the
    bound (the base model otherwise runs on: "Count to 7." -> 1, ..., 7, 8, 9, ...). ``symbols``
    maps the token ids of the ten digits, the comma and the space to their text; an answer holding
    any other token is not a bare count and is left alone.
    """

    def __init__(self, prompt_tokens: int, bound: int, symbols: Mapping[int, str]) -> None:
        self.prompt_tokens = prompt_tokens
        self.bound = bound
        self.symbols = dict(symbols)
        self.banned = [token for token, symbol in self.symbols.items() if symbol != " "]

    def __call__(self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        text = []
        for token in input_ids[self.prompt_tokens :].tolist():
            if (symbol := self.symbols.get(token)) is None:
                return scores
            text.append(symbol)
        written = "".join(text)
        numbers = [int(n) for n in re.findall(r"\d+", written)]
        if len(numbers) >= 2 and numbers[-1] == self.bound and numbers[-2] == self.bound - 1:
            scores[self.banned] = -np.inf
        return scores
