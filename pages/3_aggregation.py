"""Aggregation: collect every chunk, then show the whole text, the chunk table and a check."""

import ui
from streaming_core.normalize import EventNormalizer
from streaming_core.patterns import aggregate

context = ui.setup_page(
    "Aggregation",
    "The tutorial's aggregation pattern: gather every chunk (a live counter shows them arrive), then "
    "show the complete text, each chunk's size and arrival time, and check the joined chunks against "
    "the final aggregated event ADK sends at the end.",
)
message = ui.prompt_form("aggregation", "Count to 20, one number per word.", context.settings.max_message_chars)
if message:
    result, outcome = ui.collect_with_status(message, context.config(coalesce=False), mode=context.mode)
    ui.show_aggregation(result, outcome)

ui.show_source(
    aggregate,
    EventNormalizer.confirm_final,
    adk_note=(
        "The tutorial concatenates the text of every event, which in SSE mode includes ADK's final "
        "event: the result holds the answer twice. Here only partial deltas are joined and ADK's final "
        "event is used to check them (`Done.matches_final`)."
    ),
)
