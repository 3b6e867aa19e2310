"""The evaluation set: prompts (one or more turns) in five categories, each with its grader.

The first two are the streaming tutorial's own test prompts, verbatim. The local backend's few-shot
examples must not overlap these prompts, or the evaluation would grade its own answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from evals.graders import Grader, all_of, counts, length_between, long_on_topic, mentions_any, short, streamed, varied

CATEGORIES = ("counting", "facts", "explain", "creative", "memory")


@dataclass(frozen=True, slots=True)
class Case:
    """One conversation; `grade` judges the last answer, hygiene judges every answer."""

    name: str
    category: str
    turns: tuple[str, ...]
    grade: Grader


def _one(name: str, category: str, prompt: str, grade: Grader) -> Case:
    return Case(name, category, (prompt,), grade)


def _fact(name: str, prompt: str, *answers: str) -> Case:
    return _one(name, "facts", prompt, all_of(mentions_any(*answers), short()))


def _explain(name: str, topic: str, words: str) -> Case:
    """`words`: comma-separated words an on-topic explanation uses."""
    topic_words = tuple(word.strip() for word in words.split(","))
    return _one(name, "explain", f"Explain {topic} in detail", all_of(long_on_topic(topic_words), varied()))


def _write(name: str, prompt: str, *words: str, max_chars: int = 1200) -> Case:
    return _one(name, "creative", prompt, all_of(length_between(40, max_chars), mentions_any(*words), varied()))


def _recall(name: str, turns: tuple[str, ...], *answers: str) -> Case:
    return Case(name, "memory", turns, mentions_any(*answers))


CASES: tuple[Case, ...] = (
    _one("tutorial-count", "counting", "Count to 10", counts(1, 10)),
    _one(
        "tutorial-explain",
        "explain",
        "Explain machine learning in detail",
        all_of(
            streamed(2),
            long_on_topic(("data", "learn", "model", "algorithm", "pattern", "prediction", "computer", "training")),
            varied(),
        ),
    ),
    # counting
    _one("count-5", "counting", "Count to 5", counts(1, 5)),
    _one("count-7", "counting", "Count to 7.", counts(1, 7)),
    _one("count-20", "counting", "Count to 20", counts(1, 20)),
    _one("count-1-15", "counting", "Count from 1 to 15.", counts(1, 15)),
    _one("count-3-9", "counting", "Count from 3 to 9.", counts(3, 9)),
    _one("count-10-20", "counting", "Count from 10 to 20.", counts(10, 20)),
    _one("count-5-12", "counting", "Count from 5 to 12", counts(5, 12)),
    # short facts
    _fact("capital-france", "What is the capital of France?", "Paris"),
    _fact("capital-japan", "What is the capital of Japan?", "Tokyo"),
    _fact("capital-italy", "What is the capital of Italy?", "Rome"),
    _fact("capital-germany", "What is the capital of Germany?", "Berlin"),
    _fact("capital-spain", "What is the capital of Spain?", "Madrid"),
    _fact("capital-uk", "What is the capital of the United Kingdom?", "London"),
    _fact("water-symbol", "What is the chemical formula of water?", "H2O", "H₂O"),
    _fact("spider-legs", "How many legs does a spider have?", "8", "eight"),
    _fact("red-planet", "Which planet is known as the Red Planet?", "Mars"),
    _fact("plants-gas", "What gas do plants absorb from the air?", "carbon dioxide", "CO2"),
    _fact("week-days", "How many days are there in a week?", "7", "seven"),
    _fact("largest-ocean", "What is the largest ocean on Earth?", "Pacific"),
    # explanations
    _explain("explain-photosynthesis", "photosynthesis", "light, plant, energy, carbon dioxide, oxygen, sugar"),
    _explain("explain-gravity", "gravity", "mass, force, object, earth, attract, pull, fall"),
    _explain("explain-water-cycle", "the water cycle", "evaporation, condensation, precipitation, rain, cloud, vapor"),
    _explain("explain-internet", "how the internet works", "computer, network, data, server, protocol, connect"),
    _explain("explain-vaccines", "how vaccines work", "immune, virus, body, antibodies, disease, infection, cells"),
    _explain("explain-climate", "climate change", "temperature, greenhouse, carbon, warming, emission, gas, climate"),
    _explain("explain-computer", "how a computer works", "processor, memory, data, program, cpu, software"),
    # short creative writing
    _write("poem-sea", "Write a short poem about the sea.", "sea", "ocean", "wave", "tide", "shore"),
    _write("haiku-autumn", "Write a haiku about autumn.", "autumn", "leaf", "leaves", "fall", "wind", max_chars=300),
    _write("story-dragon", "Write a two-sentence story about a dragon.", "dragon"),
    _write("poem-moon", "Write a short poem about the moon.", "moon", "night", "light", "sky", "stars"),
    _write("story-cat", "Write a short story about a lost cat.", "cat", "kitten"),
    _write("describe-sunset", "Describe a sunset in a few sentences.", "sun", "sky", "orange", "red", "light"),
    # multi-turn memory, through ADK sessions
    _recall("recall-name", ("My name is Ada.", "What is my name?"), "Ada"),
    _recall("recall-city", ("My name is Tom and I live in Berlin.", "Where do I live?"), "Berlin"),
    _recall("recall-colour", ("My favourite colour is green.", "What is my favourite colour?"), "green"),
    _recall("recall-pet", ("I have a dog called Rex.", "What is my dog called?"), "Rex"),
    Case(
        "recall-question",
        "memory",
        ("What is the capital of France?", "What question did I just ask you?"),
        all_of(mentions_any("capital"), mentions_any("France")),
    ),
    _recall("follow-up", ("What is the capital of Japan?", "And of Italy?"), "Rome"),
    Case("continue-count", "memory", ("Count to 3.", "Now continue from 4 to 6."), counts(4, 6)),
    _recall(
        "continue-list",
        ("Name the first three days of the week.", "What are the next two days?"),
        "Thursday",
    ),
)

SMOKE = ("tutorial-count", "tutorial-explain", "capital-japan", "recall-question")

# Prompts not in CASES, graded alike, to check that a frame tuned on CASES did not just learn them
# (`python -m evals.experiments --held-out`); never used to choose a frame.
HELD_OUT: tuple[Case, ...] = (
    _one("h-count-12", "counting", "Count to 12.", counts(1, 12)),
    _one("h-count-1-10", "counting", "Count from 1 to 10.", counts(1, 10)),
    _one("h-count-4", "counting", "Count to 4", counts(1, 4)),
    _one("h-count-6-11", "counting", "Count from 6 to 11.", counts(6, 11)),
    _one("h-count-15", "counting", "Count to 15", counts(1, 15)),
    _one("h-count-20-25", "counting", "Count from 20 to 25", counts(20, 25)),
    _fact("h-capital-canada", "What is the capital of Canada?", "Ottawa"),
    _fact("h-capital-egypt", "What is the capital of Egypt?", "Cairo"),
    _fact("h-capital-russia", "What is the capital of Russia?", "Moscow"),
    _fact("h-fingers", "How many fingers are there on one hand?", "5", "five"),
    _fact("h-closest-star", "What is the closest star to the Earth?", "Sun"),
    _fact("h-boiling", "At what temperature in Celsius does water boil?", "100"),
    _fact("h-largest-planet", "What is the largest planet in the solar system?", "Jupiter"),
    _explain("h-explain-rainbow", "how a rainbow forms", "light, rain, water, droplet, colour, color, sun, refract"),
    _explain("h-explain-heart", "how the heart works", "blood, pump, body, oxygen, vein, artery, muscle"),
    _explain("h-explain-electricity", "electricity", "electron, current, charge, energy, wire, voltage, power"),
    _explain("h-explain-volcano", "how volcanoes erupt", "magma, lava, pressure, rock, gas, earth, crust"),
    _write("h-poem-rain", "Write a short poem about rain.", "rain", "drop", "cloud", "storm", "water"),
    _write("h-story-robot", "Write a short story about a robot.", "robot"),
    _write("h-describe-forest", "Describe a forest in a few sentences.", "tree", "forest", "leaves", "green"),
    _recall("h-recall-name", ("Hello, I am Maria.", "What is my name?"), "Maria"),
    _recall("h-recall-job", ("I work as a teacher.", "What is my job?"), "teacher"),
    _recall("h-follow-up", ("What is the capital of Germany?", "And of France?"), "Paris"),
    _recall("h-recall-food", ("My favourite food is pizza.", "What is my favourite food?"), "pizza"),
)
