"""Keeps the base model out of loops: it may not repeat a run of tokens its own answer already holds.

llama.cpp's repeat penalty also punishes tokens of the prompt and every reuse of a digit or a
comma, so it breaks counting ("Count to 10" -> "1, 2, ..., 9."); this looks at the answer only,
and only at whole runs, which a count never repeats.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class NoRepeatRun:
    """A llama-cpp-python logits processor: forbids the token that would complete a second copy of
    any ``size``-token run in the answer (the tokens after the first ``prompt_tokens``)."""

    def __init__(self, prompt_tokens: int, size: int) -> None:
        if size < 2:
            raise ValueError(f"size must be at least 2 tokens, got {size}")
        self.prompt_tokens = prompt_tokens
        self.size = size

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
