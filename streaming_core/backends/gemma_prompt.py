"""How a conversation becomes text for Gemma: a few-shot Q/A transcript for the base model,
Gemma's turn markers for an instruction-tuned GGUF; and where the base model's answer ends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from google.genai import types

Turn = tuple[str, str]  # (role: "user" | "model", text)


@dataclass(frozen=True, slots=True)
class PromptFrame:
    """The transcript the base (pt) model continues. It has no chat template: Gemma's turn markers
    make it loop, a Q/A transcript gets answers; examples show it what a good answer looks like."""

    name: str
    preamble: str
    examples: tuple[Turn, ...] = ()
    # Ends an answer: the base model goes on to write the next question, or a blank line.
    stops: tuple[str, ...] = ("\n\n", "\nQ:")
    repeat_penalty: float = 1.0  # llama.cpp's, over the last 64 tokens; 1.0 is off
    no_repeat_run: int = 0  # tokens in a run the answer may not repeat (repetition.NoRepeatRun); 0 is off
    # Tokens in a run of the person's latest message the answer may not copy (repetition.NoCopyRun); 0 is off.
    no_copy_run: int = 0
    # The answer may not open with this many tokens of the person's latest message (repetition.NoCopyStart); 0 is off.
    no_copy_start: int = 0
    # Nor open with any word of it (repetition.NoOpeningWord): "Spain is the capital of Spain.", "Italy.".
    no_opening_word: bool = False
    # A count that reached the last number of the person's message ends there (repetition.NoCountPastBound).
    count_bound: bool = False
    with_instruction: bool = True  # the agent's instruction after the preamble
    # Earlier turns as a recap of what the person said, then only the last exchange as Q/A: the
    # model's own earlier answers ("My name is Ada." -> "I am a student.") otherwise outweigh them.
    recap: bool = False
    # With the recap, each earlier message carries the answer it got and no exchange stays as Q/A:
    # shown as Q/A, "Count to 3." / "1, 2, 3." was followed by a count from 1 again.
    recap_answers: bool = False
    user: str = "Q:"
    model: str = "A:"

    def render(self, system: str, turns: Sequence[Turn]) -> str:
        head = [self.preamble, system.strip() if self.with_instruction else ""]
        earlier, current = list(turns[:-1]), list(turns[-1:])
        recap = ""
        if self.recap and earlier:
            recap = "\n\nEarlier in this conversation the person said:\n" + "\n".join(self._recap_items(earlier))
            earlier = [] if self.recap_answers else earlier[-2:]
        return (
            "\n\n".join(filter(None, head))
            + self._transcript(self.examples)
            + recap
            + self._transcript([*earlier, *current])
            + f"\n{self.model}"
        )

    def _recap_items(self, turns: Sequence[Turn]) -> list[str]:
        items: list[str] = []
        for role, text in turns:
            if role == "user":
                items.append(f"- {text}")
            elif self.recap_answers:
                answered = f"(answered: {text})"
                items[-1:] = [f"{items[-1]} {answered}"] if items else [f"- {answered}"]
        return items

    def _transcript(self, turns: Sequence[Turn]) -> str:
        # A blank line before each question, as the base model writes transcripts itself.
        return "".join(
            f"\n\n{self.user} {text}" if role == "user" else f"\n{self.model} {text}" for role, text in turns
        )


# The prompt before issue 16, kept to reproduce its baseline in docs/evals.md.
BARE = PromptFrame(name="bare", preamble="You are a helpful assistant.")

# Examples whose topics the evaluation does not ask about (no numbers to count, no capitals), so
# what the model takes from them is the form: a sentence for a fact, every item of a sequence (from
# the start, and between two bounds), a paragraph for "explain". Measured in docs/evals.md: an
# example that counts numbers is copied (its length or its start), and so is a remembered detail.
EXAMPLES: tuple[Turn, ...] = (
    ("user", "Who wrote Romeo and Juliet?"),
    ("model", "William Shakespeare wrote Romeo and Juliet."),
    ("user", "List the letters up to F."),
    ("model", "A, B, C, D, E, F."),
    ("user", "List the letters from C to H."),
    ("model", "C, D, E, F, G, H."),
    ("user", "Explain how a bicycle works in detail"),
    (
        "model",
        "A bicycle turns the push of the rider's legs into forward motion. The pedals turn a crank and a "
        "toothed chainring, and the chain carries that motion to a smaller sprocket on the rear wheel, so "
        "each turn of the pedals turns the wheel several times. Gears change which sprocket the chain "
        "drives, making pedalling easier uphill or faster on the flat, and the brakes press pads against "
        "the wheel rims to slow down.",
    ),
)

FEW_SHOT = PromptFrame(
    name="few-shot",
    preamble=(
        "A conversation with a knowledgeable assistant. The assistant answers each question correctly and "
        "completely, without repeating itself. Asked to count to a number, it writes 1, 2, 3 and so on, up to "
        "that number, and stops there. Asked to explain, it writes a full paragraph."
    ),
    examples=EXAMPLES,
    # "\nA:" too: the base model otherwise answers again on the next line ("Tokyo\nA: Tokyo").
    stops=("\n\n", "\nQ:", "\nA:"),
    # Loops ("It is a beautiful thing. It is a beautiful thing.") are stopped by the run guard, not by
    # llama.cpp's repeat penalty, which also punishes digits the question holds ("Count to 10" -> "1, ..., 9").
    no_repeat_run=4,
    # The answer may not copy 6 tokens of the message in a row: without it "My name is Tom and I live
    # in Berlin." got itself back; names and short phrases stay free (4 lost a fact, 8 did as 6).
    no_copy_run=6,
    # Nor open with the message's first 4 tokens: a short statement ("My favourite food is pizza.")
    # is too short for that run and was said straight back (3 did as 4 in docs/evals.md).
    no_copy_start=4,
    # Nor with any word of it: "And of Italy?" got "Italy." and now "The capital of Italy is Rome."
    # (33/42 -> 34/42, held out unchanged, in docs/evals.md).
    no_opening_word=True,
    count_bound=True,
    recap=True,
    recap_answers=True,
)

DEFAULT_FRAME = FEW_SHOT


def render_chat(system: str, turns: Sequence[Turn]) -> str:
    """Gemma chat turns for an instruction-tuned GGUF; the system text opens the first user turn
    (Gemma has no system role)."""
    window = list(turns)
    if system.strip():
        if window and window[0][0] == "user":
            window[0] = ("user", f"{system.strip()}\n\n{window[0][1]}")
        else:
            window.insert(0, ("user", system.strip()))
    body = "".join(f"<start_of_turn>{role}\n{text}<end_of_turn>\n" for role, text in window)
    return body + "<start_of_turn>model\n"


def instruction_text(value: object) -> str:
    """The agent's system instruction as plain text, whatever shape ADK hands it in."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, types.Content):
        return instruction_text(value.parts or [])
    if isinstance(value, types.Part):
        return value.text or ""
    if isinstance(value, Sequence):
        return "\n".join(filter(None, (instruction_text(item) for item in value)))
    return str(value)


def _part_text(part: types.Part) -> str | None:
    if part.thought:
        return None  # another model's scratchpad is not conversation
    if part.text:
        return part.text
    if (call := part.function_call) is not None:
        return f"(called tool `{call.name}` with {json.dumps(call.args or {}, default=str)})"
    if (result := part.function_response) is not None:
        return f"Tool `{result.name}` returned: {json.dumps(result.response, default=str)}"
    return None  # images, files, code: the 270M model reads text only


def conversation_turns(contents: Sequence[types.Content]) -> list[Turn]:
    """Text turns from ADK contents; same-role neighbours merge so roles alternate."""
    turns: list[Turn] = []
    for content in contents:
        role = "model" if content.role == "model" else "user"
        text = "\n".join(filter(None, (_part_text(p) for p in content.parts or []))).strip()
        if not text:
            continue
        if turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]}\n\n{text}")
        else:
            turns.append((role, text))
    return turns
