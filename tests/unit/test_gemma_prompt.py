"""How a conversation becomes text for the base Gemma model, and the answer's repetition guard."""

from __future__ import annotations

import numpy as np
import pytest

from streaming_core.backends.gemma_prompt import BARE, DEFAULT_FRAME, PromptFrame, render_chat
from streaming_core.backends.repetition import NoCopyRun, NoCopyStart, NoCountPastBound, NoOpeningWord, NoRepeatRun

TURNS = [("user", "What is the capital of France?"), ("model", "Paris."), ("user", "And of Italy?")]


def test_bare_frame_renders_the_transcript_used_before_issue_16() -> None:
    prompt = BARE.render("Answer briefly.", TURNS)

    assert prompt == (
        "You are a helpful assistant.\n\nAnswer briefly.\n\nQ: What is the capital of France?\nA: Paris."
        "\n\nQ: And of Italy?\nA:"
    )


def test_frame_puts_examples_before_the_conversation_and_ends_on_the_answer_marker() -> None:
    frame = PromptFrame(name="t", preamble="Preamble.", examples=(("user", "Q1"), ("model", "A1")))

    prompt = frame.render("", TURNS[:1])

    assert prompt == "Preamble.\n\nQ: Q1\nA: A1\n\nQ: What is the capital of France?\nA:"


def test_frame_leaves_out_the_instruction_when_told_and_uses_its_own_markers() -> None:
    frame = PromptFrame(name="t", preamble="P.", with_instruction=False, user="User:", model="Assistant:")

    assert frame.render("Be terse.", TURNS[:1]) == "P.\n\nUser: What is the capital of France?\nAssistant:"


@pytest.mark.parametrize(
    ("answers", "earlier", "expected"),
    [
        # What the person said, and only the last exchange as Q/A.
        (
            False,
            [("user", "My name is Ada."), ("model", "I am a student.")],
            "P.\n\nEarlier in this conversation the person said:\n- My name is Ada.\n- What is the capital of "
            "France?\n\nQ: What is the capital of France?\nA: Paris.\n\nQ: And of Italy?\nA:",
        ),
        # Each message with its answer, and no exchange as Q/A.
        (
            True,
            [("user", "Count to 3."), ("model", "1, 2, 3.")],
            "P.\n\nEarlier in this conversation the person said:\n- Count to 3. (answered: 1, 2, 3.)"
            "\n- What is the capital of France? (answered: Paris.)\n\nQ: And of Italy?\nA:",
        ),
    ],
)
def test_recap_renders_earlier_turns(answers: bool, earlier: list[tuple[str, str]], expected: str) -> None:
    frame = PromptFrame(name="t", preamble="P.", recap=True, recap_answers=answers)
    assert frame.render("", [*earlier, *TURNS]) == expected


def test_recap_with_answers_keeps_an_answer_that_opens_the_window() -> None:
    frame = PromptFrame(name="t", preamble="P.", recap=True, recap_answers=True)

    prompt = frame.render("", [("model", "Hello."), ("user", "Hi.")])

    assert prompt == "P.\n\nEarlier in this conversation the person said:\n- (answered: Hello.)\n\nQ: Hi.\nA:"


def test_recap_leaves_a_first_question_as_it_is() -> None:
    frame = PromptFrame(name="t", preamble="P.", recap=True)

    assert frame.render("", TURNS[:1]) == PromptFrame(name="t", preamble="P.").render("", TURNS[:1])


def test_default_frame_stops_at_a_new_question_or_answer_and_its_examples_alternate() -> None:
    assert {"\nQ:", "\nA:"} <= set(DEFAULT_FRAME.stops)
    roles = [role for role, _ in DEFAULT_FRAME.examples]
    assert roles == ["user", "model"] * (len(roles) // 2) and roles


def test_chat_rendering_opens_the_first_user_turn_with_the_instruction() -> None:
    assert render_chat("Be terse.", TURNS[:1]) == (
        "<start_of_turn>user\nBe terse.\n\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"
    )


def scores() -> np.ndarray:
    return np.zeros(10, dtype=np.single)


def test_no_repeat_run_forbids_the_token_that_would_repeat_a_run_of_the_answer() -> None:
    guard = NoRepeatRun(prompt_tokens=2, size=3)
    # prompt 9 9 | answer 1 2 3 1 2: writing 3 now would repeat the run "1 2 3"
    result = guard(np.array([9, 9, 1, 2, 3, 1, 2], dtype=np.intc), scores())

    assert result[3] == -np.inf
    assert np.isfinite(np.delete(result, 3)).all()


def test_no_repeat_run_ignores_the_prompt_and_new_runs() -> None:
    guard = NoRepeatRun(prompt_tokens=3, size=3)

    # "1 2 3" occurs in the prompt only; a count never repeats a run.
    assert np.isfinite(guard(np.array([1, 2, 3, 1, 2], dtype=np.intc), scores())).all()
    assert np.isfinite(guard(np.array([0, 0, 0, 1, 2, 3, 4, 5], dtype=np.intc), scores())).all()


def test_no_repeat_run_needs_runs_of_at_least_two_tokens() -> None:
    with pytest.raises(ValueError, match="size"):
        NoRepeatRun(prompt_tokens=0, size=1)


def test_no_copy_run_forbids_the_token_that_would_complete_a_run_of_the_message() -> None:
    guard = NoCopyRun(prompt_tokens=2, source=[5, 6, 7, 8], size=3)
    # prompt 9 9 | answer 1 6 7: writing 8 now would copy the message's run "6 7 8"
    result = guard(np.array([9, 9, 1, 6, 7], dtype=np.intc), scores())

    assert result[8] == -np.inf
    assert np.isfinite(np.delete(result, 8)).all()


def test_no_copy_run_allows_shorter_quotes_and_runs_reaching_into_the_prompt() -> None:
    guard = NoCopyRun(prompt_tokens=2, source=[5, 6, 7, 8], size=3)

    # "6 7" quoted is shorter than a run; "7 8" after a prompt ending in 6 is not a copy by the answer.
    assert np.isfinite(guard(np.array([9, 9, 1, 2, 7], dtype=np.intc), scores())).all()
    assert np.isfinite(guard(np.array([9, 6, 7], dtype=np.intc), scores())).all()


def test_no_copy_run_forbids_every_continuation_the_message_has() -> None:
    guard = NoCopyRun(prompt_tokens=0, source=[1, 2, 3, 4, 1, 2, 5], size=3)

    result = guard(np.array([1, 2], dtype=np.intc), scores())

    assert result[3] == result[5] == -np.inf
    assert np.isfinite(np.delete(result, [3, 5])).all()


def test_no_copy_run_needs_runs_of_at_least_two_tokens() -> None:
    with pytest.raises(ValueError, match="size"):
        NoCopyRun(prompt_tokens=0, source=[1, 2], size=1)


def test_no_copy_start_forbids_opening_the_answer_with_the_message() -> None:
    guard = NoCopyStart(prompt_tokens=2, source=[5, 6, 7, 8], size=3)
    # prompt 9 9 | answer 5 6: writing 7 now would open the answer with the message's first 3 tokens
    result = guard(np.array([9, 9, 5, 6], dtype=np.intc), scores())

    assert result[7] == -np.inf
    assert np.isfinite(np.delete(result, 7)).all()


def test_no_copy_start_leaves_the_message_free_later_in_the_answer() -> None:
    guard = NoCopyStart(prompt_tokens=2, source=[5, 6, 7, 8], size=3)

    # "5 6 7" after an opening token is a quote, not an echo (NoCopyRun's business for long runs).
    assert np.isfinite(guard(np.array([9, 9, 1, 5, 6], dtype=np.intc), scores())).all()


def test_no_copy_start_leaves_messages_shorter_than_its_size_alone() -> None:
    guard = NoCopyStart(prompt_tokens=0, source=[5, 6], size=3)

    assert np.isfinite(guard(np.array([5, 6], dtype=np.intc), scores())).all()


def test_no_opening_word_forbids_the_messages_words_as_the_first_token() -> None:
    guard = NoOpeningWord(prompt_tokens=2, words=[5, 7, 5])

    result = guard(np.array([9, 9], dtype=np.intc), scores())

    assert result[5] == result[7] == -np.inf
    assert np.isfinite(np.delete(result, [5, 7])).all()


def test_no_opening_word_leaves_the_words_free_after_the_first_token() -> None:
    guard = NoOpeningWord(prompt_tokens=2, words=[5, 7])

    # "The capital of Italy is Rome.": the thing asked about, named after the opening.
    assert np.isfinite(guard(np.array([9, 9, 1], dtype=np.intc), scores())).all()


# Token ids 0-9 stand for the digits, 10 for the comma, 11 for the space, 12 for any other token.
SYMBOLS = {**{digit: str(digit) for digit in range(10)}, 10: ",", 11: " "}


def count_scores() -> np.ndarray:
    return np.zeros(13, dtype=np.single)


def test_no_count_past_bound_ends_a_count_that_reached_the_bound() -> None:
    guard = NoCountPastBound(prompt_tokens=1, bound=7, symbols=SYMBOLS)
    # prompt 12 | answer "6, 7"
    result = guard(np.array([12, 6, 10, 11, 7], dtype=np.intc), count_scores())

    assert (result[:11] == -np.inf).all()  # no digit, no comma
    assert np.isfinite(result[11:]).all()  # a space, or anything else, such as a full stop


def test_no_count_past_bound_leaves_a_count_below_the_bound_or_a_number_not_counted_up_to_it() -> None:
    guard = NoCountPastBound(prompt_tokens=0, bound=12, symbols=SYMBOLS)

    # "10, 1" may still become 11 and 12; "1" may become 12; "5, 12" did not count up to 12.
    for answer in ([1, 0, 10, 11, 1], [1], [5, 10, 11, 1, 2]):
        assert np.isfinite(guard(np.array(answer, dtype=np.intc), count_scores())).all()


def test_no_count_past_bound_leaves_answers_that_are_not_bare_counts() -> None:
    guard = NoCountPastBound(prompt_tokens=0, bound=2, symbols=SYMBOLS)

    # "<word> 1, 2": a sentence that holds numbers is not a count to close.
    assert np.isfinite(guard(np.array([12, 11, 1, 10, 11, 2], dtype=np.intc), count_scores())).all()
